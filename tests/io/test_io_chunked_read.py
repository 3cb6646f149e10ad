"""Reading chunked volumes through tensorstore: zarr v2/v3, N5 (x, y, z on disk) and OME-Zarr groups."""
import os

import numpy as np
import pytest

from io_helpers import read_json, write_json, write_ts
from jax_iso import io
from jax_iso.errors import UserError


def test_zarr_v2_array(tmp_path, vol):
  path = tmp_path / "a.zarr"
  write_ts("zarr", path, vol, compressor={"id": "zstd", "level": 3})
  with io.open_volume(path) as src:
    assert src.shape == (5, 6, 7) and src.dtype == np.uint16 and src.spacing is None
    np.testing.assert_array_equal(src.read(), vol)
    np.testing.assert_array_equal(src[1:4, 2, ::-2], vol[1:4, 2, ::-2])


def test_zarr_v3_array(tmp_path, vol):
  path = tmp_path / "a3.zarr"
  write_ts("zarr3", path, vol)
  assert read_json(path / "zarr.json")["node_type"] == "array"
  with io.open_volume(path) as src:
    assert src.shape == (5, 6, 7)
    np.testing.assert_array_equal(src[2:5, :, 3:], vol[2:5, :, 3:])


def test_n5_dataset_is_transposed_to_zyx_with_resolution(tmp_path, vol):
  # N5 lists dimensions x, y, z (fastest first) and tensorstore keeps that order: store vol.T.
  path = tmp_path / "a.n5"
  write_ts("n5", path, vol.T.copy(), chunks=(4, 3, 2))
  attrs = read_json(path / "attributes.json")
  assert attrs["dimensions"] == [7, 6, 5]
  write_json(path / "attributes.json", {**attrs, "resolution": [4.0, 5.0, 40.0], "units": ["nm"] * 3})
  with io.open_volume(path) as src:
    assert src.shape == (5, 6, 7)
    assert src.spacing == (40.0, 5.0, 4.0) and src.spacing_origin == "N5 attributes"
    np.testing.assert_array_equal(src.read(), vol)
    np.testing.assert_array_equal(src[3, 1:4], vol[3, 1:4])


def test_n5_group_reads_s0_with_pixel_resolution(tmp_path, vol):
  group = tmp_path / "g.n5"
  write_ts("n5", group / "s0", vol.T.copy())
  write_json(group / "attributes.json", {"n5": "2.0.0", "pixelResolution": {"dimensions": [0.004, 0.004, 0.05],
                                                                            "unit": "um"}})
  with io.open_volume(group) as src:
    assert src.spacing == (50.0, 4.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)


def _ome_group(tmp_path, data, axes, scale, level_scale=None, name="img.ome.zarr"):
  group = tmp_path / name
  write_ts("zarr", group / "0", data, chunks=(1,) * (data.ndim - 3) + (2, 3, 4))
  ms = {"version": "0.4", "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": scale}]}]}
  if level_scale:
    ms["coordinateTransformations"] = [{"type": "scale", "scale": level_scale}]
  write_json(group / ".zgroup", {"zarr_format": 2})
  write_json(group / ".zattrs", {"multiscales": [ms]})
  return group


def test_ome_zarr_czyx_micrometer_with_multiscale_scale(tmp_path, vol):
  data = np.stack([vol, vol + 1000])  # (C, Z, Y, X)
  axes = [{"name": "c", "type": "channel"}] + [
      {"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
  group = _ome_group(tmp_path, data, axes, [1.0, 0.02, 0.002, 0.002], level_scale=[1.0, 2.0, 2.0, 2.0])
  with pytest.raises(UserError, match=r"has 2 channels.*channel=N"):
    io.open_volume(group)
  with io.open_volume(group, channel=1) as src:
    assert src.spacing == (40.0, 4.0, 4.0) and src.spacing_origin == "OME-Zarr multiscales"
    np.testing.assert_array_equal(src.read(), vol + 1000)
  with io.open_volume(group / "0", channel=0) as src:  # a dataset of the group knows its spacing too
    assert src.spacing == (40.0, 4.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)


def test_ome_zarr_axes_order_follows_names(tmp_path, vol):
  data = np.ascontiguousarray(vol.transpose(1, 2, 0))  # stored (Y, X, Z)
  axes = [{"name": a, "type": "space", "unit": "angstrom"} for a in "yxz"]
  group = _ome_group(tmp_path, data, axes, [50.0, 40.0, 400.0])
  with io.open_volume(group) as src:
    assert src.shape == (5, 6, 7) and src.spacing == (40.0, 5.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)
    np.testing.assert_array_equal(src[1:3, -1, 2:6], vol[1:3, -1, 2:6])


def test_ome_zarr_v05_on_zarr3(tmp_path, vol):
  group = tmp_path / "v5.ome.zarr"
  write_ts("zarr3", group / "0", vol)
  write_json(group / "zarr.json", {"zarr_format": 3, "node_type": "group", "attributes": {"ome": {
      "version": "0.5", "multiscales": [{
          "axes": [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"],
          "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale",
                                                                   "scale": [30.0, 3.0, 3.0]}]}]}]}}})
  with io.open_volume(group) as src:
    assert src.spacing == (30.0, 3.0, 3.0)
    np.testing.assert_array_equal(src.read(), vol)


def test_plain_4d_zarr_needs_channel_and_then_uses_the_leading_axis(tmp_path, vol):
  path = tmp_path / "c.zarr"
  write_ts("zarr", path, np.stack([vol, vol * 2]), chunks=(1, 2, 3, 4))
  with pytest.raises(UserError, match=r"no axis names.*channel=N"):
    io.open_volume(path)
  np.testing.assert_array_equal(io.read_volume(path, channel=1)[0], vol * 2)


def test_group_without_multiscales_lists_its_arrays(tmp_path, vol):
  group = tmp_path / "g.zarr"
  group.mkdir()
  write_json(group / ".zgroup", {"zarr_format": 2})
  write_ts("zarr", group / "raw", vol)
  write_ts("zarr", group / "labels" / "cells", vol)
  write_json(group / "labels" / ".zgroup", {"zarr_format": 2})
  _ome_group(group, vol, [{"name": a, "type": "space"} for a in "zyx"], [1.0, 1.0, 1.0], name="image")
  with pytest.raises(UserError) as err:
    io.open_volume(group)
  message = str(err.value)
  assert "without OME-Zarr multiscales" in message and "\n" not in message
  for inside in ("raw", "image", os.path.join("labels", "cells")):
    assert os.path.join(str(group), inside) in message
  assert os.path.join(str(group), "image", "0") not in message


def test_directory_that_is_no_dataset(tmp_path):
  with pytest.raises(UserError, match="not a zarr array, OME-Zarr, N5 or precomputed"):
    io.open_volume(tmp_path)


def test_empty_and_bool_zarr_arrays_are_rejected(tmp_path):
  write_ts("zarr", tmp_path / "empty.zarr", np.zeros((0, 6, 7), np.uint8))
  with pytest.raises(UserError, match="is empty"):
    io.open_volume(tmp_path / "empty.zarr")
  write_ts("zarr", tmp_path / "bool.zarr", np.zeros((5, 6, 7), bool))
  with pytest.raises(UserError, match="dtype bool; convert it to uint8, uint16 or float32"):
    io.open_volume(tmp_path / "bool.zarr")
