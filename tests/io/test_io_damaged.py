"""Damaged input: truncated TIFFs are refused at open, undecodable data fails at read with a one-line UserError,
and tifffile's own log stays off stderr."""
import errno
import logging
import os
import subprocess
import sys
import textwrap
import zlib

import h5py
import numpy as np
import pytest
import tifffile

from io_helpers import ROOT
from jax_iso import io
from jax_iso.errors import UserError


def _stack(n=12):
  return (np.arange(n * 64 * 64) % 251).astype(np.uint8).reshape(n, 64, 64)


def _cut(path, keep):
  data = path.read_bytes()
  path.write_bytes(data[:keep(len(data))])


def _imagej_cut(tmp_path):
  path = tmp_path / "cut.tif"
  io.write_volume(path, _stack(), (40.0, 4.0, 4.0))
  _cut(path, lambda n: n // 2)
  return path


def _zlib_tif(tmp_path, name="z.tif"):
  path = tmp_path / name
  tifffile.imwrite(path, _stack(), compression="zlib", metadata={"axes": "ZYX"})
  return path


def _one_line_error(fn, *args) -> str:
  with pytest.raises(UserError) as err:
    fn(*args)
  message = str(err.value)
  assert "\n" not in message, message
  return message


def test_truncated_imagej_tiff_is_refused_at_open(tmp_path):
  path = _imagej_cut(tmp_path)
  message = _one_line_error(io.open_volume, path)
  assert message.startswith(f"{path} is damaged or truncated (tifffile: invalid page offset ")
  assert "the ImageJ header promises 12 images, 5 are readable" in message  # 27.5 kB left: 5 of 4096 bytes each
  assert message.endswith("): copy or export it again")


def test_truncated_zlib_tiff_is_refused_at_open(tmp_path):
  path = _zlib_tif(tmp_path)
  _cut(path, lambda n: n // 2)
  message = _one_line_error(io.open_volume, path)
  assert message.startswith(f"{path} is damaged or truncated (")
  assert "tifffile: invalid page offset" in message
  assert "tifffile's shape metadata promises 12 images, 6 are readable" in message


def test_tiff_whose_last_image_is_cut_is_refused(tmp_path):
  path = _zlib_tif(tmp_path)
  _cut(path, lambda n: n - 10)  # every page is there, the last one's data is not
  message = _one_line_error(io.open_volume, path)
  assert "image 12 of 12 ends at byte" in message and "past the end of the file" in message


def test_imagej_layout_of_big_files_is_not_mistaken_for_damage(tmp_path):
  path = tmp_path / "one_ifd.tif"  # one IFD followed by all images (ImageJ's layout above 4 GB)
  tifffile.imwrite(path, _stack(), imagej=True, truncate=True, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    np.testing.assert_array_equal(src.read(), _stack())


def test_undecodable_tiff_strip_fails_at_read_with_user_error(tmp_path):
  path = _zlib_tif(tmp_path)
  with tifffile.TiffFile(path) as tif:
    page = tif.pages[3]
    offset, count = page.dataoffsets[0], page.databytecounts[0]
  data = bytearray(path.read_bytes())
  data[offset:offset + count] = bytes(count)
  path.write_bytes(bytes(data))
  with io.open_volume(path) as src:  # the structure is intact
    with pytest.raises(UserError) as err:
      src[0:2]
  message = str(err.value)
  assert message.startswith(f"{path} cannot be read at z=0..1 (Error -3 while decompressing data")
  assert message.endswith("): the file is damaged; copy or export it again") and "\n" not in message
  assert isinstance(err.value.__cause__, zlib.error)


def test_garbage_zarr_chunk_fails_at_read_with_user_error(tmp_path):
  path = tmp_path / "g.ome.zarr"
  io.write_volume(path, _stack(), (40.0, 4.0, 4.0))
  (path / "0" / "0" / "0" / "0").write_bytes(os.urandom(200))
  with io.open_volume(path) as src:
    with pytest.raises(UserError) as err:
      src[3]
  message = str(err.value)
  assert message.startswith(f"{path} cannot be read at z=3 (FAILED_PRECONDITION: Error reading local file ")
  assert "Invalid blosc-compressed data" in message and "[source locations" not in message
  assert message.endswith("the file is damaged; copy or export it again") and "\n" not in message


def test_garbage_hdf5_chunk_fails_at_read_with_user_error(tmp_path):
  path = tmp_path / "h.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("raw", data=_stack(), chunks=(4, 32, 32), compression="gzip")
  with h5py.File(path, "r") as f:
    info = f["raw"].id.get_chunk_info(0)
  data = bytearray(path.read_bytes())
  data[info.byte_offset:info.byte_offset + info.size] = bytes(info.size)
  path.write_bytes(bytes(data))
  with io.open_volume(path) as src:
    np.testing.assert_array_equal(src[4:], _stack()[4:])  # other chunks still read
    with pytest.raises(UserError) as err:
      src[0:3, :8]
  message = str(err.value)
  assert message.startswith(f"{path} cannot be read at z=0..2 (") and "read data" in message
  assert message.endswith("the file is damaged; copy or export it again") and "\n" not in message
  assert isinstance(err.value.__cause__, OSError)


def test_programming_errors_are_not_reported_as_damage(tmp_path):
  path = tmp_path / "h.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("raw", data=_stack(3))
  src = io.open_volume(path)
  with pytest.raises(IndexError):
    src[5]
  array = src._array  # pylint: disable=protected-access
  array.close()  # a read racing with close()
  with pytest.raises(ValueError, match="closed") as err:
    src[0]
  assert not isinstance(err.value, UserError)
  src.close()
  with pytest.raises(ValueError, match="is closed") as err:
    src[0]
  assert not isinstance(err.value, UserError)


def test_disk_full_while_reading_is_not_reported_as_damage(tmp_path, monkeypatch):
  path = tmp_path / "v.tif"
  tifffile.imwrite(path, _stack(3), compression="zlib", metadata={"axes": "ZYX"})
  src = io.open_volume(path)

  def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")
  monkeypatch.setattr(src._array, "read", full)  # pylint: disable=protected-access
  with pytest.raises(OSError) as err:
    src[0]
  assert err.value.errno == errno.ENOSPC and not isinstance(err.value, UserError)


def test_tifffile_log_goes_to_no_handler(tmp_path, caplog):
  path = _imagej_cut(tmp_path)
  caplog.set_level(logging.DEBUG)
  with pytest.raises(UserError):
    io.open_volume(path)
  assert [r for r in caplog.records if r.name.startswith("tifffile")] == []
  # outside jax_iso's reading path, tifffile logs as before
  with tifffile.TiffFile(path) as tif:
    len(tif.pages)
  assert any(r.name == "tifffile" for r in caplog.records)


_OPEN_DAMAGED = textwrap.dedent("""
    import sys
    from jax_iso import io
    from jax_iso.errors import UserError
    try:
      io.open_volume(sys.argv[1])
    except UserError as err:
      print(err)
""")


def test_nothing_from_tifffile_reaches_stderr(tmp_path):
  path = _imagej_cut(tmp_path)
  done = subprocess.run([sys.executable, "-c", _OPEN_DAMAGED, str(path)], capture_output=True, text=True,
                        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120, check=True)
  assert done.stderr == ""
  assert "is damaged or truncated (tifffile: invalid page offset" in done.stdout
