"""Opening a volume: `open_volume` gives a lazy (Z, Y, X) `VolumeSource`; `read_volume` reads it all."""
from __future__ import annotations

import errno
import os
import re

import numpy as np

from jax_iso.errors import UserError
from jax_iso.io import census, chunked, hdf5, indexing, layout, tiff
from jax_iso.io.paths import volume_path
from jax_iso.io.spacing import Spacing
from jax_iso.io.stored import ClosedError, Stored

READS = ("jax_iso reads 3D TIFF files (.tif, .tiff), HDF5 datasets (.h5) and zarr v2/v3, OME-Zarr, N5 and "
         "neuroglancer precomputed directories; convert the volume to one of these (e.g. Fiji: File > Save As > "
         "Tiff)")


class VolumeSource:
  """A (Z, Y, X) volume on disk. `src[z, y, x]` reads only the requested box; `read()` reads everything."""

  def __init__(self, path: str, stored: Stored, *, channel: int | None = None,
               timepoint: int | None = None):
    self.path = path
    self.dtype = layout.presented_dtype(path, stored.dtype)
    self._layout = layout.select(path, stored.shape, stored.axes, channel=channel, timepoint=timepoint)
    self.shape: tuple[int, int, int] = self._layout.shape
    self.spacing: Spacing | None = None if self._layout.z_from_time else stored.spacing
    self.spacing_origin: str | None = stored.spacing_origin if self.spacing else None
    self.lateral_spacing: tuple[float, float] | None = stored.lateral_spacing  # (y, x) nm, even if z unknown
    self.axes = stored.axes
    self._array = stored.array
    self._open_args = (path, channel, timepoint)

  ndim = 3

  @property
  def size(self) -> int:
    return int(np.prod(self.shape))

  @property
  def nbytes(self) -> int:
    return self.size * self.dtype.itemsize

  def __len__(self) -> int:
    return self.shape[0]

  def __repr__(self) -> str:
    return (f"VolumeSource({self.path!r}, shape={self.shape}, dtype={self.dtype.name}, spacing={self.spacing}, "
            f"spacing_origin={self.spacing_origin!r})")

  def __getitem__(self, key) -> np.ndarray:
    return self._read(key, once=False)

  def read(self) -> np.ndarray:
    """The whole volume as a new (Z, Y, X) array of `self.dtype`."""
    return self._read(Ellipsis, once=True)

  def __array__(self, dtype=None, copy=None) -> np.ndarray:
    del copy
    data = self.read()
    return data if dtype is None else data.astype(dtype, copy=False)

  def _read(self, key, *, once: bool) -> np.ndarray:
    if self._array is None:
      raise ValueError(f"{self.path} is closed")
    index = indexing.normalize(key, self.shape)
    stored_key: list = list(self._layout.fixed)
    for axis, a in zip(self._layout.order, index):
      stored_key[axis] = a.span
    block = self._backend_read(tuple(stored_key), index[0].span, once)
    kept = sorted(self._layout.order)
    block = block.transpose([kept.index(axis) for axis in self._layout.order])
    block = np.asarray(indexing.finish(block, index), dtype=self.dtype)
    return block if block.flags.c_contiguous else block.copy()

  def _backend_read(self, stored_key: tuple, z: slice, once: bool) -> np.ndarray:
    """The stored array's read; a failure caused by the data on disk becomes a UserError naming slices `z`."""
    try:
      return self._array.read(stored_key, once=once)
    except _NOT_DAMAGE:
      raise
    except OSError as err:
      if err.errno not in (None, errno.EIO):  # disk full, too many open files...: not the input's fault
        raise
      raise _unreadable(self.path, z, err) from err
    except Exception as err:  # pylint: disable=broad-except  # zlib, tensorstore, imagecodecs... errors
      raise _unreadable(self.path, z, err) from err

  def close(self) -> None:
    if self._array is not None:
      self._array.close()
      self._array = None

  def __enter__(self) -> VolumeSource:
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def __reduce__(self):
    path, channel, timepoint = self._open_args
    return _reopen, (path, channel, timepoint)


# What a backend read raises for reasons other than the data on disk: bugs, a closed volume, no memory.
_NOT_DAMAGE = (ClosedError, IndexError, TypeError, AttributeError, NameError, AssertionError, NotImplementedError,
               RecursionError, MemoryError)


