"""HDF5 volumes (h5py): a dataset inside a file, read lazily in boxes, with the voxel size of its attributes.

A dataset is named like a path inside the file: `sample.h5/volumes/raw` (or `dataset=volumes/raw` beside
`input=sample.h5`). Without a name, the file's only dataset of 3 or more dimensions is read, or CREMI's
`volumes/raw` where there are several. Voxel size, first found wins: CREMI's `resolution` (z, y, x in nm, or
in the dataset's `unit`), then `element_size_um` (z, y, x in micrometres: the Fiji HDF5 plugin, CSBDeep).
Axis letters come from ilastik's `axistags` or `DIMENSION_LABELS`; a plain 3D dataset is (z, y, x).
"""
from __future__ import annotations

import json
import os
import threading

import h5py
import numpy as np

from jax_iso.errors import UserError
from jax_iso.io.spacing import nm_per_unit, valid_spacing
from jax_iso.io.stored import ClosedError, Stored

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
CREMI_RAW = "volumes/raw"
_CHUNK_CACHE_BYTES = 256 << 20  # h5py's per-dataset chunk cache (its default is 1 MiB)


def is_hdf5(path: str) -> bool:
  """True when `path` is a file that starts with the HDF5 signature."""
  try:
    with open(path, "rb") as f:
      return f.read(8) == HDF5_MAGIC
  except OSError:
    return False


def split(path: str) -> tuple[str, str | None] | None:
  """(HDF5 file, dataset inside it or None) when `path` is an HDF5 file or a path inside one, else None."""
  path = os.fspath(path)
  if os.path.isfile(path):
    return (path, None) if is_hdf5(path) else None
  head, inner = path.rstrip("/"), []
  while head and not os.path.exists(head):
    head, tail = os.path.split(head)
    if not tail:
      break
    inner.append(tail)
  if head and os.path.isfile(head) and is_hdf5(head) and inner:
    return head, "/".join(reversed(inner))
  return None


def with_dataset(path: str, dataset: str | None) -> str:
  """`path` with `dataset` appended when it is an HDF5 file (the `dataset` setting); other paths come back unchanged."""
  if not dataset:
    return path
  found = split(path)
  if found is None:
    return path
  if found[1] is not None:
    raise UserError(f"{path} already names a dataset inside {found[0]}; give it once: either {found[0]}/"
                    f"{found[1]} or dataset={dataset}")
  return f"{found[0]}/{dataset.strip('/')}"


def datasets(f: h5py.File) -> list[tuple[str, tuple[int, ...], str]]:
  """(name, shape, dtype) of every dataset with at least 3 dimensions larger than 1, in file order."""
  found = []

  def visit(name, obj):
    if isinstance(obj, h5py.Dataset) and sum(n > 1 for n in obj.shape) >= 3:
      found.append((name, tuple(obj.shape), obj.dtype.name))
  f.visititems(visit)
  return found


def _listing(found) -> str:
  shown = ", ".join(f"{name} ({' x '.join(map(str, shape))} {dtype})" for name, shape, dtype in found[:8])
  return shown + (f" and {len(found) - 8} more" if len(found) > 8 else "")


class Hdf5Array:
  """One HDF5 dataset; every read takes only the requested box from the file (h5py hyperslabs)."""

  def __init__(self, f: h5py.File, dataset: h5py.Dataset):
    self._file, self._dataset = f, dataset
    self._lock = threading.Lock()  # h5py serialises calls anyway; this keeps close() out of a read

  def read(self, key: tuple, *, once: bool = False) -> np.ndarray:
    del once
    with self._lock:
      if self._dataset is None:
        raise ClosedError("the HDF5 file is closed")
      return np.asarray(self._dataset[key])

  def close(self) -> None:
    with self._lock:
      f, self._file, self._dataset = self._file, None, None
    if f is not None:
      f.close()


def open_hdf5(path: str, dataset: str | None) -> Stored:
  """Opens `dataset` of the HDF5 file `path` (or the one to read by default); bad input raises UserError."""
  try:
    f = h5py.File(path, "r", rdcc_nbytes=_CHUNK_CACHE_BYTES)
  except OSError as err:
    raise UserError(f"{path} cannot be opened as HDF5 ({str(err).splitlines()[0]}); check that the file is "
                    "complete, or re-export it") from err
  try:
    return _open_dataset(f, path, dataset)
  except BaseException:
    f.close()
    raise


def _open_dataset(f: h5py.File, path: str, dataset: str | None) -> Stored:
  found = datasets(f)
  if dataset is None:
    names = [name for name, _, _ in found]
    if not found:
      raise UserError(f"{path} holds no dataset with 3 or more dimensions; jax_iso needs a 3D (Z, Y, X) volume: "
                      "save the sections in it as one 3D dataset (z, y, x)")
    if len(found) > 1 and CREMI_RAW not in names:
      raise UserError(f"{path} holds {len(found)} volumes: {_listing(found)}; pick one with dataset=NAME "
                      f"(or give the path {path}/NAME)")
    dataset = CREMI_RAW if CREMI_RAW in names else names[0]
  obj = f.get(dataset)
  if not isinstance(obj, h5py.Dataset):
    what = "a group, not a dataset" if isinstance(obj, h5py.Group) else "not in the file"
    choose = f"the volumes in it: {_listing(found)}" if found else "it holds no dataset of 3 or more dimensions"
    raise UserError(f"dataset '{dataset}' of {path} is {what}; {choose}")
  spacing = spacing_of(obj)
  return Stored(Hdf5Array(f, obj), tuple(obj.shape), obj.dtype, axes_of(obj), spacing,
                f"HDF5 attributes of {obj.name}" if spacing else None, spacing[1:] if spacing else None)


def _attr(obj, name):
  value = obj.attrs.get(name)
  if isinstance(value, bytes):
    value = value.decode("utf-8", "replace")
  return value


def _axistags(obj) -> list[dict] | None:
  """ilastik/vigra `axistags` (a JSON string with one entry per axis), or None."""
  text = _attr(obj, "axistags")
  try:
    axes = json.loads(text)["axes"] if isinstance(text, str) else None
  except (ValueError, KeyError, TypeError):
    return None
  return axes if isinstance(axes, list) and len(axes) == obj.ndim else None


def axes_of(obj: h5py.Dataset) -> str | None:
  """Axis letters from `axistags` or `DIMENSION_LABELS`; a plain 3D dataset is (z, y, x)."""
  tags = _axistags(obj)
  names = [str(t.get("key", "")) for t in tags] if tags else None
  labels = _attr(obj, "DIMENSION_LABELS")
  if names is None and labels is not None and len(labels) == obj.ndim:
    names = [x.decode() if isinstance(x, bytes) else str(x) for x in labels]
  if names is not None:
    return "".join(n.upper() if n.lower() in ("z", "y", "x", "c", "t") else "?" for n in names)
  return "ZYX" if obj.ndim == 3 else None


def spacing_of(obj: h5py.Dataset):
  """(z, y, x) nm from `resolution` or `element_size_um`, or None (ilastik's `axistags` carry no unit)."""
  resolution = _attr(obj, "resolution")
  if resolution is not None and np.size(resolution) == 3:
    unit = _attr(obj, "unit") or _attr(obj, "units") or "nm"
    nm = nm_per_unit(unit if isinstance(unit, str) else "nm")
    if nm is not None:
      return valid_spacing(np.asarray(resolution, dtype=float).ravel() * nm)
  element = _attr(obj, "element_size_um")
  if element is not None and np.size(element) == 3:
    return valid_spacing(np.asarray(element, dtype=float).ravel() * 1e3)
  return None
