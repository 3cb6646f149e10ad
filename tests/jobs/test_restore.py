"""`jax-iso restore` end to end on real ssTEM sections (tiny config): damage found and repaired, clean sections
copied bit for bit, the masks written; a trained model reused for named sections and by `reconstruct
--restore`; a clean volume copied without training. (`--artifacts=missing`: the detector's own tests are
tests/infer/test_damage.py; 64 px crops are smaller than it is made for.)"""
import contextlib
from io import StringIO

import numpy as np
import pytest
import tifffile

from jax_iso import io, jobs
from jax_iso.cli.main import main
from jax_iso.jobs.restore import MASK_CODES
from shared_data import shared_file

SPACING = (50.0, 4.0, 4.0)


@pytest.fixture(scope="module")
def restored(tmp_path_factory):
  """10 real ISBI 2012 sections (64 x 64), section 4 lost (blank), restored by `jax-iso restore` (4 training
  steps, the run kept): (folder, clean, damaged, stderr of the run)."""
  folder = tmp_path_factory.mktemp("restore")
  clean = tifffile.imread(shared_file("isbi2012_sstem_train.tif"))[:10, 200:264, 200:264]
  damaged = clean.copy()
  damaged[4] = 0
  io.write_volume(folder / "clean.tif", clean, SPACING)
  io.write_volume(folder / "damaged.tif", damaged, SPACING)
  err = StringIO()
  with contextlib.redirect_stderr(err):
    code = main(["jax-iso", "restore", f"--input={folder / 'damaged.tif'}", f"--output={folder / 'fixed.tif'}",
                 f"--masks={folder / 'masks.tif'}", "--artifacts=missing", "--variant=tiny", "--train_steps=4",
                 f"--workdir={folder / 'run'}"])
  assert code == 0, err.getvalue()
  return folder, clean, damaged, err.getvalue()


def _psnr(a, b):
  mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
  return 10 * np.log10(255.0 ** 2 / mse)


@pytest.mark.slow
def test_restore_finds_repairs_and_copies(restored):
  folder, clean, damaged, err = restored
  assert "section 4: missing" in err and "9 of 10 sections found clean: copied unchanged" in err
  fixed, spacing = io.read_volume(folder / "fixed.tif")
  assert fixed.dtype == np.uint8 and tuple(spacing) == SPACING
  keep = [z for z in range(10) if z != 4]
  np.testing.assert_array_equal(fixed[keep], damaged[keep])                 # bit for bit
  # 4 training steps: the network is still close to its start, the neighbours' (blurred) mean inside the mask
  assert _psnr(fixed[4], clean[4]) > _psnr(damaged[4], clean[4]) + 8
  m = io.read_volume(folder / "masks.tif")[0]
  assert np.all(m[4] == MASK_CODES["missing"]) and not np.any(m[keep])


@pytest.mark.slow
def test_named_sections_with_a_trained_model_and_a_clean_volume(restored):
  folder, clean, _, _ = restored
  summary = jobs.restore(str(folder / "clean.tif"), str(folder / "copy.tif"), artifacts="missing",
                         show_progress=False)
  assert summary["damaged"] == [] and summary["copied"] == 10 and "fit" not in summary
  np.testing.assert_array_equal(io.read_volume(folder / "copy.tif")[0], clean)
  summary = jobs.restore(str(folder / "clean.tif"), str(folder / "named.tif"), sections="6", artifacts="missing",
                         model=str(folder / "run"), show_progress=False)
  assert [d["section"] for d in summary["damaged"]] == [6] and summary["damaged"][0]["kinds"] == ["named"]
  fixed = io.read_volume(folder / "named.tif")[0]
  others = np.arange(10) != 6
  np.testing.assert_array_equal(fixed[others], clean[others])
  assert not np.array_equal(fixed[6], clean[6])


@pytest.mark.slow   # its module fixture trains a model
def test_reconstruct_restores_first(restored):
  folder, _, _, _ = restored
  out = folder / "iso.tif"
  summary = jobs.reconstruct(str(folder / "damaged.tif"), str(out), method="linear",
                             restore={"artifacts": "missing", "model": str(folder / "run")}, show_progress=False)
  assert [d["section"] for d in summary["restore"]["damaged"]] == [4]
  iso = io.read_volume(out)[0]
  assert iso.shape == (round(10 * 12.5), 64, 64)
  assert iso[4 * 12 + 6].std() > 5                                        # section 4 is no longer blank there
  assert not [p for p in folder.iterdir() if p.name.startswith(".iso.tif")]   # the hidden restored file is gone