def _reason(err: BaseException, limit: int = 200) -> str:
  """The first line of an error's message, without tensorstore's source locations, at most `limit` characters."""
  lines = str(err).strip().splitlines()
  text = re.sub(r"\s*\[source locations=.*$", "", lines[0]) if lines else ""
  text = text or type(err).__name__
  return text if len(text) <= limit else text[:limit - 3] + "..."


def _unreadable(path: str, z: slice, err: BaseException) -> UserError:
  """The UserError for a backend that failed to read slices `z` of `path`."""
  where = f"z={z.start}" if z.stop - z.start <= 1 else f"z={z.start}..{z.stop - 1}"
  reason = _reason(err)
  if reason.startswith("PERMISSION_DENIED"):  # tensorstore
    return UserError(f"{path} cannot be read at {where} ({reason}); check its permissions")
  return UserError(f"{path} cannot be read at {where} ({reason}): the file is damaged; copy or export it again")


def _reopen(path: str, channel: int | None, timepoint: int | None) -> VolumeSource:
  with census.unchecked():  # counted where it was first opened
    return open_volume(path, channel=channel, timepoint=timepoint)


def open_volume(path, *, channel: int | None = None, timepoint: int | None = None) -> VolumeSource:
  """Opens a TIFF, HDF5, zarr, OME-Zarr, N5 or precomputed volume lazily as (Z, Y, X); bad input raises
  UserError. An HDF5 dataset is named by its path inside the file: `sample.h5/volumes/raw`."""
  path = volume_path(path)
  in_hdf5 = hdf5.split(path)
  if in_hdf5 is not None:
    stored = hdf5.open_hdf5(*in_hdf5)
  elif not os.path.exists(path):
    raise UserError(f"{path} does not exist; check the path ({READS})")
  elif os.path.isdir(path):
    stored = chunked.open_chunked(path, READS)
  else:
    try:
      with open(path, "rb") as f:
        magic = f.read(8)
    except OSError as err:
      raise UserError(f"{path} cannot be read ({err.strerror}); check its permissions") from err
    if magic[:4] in tiff.TIFF_MAGIC:
      stored = tiff.open_tiff(path, READS)
    elif path.lower().endswith(tiff.TIFF_SUFFIXES):
      raise UserError(f"{path} is not a readable TIFF (it does not start with a TIFF header); {READS}")
    elif path.lower().endswith(hdf5.HDF5_SUFFIXES):
      raise UserError(f"{path} is not a readable HDF5 file (it does not start with the HDF5 signature); check "
                      "that it was copied whole, or re-export it")
    else:
      raise UserError(f"{path} is not a volume jax_iso can read; {READS}")
  try:
    return VolumeSource(path, stored, channel=channel, timepoint=timepoint)
  except BaseException:
    stored.array.close()
    raise


def read_volume(path, **open_kwargs) -> tuple[np.ndarray, Spacing | None]:
  """Reads a whole volume: ((Z, Y, X) array, spacing in nm or None)."""
  with open_volume(path, **open_kwargs) as src:
    return src.read(), src.spacing


def check_finite(src, *, slab: int = 64) -> None:
  """Raises UserError if a float volume has NaN or Inf voxels; reads `slab` Z slices at a time."""
  if not np.issubdtype(np.dtype(src.dtype), np.floating):
    return
  nan = inf = 0
  first = None
  for z0 in range(0, src.shape[0], slab):
    block = np.asarray(src[z0:z0 + slab])
    bad_nan, bad_inf = np.isnan(block), np.isinf(block)
    n_nan, n_inf = int(bad_nan.sum()), int(bad_inf.sum())
    if (n_nan or n_inf) and first is None:
      first = z0 + int(np.argwhere(bad_nan | bad_inf)[0][0])
    nan, inf = nan + n_nan, inf + n_inf
  if nan or inf:
    name = getattr(src, "path", None) or "the volume"
    raise UserError(f"{name} has {nan} NaN and {inf} Inf voxels (first in slice z={first}); replace them with "
                    "finite values (e.g. numpy.nan_to_num) or crop them away")
