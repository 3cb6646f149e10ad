"""`jax-iso denoise` and `jax-iso superres` end to end on real FIB-SEM crops (tiny configs), and their bad inputs:
one line, exit code 2, nothing written."""
import numpy as np
import pytest

from jax_iso import io, jobs, pretrained
from jax_iso.cli.main import main
from jax_iso.data.upsampled import UpsampledVolume
from jax_iso.errors import UserError
from jax_iso.jobs.section_tasks import parse_noise
from jax_iso.samples import FIBSEM_10NM

SIGMA = 0.08


pytestmark = pytest.mark.slow   # end to end: fixtures that train models


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
  """A registered noisy/clean pair (8 x 64 x 64 uint8 crops of the shipped real FIB-SEM) and a 2x coarser copy."""
  folder = tmp_path_factory.mktemp("restore")
  vol, _ = io.read_volume(FIBSEM_10NM)
  clean = np.asarray(vol[:8, :64, :64])
  noisy = np.clip(clean / 255.0 + np.random.default_rng(0).normal(0, SIGMA, clean.shape), 0, 1)
  files = {"clean": folder / "clean.tif", "noisy": folder / "noisy.tif", "lr": folder / "lr.tif",
           "folder": folder}
  io.write_volume(files["clean"], clean, (10.0, 10.0, 10.0))
  io.write_volume(files["noisy"], np.round(noisy * 255).astype(np.uint8), (10.0, 10.0, 10.0))
  lr = clean.reshape(8, 32, 2, 32, 2).mean(axis=(2, 4))
  io.write_volume(files["lr"], np.round(lr).astype(np.uint8), (10.0, 20.0, 20.0))
  return files


@pytest.fixture(scope="module")
def denoised(pair):
  """A tiny EMDiffuse-n trained on the registered pair (kept), and the noisy volume denoised with 3 samples."""
  f = pair["folder"]
  out = jobs.denoise(str(pair["noisy"]), str(f / "den.tif"), train_noisy=str(pair["noisy"]),
                     train_clean=str(pair["clean"]), variant="tiny", workdir=str(f / "run_n"),
                     samples=3, uncertainty=str(f / "den_std.tif"), flags=str(f / "den_flags.tif"),
                     report=str(f / "den.png"), show_progress=False)
  return out


@pytest.mark.slow
def test_denoise_writes_mean_uncertainty_and_flags(pair, denoised):
  f = pair["folder"]
  mean, spacing = io.read_volume(f / "den.tif")
  std, std_spacing = io.read_volume(f / "den_std.tif")
  flags, _ = io.read_volume(f / "den_flags.tif")
  assert mean.shape == std.shape == flags.shape == (8, 64, 64)
  assert mean.dtype == np.uint8 and std.dtype == np.float32 and flags.dtype == np.uint8
  assert spacing == std_spacing == (10.0, 10.0, 10.0)
  assert std.min() >= 0 and np.isfinite(std).all()
  # the flags are exactly the voxels whose uncertainty exceeds the threshold
  np.testing.assert_array_equal(flags, np.where(std > 0.12, 255, 0).astype(np.uint8))
  s = denoised["strategy"]
  assert s["samples"] == 3 and s["flagged_fraction"] == pytest.approx((std > 0.12).mean(), abs=1e-9)
  assert denoised["fit"]["steps"] == 4 and (f / "den.png").stat().st_size > 10_000


def test_same_model_same_seed_same_volume(pair, denoised):
  """Sampling is a function of the model, the seed and the voxel: a second run from the kept workdir (through
  the CLI) writes the same volume, and without --uncertainty the mean is still that of the 3 samples."""
  f = pair["folder"]
  assert main(["jax-iso", "denoise", f"--input={pair['noisy']}", f"--output={f / 'again.tif'}",
               f"--model={f / 'run_n'}", "--samples=3"]) == 0
  np.testing.assert_array_equal(io.read_volume(f / "again.tif")[0], io.read_volume(f / "den.tif")[0])


@pytest.mark.slow
def test_superres_doubles_the_lateral_grid(pair):
  f = pair["folder"]
  out = jobs.superres(str(pair["lr"]), str(f / "sr.tif"), train_hr=str(pair["clean"]), variant="tiny",
                      samples=2, show_progress=False)
  got, spacing = io.read_volume(f / "sr.tif")
  assert got.shape == (8, 64, 64) and spacing == (10.0, 10.0, 10.0)
  assert out["input_shape"] == [8, 32, 32] and out["strategy"]["samples"] == 2


@pytest.mark.slow
@pytest.mark.long
def test_registered_superres_pairs_train(pair):
  """--train_lr with --train_hr: the low-resolution volume is read on the fine grid (cubic) beside the other."""
  f = pair["folder"]
  out = jobs.superres(str(pair["lr"]), str(f / "sr_reg.tif"), train_lr=str(pair["lr"]), train_hr=str(pair["clean"]),
                      variant="tiny", samples=1, show_progress=False)
  assert out["fit"]["steps"] == 4 and io.read_volume(f / "sr_reg.tif")[0].shape == (8, 64, 64)


