"""Bad input gets a one-line UserError that names the problem and the fix."""
import numpy as np
import pytest
import tifffile

from jax_iso import io
from jax_iso.errors import UserError


def _raises(match, fn, *args, **kwargs) -> str:
  with pytest.raises(UserError, match=match) as err:
    fn(*args, **kwargs)
  message = str(err.value)
  assert "\n" not in message, message
  return message


def _tif(tmp_path, name, data, **kwargs):
  path = tmp_path / name
  tifffile.imwrite(path, data, **kwargs)
  return path


def test_missing_file(tmp_path):
  message = _raises("does not exist", io.open_volume, tmp_path / "nope.tif")
  assert "nope.tif" in message and "jax_iso reads" in message


def test_text_file_renamed_tif(tmp_path):
  path = tmp_path / "notes.tif"
  path.write_text("hello")
  _raises(r"notes.tif is not a readable TIFF.*jax_iso reads", io.open_volume, path)


def test_truncated_tiff(tmp_path, vol):
  path = _tif(tmp_path, "cut.tif", vol)
  path.write_bytes(path.read_bytes()[:12])
  _raises(r"cut.tif is not a readable TIFF", io.open_volume, path)


def test_png(tmp_path):
  path = tmp_path / "slice.png"
  path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
  _raises(r"slice.png is not a volume jax_iso can read; jax_iso reads 3D TIFF", io.open_volume, path)


def test_truncated_hdf5(tmp_path):
  path = tmp_path / "v.h5"
  path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(32))
  _raises(r"v.h5 cannot be opened as HDF5 .*re-export it", io.open_volume, path)


def test_h5_that_is_no_hdf5(tmp_path):
  path = tmp_path / "v.h5"
  path.write_text("hello")
  _raises(r"v.h5 is not a readable HDF5 file", io.open_volume, path)


def test_2d_image(tmp_path):
  path = _tif(tmp_path, "slice.tif", np.zeros((512, 512), np.uint8))
  _raises(r"slice.tif .*shape \(512, 512\).*3D \(Z, Y, X\) volume: save the slices as one multi-page TIFF",
          io.open_volume, path)


def test_single_slice_stack_is_2d(tmp_path):
  path = _tif(tmp_path, "one.tif", np.zeros((1, 64, 64), np.uint8), metadata={"axes": "ZYX"})
  _raises("only 2 non-singleton dimensions", io.open_volume, path)


def test_4d_without_channel(tmp_path, vol):
  path = _tif(tmp_path, "czyx.tif", np.stack([vol, vol, vol]), metadata={"axes": "CZYX"})
  _raises(r"czyx.tif \(shape \(3, 5, 6, 7\), axes CZYX\) has 3 channels; pick one with channel=N",
          io.open_volume, path)


def test_4d_with_channel_reads_that_channel(tmp_path, vol):
  path = _tif(tmp_path, "zcyx.tif", np.stack([vol, vol + 1], axis=1), imagej=True, metadata={"axes": "ZCYX"})
  with io.open_volume(path, channel=1) as src:
    assert src.shape == (5, 6, 7)
    np.testing.assert_array_equal(src.read(), vol + 1)


def test_channel_out_of_range(tmp_path, vol):
  path = _tif(tmp_path, "czyx.tif", np.stack([vol, vol]), metadata={"axes": "CZYX"})
  _raises(r"channel=2 is out of range.*has 2 channels; pick one from 0 to 1", io.open_volume, path, channel=2)
  _raises(r"channel=-1 is out of range", io.open_volume, path, channel=-1)


def test_channel_on_a_volume_without_channels(tmp_path, vol):
  path = _tif(tmp_path, "zyx.tif", vol, metadata={"axes": "ZYX"})
  assert io.open_volume(path, channel=0).shape == (5, 6, 7)
  _raises("has no channel axis; leave out channel=1", io.open_volume, path, channel=1)


def test_timepoints_need_a_pick(tmp_path, vol):
  path = _tif(tmp_path, "tzyx.tif", np.stack([vol, vol]), imagej=True, metadata={"axes": "TZYX"})
  _raises(r"has 2 timepoints; pick one with timepoint=N", io.open_volume, path)
  _raises(r"timepoint=5 is out of range", io.open_volume, path, timepoint=5)


def test_rgb_stack(tmp_path):
  path = _tif(tmp_path, "rgb.tif", np.zeros((5, 6, 7, 3), np.uint8), photometric="rgb")
  _raises(r"RGB-like with 3 samples.*convert it to grayscale.*channel=N", io.open_volume, path)
  assert io.open_volume(path, channel=1).shape == (5, 6, 7)


def test_channels_without_z(tmp_path, vol):
  path = _tif(tmp_path, "cyx.tif", vol, imagej=True)  # tifffile's ImageJ default: a 3D array becomes CYX
  _raises(r"has 5 channels and no Z axis; if the channels are really Z slices, re-save", io.open_volume, path)


@pytest.mark.parametrize("dtype", [np.int32, np.int16, np.complex64])
def test_unsupported_dtype(tmp_path, dtype):
  path = _tif(tmp_path, "bad.tif", np.zeros((5, 6, 7), dtype), metadata={"axes": "ZYX"})
  name = np.dtype(dtype).name
  _raises(rf"bad.tif has dtype {name}; convert it to uint8, uint16 or float32 \(e.g. Fiji: Image > Type\)",
          io.open_volume, path)


def test_bool_tiff(tmp_path):
  path = _tif(tmp_path, "mask.tif", np.zeros((5, 6, 7), bool), metadata={"axes": "ZYX"})
  _raises("has dtype bool", io.open_volume, path)


@pytest.mark.parametrize("bad, count", [(np.nan, "3 NaN and 0 Inf"), (np.inf, "0 NaN and 3 Inf")])
def test_check_finite(tmp_path, vol, bad, count):
  data = vol.astype(np.float32)
  data[4, 1, 2:5] = bad
  path = _tif(tmp_path, "f.tif", data, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    message = _raises(count, io.check_finite, src, slab=2)
  assert "f.tif" in message and "z=4" in message and "nan_to_num" in message


def test_check_finite_passes_clean_and_integer_volumes(tmp_path, vol):
  io.check_finite(vol.astype(np.float32))
  path = _tif(tmp_path, "u.tif", vol, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    io.check_finite(src)


def test_rgb_2d_image(tmp_path):
  path = _tif(tmp_path, "photo.tif", np.zeros((6, 7, 3), np.uint8), photometric="rgb")
  _raises(r"photo.tif .*is a 2D image with 3 samples per pixel.*save the slices as one multi-page",
          io.open_volume, path)
