"""simulate -> reconstruct -> evaluate on the real EM sample shipped in the package."""
import json
import pathlib

import numpy as np
import pytest

from jax_iso import io, jobs
from jax_iso.io import slabs
from jax_iso.samples import FIBSEM_10NM


@pytest.fixture(scope="module")
def sample():
  return io.read_volume(FIBSEM_10NM)


@pytest.fixture(scope="module")
def x4(tmp_path_factory):
  """The shipped sample with x4 sections, and its cubic and linear reconstructions."""
  d = tmp_path_factory.mktemp("x4")
  paths = {"aniso": d / "aniso.tif", "cubic": d / "cubic.tif", "linear": d / "linear.tif"}
  jobs.simulate(FIBSEM_10NM, paths["aniso"], factor=4)
  for method in ("cubic", "linear"):
    jobs.reconstruct(paths["aniso"], paths[method], method=method)
  return paths


def _psnr(a, b):
  mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
  return 10 * np.log10(1 / mse)


def test_simulate_writes_sections_with_their_spacing(sample, x4):
  vol, spacing = sample
  aniso, aniso_spacing = io.read_volume(x4["aniso"])
  assert spacing == (10.0, 10.0, 10.0) and aniso_spacing == (40.0, 10.0, 10.0)
  want = vol.reshape(40, 4, 160, 160).astype(np.float64).mean(1)
  assert aniso.dtype == np.uint8 and aniso.shape == (40, 160, 160)
  assert np.abs(aniso - want).max() <= 0.5 + 1e-3           # box sections, rounded back to uint8


def test_reconstruct_puts_slices_on_the_fine_grid(sample, x4):
  aniso, _ = io.read_volume(x4["aniso"])
  lin, lin_spacing = io.read_volume(x4["linear"])
  assert lin.shape == (160, 160, 160) and lin_spacing == (10.0, 10.0, 10.0)
  centres = (np.arange(40) + 0.5) * 4 - 0.5                   # section k's centre on the fine grid
  want = np.apply_along_axis(lambda col: np.interp(np.arange(160), centres, col), 0, aniso.astype(np.float64))
  assert np.abs(lin - want).max() <= 0.5 + 1e-3


def test_cubic_beats_linear_on_real_em(sample, x4):
  vol, _ = sample
  cubic, linear = io.read_volume(x4["cubic"])[0], io.read_volume(x4["linear"])[0]
  assert _psnr(cubic, vol) > _psnr(linear, vol) + 0.3
  assert _psnr(linear, vol) > 25


