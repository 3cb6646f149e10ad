"""OME-Zarr 0.4 and 0.5 written by jax_iso and read back by the `ome-zarr` library (and the other way round);
neuroglancer precomputed volumes read through tensorstore; `--dataset` and `--ome_version` on the command line."""
import os

import h5py
import numpy as np
import pytest
import tensorstore as ts

from jax_iso import io
from jax_iso.cli.main import main
from jax_iso.errors import UserError
from io_helpers import read_json  # tests/io/io_helpers.py

ome_zarr = pytest.importorskip("ome_zarr")
from ome_zarr.format import FormatV05  # pylint: disable=g-import-not-at-top,wrong-import-position
from ome_zarr.io import parse_url  # pylint: disable=g-import-not-at-top,wrong-import-position
from ome_zarr.reader import Reader  # pylint: disable=g-import-not-at-top,wrong-import-position
from ome_zarr.writer import write_image  # pylint: disable=g-import-not-at-top,wrong-import-position


def _volume(shape=(12, 140, 150)):
  return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def _read_with_ome_zarr(path):
  """(NGFF version, the levels as numpy arrays, the multiscale metadata) as the ome-zarr library reads them."""
  location = parse_url(str(path))
  node = list(Reader(location)())[0]
  return location.fmt.version, [np.asarray(level) for level in node.data], node.metadata


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_written_ome_zarr_reads_back_with_the_ome_zarr_library(tmp_path, version):
  vol = _volume()
  path = tmp_path / "out.ome.zarr"
  with io.ome_version(version):
    io.write_volume(path, vol, (40.0, 4.0, 4.0), description={"job": "test"})
  found, levels, meta = _read_with_ome_zarr(path)
  assert found == version
  np.testing.assert_array_equal(levels[0], vol)
  assert levels[1].shape == (12, 70, 75)                       # Y and X halved, Z (the coarse axis) kept
  np.testing.assert_allclose(levels[1], vol.reshape(12, 70, 2, 75, 2).mean(axis=(2, 4)), atol=0.5)
  assert meta["coordinateTransformations"][0] == [{"type": "scale", "scale": [40.0, 4.0, 4.0]}]
  assert [a["unit"] for a in meta["axes"]] == ["nanometer"] * 3
  if version == "0.5":
    group = read_json(path / "zarr.json")
    assert group["zarr_format"] == 3 and group["attributes"]["ome"]["version"] == "0.5"
    assert group["attributes"]["jax_iso"]["description"] == {"job": "test"}
    assert read_json(path / "0" / "zarr.json")["dimension_names"] == ["z", "y", "x"]
    assert not os.path.exists(path / ".zattrs")
  else:
    assert read_json(path / ".zattrs")["multiscales"][0]["version"] == "0.4"
  with io.open_volume(path) as src:                              # and by jax_iso itself
    assert src.spacing == (40.0, 4.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)


def test_default_is_0_4_and_a_bad_version_is_refused(tmp_path):
  with pytest.raises(UserError, match=r"ome_version=0.3 .*choose 0.4 .* or 0.5"):
    with io.ome_version("0.3"):
      pass
  vol = _volume((4, 8, 8))
  with io.ome_version("0.5"):
    with io.ome_version(None):                                    # None keeps what is set
      io.write_volume(tmp_path / "kept.ome.zarr", vol, None)
  io.write_volume(tmp_path / "default.ome.zarr", vol, None)
  assert read_json(tmp_path / "kept.ome.zarr" / "zarr.json")["attributes"]["ome"]["version"] == "0.5"
  assert read_json(tmp_path / "default.ome.zarr" / ".zattrs")["multiscales"][0]["version"] == "0.4"


def test_reads_ome_zarr_0_5_written_by_the_library(tmp_path):
  vol = _volume((8, 64, 64))
  path = tmp_path / "lib.ome.zarr"
  write_image(vol, str(path), scale_factors=[2], fmt=FormatV05(), axes="zyx",
              scale={"z": 0.05, "y": 0.008, "x": 0.008},
              axes_units={a: "micrometer" for a in "zyx"})
  assert read_json(path / "zarr.json")["attributes"]["ome"]["version"] == "0.5"
  with io.open_volume(path) as src:
    assert src.spacing == (50.0, 8.0, 8.0)
    np.testing.assert_array_equal(src.read(), vol)


def _precomputed(path, xyzc: np.ndarray, resolution=(4, 4, 40)):
  store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(path)},
                   "multiscale_metadata": {"type": "image", "data_type": xyzc.dtype.name,
                                           "num_channels": xyzc.shape[3]},
                   "scale_metadata": {"size": list(xyzc.shape[:3]), "resolution": list(resolution),
                                      "encoding": "raw", "chunk_size": [16, 16, 4]}}, create=True).result()
  store[...].write(xyzc).result()


def test_precomputed_volume_reads_as_zyx_with_its_resolution(tmp_path, vol):
  path = tmp_path / "em"
  _precomputed(path, vol.transpose(2, 1, 0)[..., None])
  with io.open_volume(path) as src:
    assert src.shape == vol.shape and src.spacing == (40.0, 4.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)
    np.testing.assert_array_equal(src[1:3, 2, ::-1], vol[1:3, 2, ::-1])
  with io.open_volume(path / "info") as src:                     # the info file names its folder
    assert src.shape == vol.shape


def test_precomputed_with_two_channels_needs_channel(tmp_path, vol):
  path = tmp_path / "two"
  xyz = vol.transpose(2, 1, 0)
  _precomputed(path, np.stack([xyz, xyz + 1], axis=-1))
  with pytest.raises(UserError, match="channel=N"):
    io.open_volume(path)
  with io.open_volume(path, channel=1) as src:
    np.testing.assert_array_equal(src.read(), vol + 1)


def test_cli_reads_an_hdf5_dataset_and_writes_ome_zarr_0_5(tmp_path):
  vol = _volume((16, 32, 32))
  h5 = tmp_path / "cremi.h5"
  with h5py.File(h5, "w") as f:
    f.create_dataset("volumes/raw", data=vol).attrs["resolution"] = [10.0, 10.0, 10.0]
    f.create_dataset("volumes/copy", data=vol)
  tif = tmp_path / "same.tif"
  io.write_volume(tif, vol, (10.0, 10.0, 10.0))
  args = ["--factor=4", "--seed=3"]
  assert main(["jax-iso", "simulate", f"--input={h5}", "--dataset=volumes/raw", f"--output={tmp_path}/a.ome.zarr",
               "--ome_version=0.5", *args]) == 0
  assert main(["jax-iso", "simulate", f"--input={h5}", f"--output={tmp_path}/c.tif", *args]) == 0   # CREMI's
  assert main(["jax-iso", "simulate", f"--input={h5}/volumes/copy", f"--output={tmp_path}/d.tif", *args]) == 0
  assert main(["jax-iso", "simulate", f"--input={tif}", f"--output={tmp_path}/b.tif", *args]) == 0
  assert read_json(tmp_path / "a.ome.zarr" / "zarr.json")["attributes"]["ome"]["version"] == "0.5"
  a, spacing = io.read_volume(tmp_path / "a.ome.zarr")
  b, _ = io.read_volume(tmp_path / "b.tif")
  np.testing.assert_array_equal(a, b)
  assert spacing == (40.0, 10.0, 10.0)
  np.testing.assert_array_equal(io.read_volume(tmp_path / "c.tif")[0], b)
  copy, copy_spacing = io.read_volume(tmp_path / "d.tif")
  np.testing.assert_array_equal(copy, b)
  assert copy_spacing is None                   # volumes/copy has no resolution, so none is made up