def test_upsampled_volume_is_the_cubic_of_the_section_grid():
  """UpsampledVolume (inference's condition) against an independent Keys-cubic resampling in numpy."""
  rng = np.random.default_rng(1)
  lr = rng.random((2, 7, 9)).astype(np.float32)

  def keys(t, a=-0.5):
    t = np.abs(t)
    return np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                    np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))

  def up(x, axis):
    n = x.shape[axis]
    q = (np.arange(2 * n) + 0.5) / 2 - 0.5                # fine pixel k at fine index k of the section grid
    w = keys(q[:, None] - np.arange(n)[None, :])          # [2n, n] with clamped edges
    w_clamped = np.zeros_like(w)
    for i in range(2 * n):
      for j in range(int(np.floor(q[i])) - 1, int(np.floor(q[i])) + 3):
        w_clamped[i, min(max(j, 0), n - 1)] += keys(q[i] - j)
    return np.moveaxis(np.tensordot(w_clamped, np.moveaxis(x, axis, 0), axes=(1, 0)), 0, axis)

  want = up(up(lr.astype(np.float64), 1), 2)
  view = UpsampledVolume(lr, 2)
  np.testing.assert_allclose(view[:], want, atol=1e-5)                     # float32 sums of 16 taps
  np.testing.assert_allclose(view[1, 3:11, 5:17], want[1, 3:11, 5:17], atol=1e-5)


@pytest.mark.parametrize("spec, words", [
    ("gaussian", "is not a noise model"), ("gaussian:x", "'x' is not a number"), ("speckle:0.1", "not a noise"),
    ("gaussian:0.1,0.2", "not a noise model"), ("poisson_gaussian:0", "dose must be > 0")])
def test_bad_noise_specs(spec, words):
  with pytest.raises(UserError, match=words):
    parse_noise(spec)


def test_noise_specs():
  g = parse_noise("gaussian:0.08")
  assert g.order == ("gaussian_noise",) and g.ops.gaussian_noise.sigma == (0.08, 0.08)
  p = parse_noise("poisson_gaussian:50,0.01")
  assert p.ops.poisson_gaussian_noise.dose == (50.0, 50.0) and p.ops.poisson_gaussian_noise.read_sigma == (0.01, 0.01)


def _bad(capsys, args, words, out):
  assert main(["jax-iso"] + args) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and words in err, err
  assert not out.exists()


def test_bad_inputs_are_one_line_and_write_nothing(pair, denoised, capsys, monkeypatch, tmp_path):
  f = pair["folder"]
  out = f / "bad.tif"
  base = [f"--input={pair['noisy']}", f"--output={out}"]
  # pairs of different shapes
  _bad(capsys, ["denoise"] + base + [f"--train_noisy={pair['lr']}", f"--train_clean={pair['clean']}",
                                     "--variant=tiny"], "a registered pair needs the same shape", out)
  _bad(capsys, ["superres", f"--input={pair['lr']}", f"--output={out}", f"--train_lr={pair['clean']}",
                f"--train_hr={pair['clean']}", "--variant=tiny"], "needs 2x its Y and X", out)
  # a model of another task
  _bad(capsys, ["superres", f"--input={pair['lr']}", f"--output={out}", f"--model={f / 'run_n'}"],
       "holds a emdiffuse_n model (denoise)", out)
  # K < 2 with --uncertainty (checked before any training)
  _bad(capsys, ["denoise"] + base + [f"--train_clean={pair['clean']}", "--noise=gaussian:0.1", "--samples=1",
                                     f"--uncertainty={f / 'u.tif'}"], "at least 2 samples", out)
  _bad(capsys, ["denoise"] + base + [f"--train_clean={pair['clean']}"], "alone is not a pair", out)
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path)          # no denoiser ships here: say what to give
  _bad(capsys, ["denoise"] + base, "denoise needs training data", out)
  monkeypatch.undo()
  _bad(capsys, ["denoise"] + base + [f"--model={f / 'run_n'}", "--sampler=euler"], "sampler='euler' is unknown", out)
  _bad(capsys, ["denoise"] + base + [f"--model={f / 'run_n'}", "--threshold=0"], "must be > 0", out)
  _bad(capsys, ["denoise"] + base + [f"--model={f / 'run_n'}", f"--uncertainty={out}"], "is also the output", out)
  _bad(capsys, ["denoise"] + base + [f"--model={f / 'run_n'}", "--train_steps=5"], "and none is given", out)
  _bad(capsys, ["denoise"] + base + [f"--train_clean={pair['clean']}", "--noise=gaussian:0.1", "--variant=huge"],
       "not a variant of emdiffuse_n", out)
  _bad(capsys, ["reconstruct"] + base + ["--method=emdiffuse_n"], "run it with `jax-iso denoise`", out)
  _bad(capsys, ["predict", f"--model={f / 'run_n'}"] + base, "run it with `jax-iso denoise --model=", out)
  assert not list(f.glob(".bad.tif*"))                                   # no temporary training folder left