@pytest.mark.slow
def test_evaluate_writes_metrics_and_pictures(sample, x4, tmp_path):
  vol, _ = sample
  out = jobs.evaluate(str(x4["cubic"]), str(FIBSEM_10NM), report_dir=str(tmp_path / "rep"))
  saved = json.loads((tmp_path / "rep" / "metrics.json").read_text())
  assert saved["psnr"] == pytest.approx(_psnr(io.read_volume(x4["cubic"])[0], vol), abs=1e-4)
  assert saved["psnr"] == out["psnr"] and saved["ref"] == str(FIBSEM_10NM)
  for name in ("orthoslices.png", "fsc.png"):
    assert (tmp_path / "rep" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  res = out["resolution_nm"]
  assert res["z"] > 2 * res["x"]                              # 40 nm sections: Z resolution clearly worse
  assert 40 <= res["z"] <= 120
  assert not [p for p in (tmp_path / "rep").iterdir() if p.name.startswith(".")]


def test_default_report_dir_is_beside_the_prediction(x4):
  out = jobs.evaluate(str(x4["linear"]), str(FIBSEM_10NM))
  assert pathlib.Path(out["report_dir"]) == x4["linear"].with_name("linear_report")
  assert (x4["linear"].with_name("linear_report") / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("factor, n_sec, n_out", [pytest.param(3.0, 53, 159, marks=pytest.mark.long), (2.5, 64, 160)])
def test_non_dividing_and_fractional_factors(tmp_path, factor, n_sec, n_out):
  aniso, rec = tmp_path / "a.tif", tmp_path / "r.ome.zarr"
  assert jobs.simulate(FIBSEM_10NM, aniso, factor=factor)["output_shape"] == [n_sec, 160, 160]
  out = jobs.reconstruct(aniso, rec, method="cubic")
  assert out["factor"] == factor and out["output_shape"] == [n_out, 160, 160]
  with io.open_volume(rec) as src:
    assert src.shape == (n_out, 160, 160) and src.spacing == pytest.approx((10.0, 10.0, 10.0))
  result = jobs.evaluate(str(rec), str(FIBSEM_10NM), report_dir=str(tmp_path / "rep"))
  assert result["shape"] == [n_out, 160, 160]
  assert bool(result["notes"]) == (n_out < 160)
  assert result["psnr"] > 26


def test_spacing_flag_supplies_a_missing_voxel_size(tmp_path):
  vol = io.read_volume(FIBSEM_10NM)[0][:40]
  bare = tmp_path / "bare.tif"
  io.write_volume(bare, vol, None)
  out = jobs.reconstruct(bare, tmp_path / "r.tif", spacing=(40.0, 10.0, 10.0))
  assert out["factor"] == 4.0 and io.read_volume(tmp_path / "r.tif")[1] == (10.0, 10.0, 10.0)
  out = jobs.reconstruct(bare, tmp_path / "r2.tif", factor=2.5)
  assert out["output_shape"][0] == 100 and io.read_volume(tmp_path / "r2.tif")[1] is None


def test_noise_is_seeded_and_independent_of_slabs(tmp_path, monkeypatch):
  a, b, c = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "c.tif"
  jobs.simulate(FIBSEM_10NM, a, factor=4, noise=0.05, seed=1)
  monkeypatch.setattr(slabs, "auto_slab", lambda *args, **kwargs: 7)      # 23 slabs instead of one
  jobs.simulate(FIBSEM_10NM, b, factor=4, noise=0.05, seed=1)
  jobs.simulate(FIBSEM_10NM, c, factor=4, noise=0.05, seed=2)
  va, vb, vc = (io.read_volume(p)[0] for p in (a, b, c))
  np.testing.assert_array_equal(va, vb)
  assert np.mean(va != vc) > 0.5
  clean = io.read_volume(FIBSEM_10NM)[0].reshape(40, 4, 160, 160).mean(1) / 255
  assert np.std(va / 255 - clean) == pytest.approx(0.05, rel=0.1)


def test_gaussian_profile_is_smoother_than_box(tmp_path):
  jobs.simulate(FIBSEM_10NM, tmp_path / "b.tif", factor=4, profile="box")
  jobs.simulate(FIBSEM_10NM, tmp_path / "g.tif", factor=4, profile="gaussian")
  box, gauss = io.read_volume(tmp_path / "b.tif")[0], io.read_volume(tmp_path / "g.tif")[0]
  assert box.shape == gauss.shape
  assert np.std(np.diff(gauss.astype(float), axis=0)) < np.std(np.diff(box.astype(float), axis=0))


@pytest.mark.slow
def test_reference_free_evaluation_sees_real_sstem_anisotropy(sstem_aniso, tmp_path):
  out = jobs.evaluate(str(sstem_aniso), None, report_dir=str(tmp_path / "rep"))
  res = out["resolution_nm"]
  assert res["z"] >= 100 and res["x"] < 30                   # Z cannot beat 2 x 50 nm sections
  assert (tmp_path / "rep" / "spectrum.png").exists()


@pytest.mark.slow
def test_reference_free_evaluation_of_a_real_cubic_reconstruction(sstem_aniso, tmp_path):
  """Cubic interpolation of real 50 nm sections: the spectral Z resolution is no finer than the sections,
  where the odd/even self-FSC (kept in metrics.json, labelled) reports a finer value."""
  recon = tmp_path / "cubic.tif"
  jobs.reconstruct(str(sstem_aniso), str(recon), method="cubic")
  out = jobs.evaluate(str(recon), None, report_dir=str(tmp_path / "rep"))
  assert out["section_factor"] == 12.5                          # read from the reconstruction's metadata
  assert out["resolution_nm"]["z"] >= 45 and out["resolution_nm"]["x"] < 15
  assert out["self_fsc"]["resolution_nm"]["z"] < 0.6 * out["resolution_nm"]["z"]


@pytest.mark.slow
def test_demo_runs_and_ranks_methods(tmp_path):
  out = jobs.demo(str(tmp_path / "demo"), methods=("linear", "cubic"))
  assert set(out["results"]) == {"linear", "cubic"} and out["best"] == "cubic" and out["baseline"] == "cubic"
  assert out["gain_db"] == 0.0
  assert out["results"]["cubic"]["psnr"] - out["results"]["linear"]["psnr"] > 0.3
  assert "cubic" in out["table"] and "PSNR" in out["table"]
  for report in out["reports"].values():
    assert (pathlib.Path(report) / "orthoslices.png").exists()


@pytest.mark.slow
def test_demo_fits_the_learned_method_and_rerun_resumes(tmp_path):
  kw = {"methods": ("cubic", "unet"), "train_steps": 2, "variant": "tiny", "show_progress": False}
  out = jobs.demo(str(tmp_path / "demo"), **kw)
  run = out["runs"]["unet"]
  assert run["fit"]["steps"] == 2 and run["variant"] == "tiny" and run["output_shape"] == [160, 160, 160]
  assert pathlib.Path(run["workdir"], "loss.png").exists()
  assert (pathlib.Path(out["reports"]["unet"]) / "fsc.png").exists()
  psnr = {m: r["psnr"] for m, r in out["results"].items()}
  # 2 steps leave the residual U-Net near the identity on its cubic input: within 1 dB of cubic (a wrong grid,
  # intensity scale or orientation would be many dB away)
  assert abs(psnr["unet"] - psnr["cubic"]) < 1.0 and out["gain_db"] == max(psnr.values()) - psnr["cubic"]
  again = jobs.demo(str(tmp_path / "demo"), **kw)           # the finished run is reused, not retrained
  assert again["results"]["unet"]["psnr"] == psnr["unet"]


@pytest.mark.slow
@pytest.mark.long
def test_reconstruct_with_a2i_fits_on_the_input_and_writes_the_isotropic_grid(tmp_path):
  aniso = tmp_path / "x4.tif"
  jobs.simulate(str(FIBSEM_10NM), str(aniso), factor=4.0)
  out = jobs.reconstruct(str(aniso), str(tmp_path / "iso.tif"), method="a2i", train_steps=2, variant="tiny",
                         workdir=str(tmp_path / "run"), show_progress=False)
  assert out["method"] == "a2i" and out["fit"]["steps"] == 2 and out["output_shape"] == [160, 160, 160]
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["model"]["name"] == "a2i" and saved["pdl"]["weight"] == 0.01
  psnr = jobs.evaluate(str(tmp_path / "iso.tif"), str(FIBSEM_10NM))["psnr"]
  jobs.reconstruct(str(aniso), str(tmp_path / "cubic.tif"), method="cubic")
  cubic = jobs.evaluate(str(tmp_path / "cubic.tif"), str(FIBSEM_10NM))["psnr"]
  # A2I-3DEM adds its output to its cubic input: 2 steps stay within 1.5 dB of cubic on the same volume (the
  # fine grid, the orientations and the intensity scale all have to be right for that)
  assert abs(psnr - cubic) < 1.5, (psnr, cubic)
