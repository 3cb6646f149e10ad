"""`jax-iso reconstruct --method=vemdiffuse_a|vemdiffuse_i`: fitted (tiny config, a few steps) and sampled onto
the section grid, with the uncertainty and flags; a real FIB-SEM crop."""
import numpy as np
import pytest

from jax_iso import io, jobs
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.samples import FIBSEM_10NM


@pytest.fixture(scope="module")
def volumes(tmp_path_factory):
  d = tmp_path_factory.mktemp("vem")
  vol = io.read_volume(FIBSEM_10NM)[0][:64, :48, :48]
  io.write_volume(d / "iso.tif", vol, (10.0, 10.0, 10.0))
  jobs.simulate(str(d / "iso.tif"), str(d / "x2.5.tif"), factor=2.5)
  return d


@pytest.mark.slow
def test_vemdiffuse_a_fits_on_the_input_and_samples_the_section_grid(volumes, tmp_path):
  out = jobs.reconstruct(str(volumes / "x2.5.tif"), str(tmp_path / "iso.tif"), method="vemdiffuse_a", train_steps=2,
                         variant="tiny", uncertainty=str(tmp_path / "std.tif"), flags=str(tmp_path / "flags.tif"),
                         samples=2, sample_steps=2, show_progress=False)
  n_sec = io.read_volume(volumes / "x2.5.tif")[0].shape[0]
  assert out["output_shape"] == [grid.fine_count(n_sec, 2.5), 48, 48] and out["fit"]["steps"] == 2
  assert out["strategy"]["samples"] == 2 and out["strategy"]["steps"] == 2 and out["strategy"]["noise"] == "sections"
  iso, spacing = io.read_volume(tmp_path / "iso.tif")
  std, _ = io.read_volume(tmp_path / "std.tif")
  flags, _ = io.read_volume(tmp_path / "flags.tif")
  assert iso.shape == std.shape == flags.shape and iso.dtype == np.uint8 and std.dtype == np.float32
  assert spacing == pytest.approx((10.0, 10.0, 10.0))      # 25 nm sections / 2.5
  assert np.array_equal(flags > 0, std > 0.12) and std.min() >= 0.0
  assert not (tmp_path / "iso.tif.fit").exists() and len(list(tmp_path.iterdir())) == 3   # the fit was removed


@pytest.mark.slow
@pytest.mark.long
def test_vemdiffuse_i_learns_on_the_isotropic_volume(volumes, tmp_path):
  out = jobs.reconstruct(str(volumes / "x2.5.tif"), str(tmp_path / "iso.tif"), method="vemdiffuse_i", train_steps=2,
                         variant="tiny", train_iso=str(volumes / "iso.tif"), workdir=str(tmp_path / "run"),
                         samples=1, sample_steps=2, show_progress=False)
  import json  # pylint: disable=g-import-not-at-top
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["data"]["path"] == str(volumes / "iso.tif") and saved["resolved"]["factor"] == 2.5
  assert out["output_shape"][1:] == [48, 48] and out["strategy"]["samples"] == 1


def test_train_iso_is_checked_before_any_work(volumes, tmp_path):
  aniso, iso = str(volumes / "x2.5.tif"), str(volumes / "iso.tif")
  with pytest.raises(UserError, match="pass train_iso=ISO"):
    jobs.reconstruct(aniso, str(tmp_path / "o.tif"), method="vemdiffuse_i")
  with pytest.raises(UserError, match="drop train_iso="):
    jobs.reconstruct(aniso, str(tmp_path / "o.tif"), method="vemdiffuse_a", train_iso=iso)
  with pytest.raises(UserError, match="is anisotropic"):
    jobs.reconstruct(aniso, str(tmp_path / "o.tif"), method="vemdiffuse_i", train_iso=aniso)
  io.write_volume(tmp_path / "iso16.tif", io.read_volume(iso)[0].astype(np.uint16) * 256, (10.0, 10.0, 10.0))
  with pytest.raises(UserError, match="is uint16 but .* is uint8"):
    jobs.reconstruct(aniso, str(tmp_path / "o.tif"), method="vemdiffuse_i", train_iso=str(tmp_path / "iso16.tif"))
  with pytest.raises(UserError, match="samples=4 is not available for method=a2i"):
    jobs.reconstruct(aniso, str(tmp_path / "o.tif"), method="a2i", samples=4)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["iso16.tif"]
