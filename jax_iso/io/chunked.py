"""Chunked volumes through tensorstore: zarr v2/v3 arrays, OME-Zarr multiscales (0.4 and 0.5), N5 datasets and
groups, neuroglancer precomputed volumes (local folders).

N5 lists dimensions fastest-first (x, y, z) and tensorstore's n5 driver keeps that order, so N5 arrays are
transposed here to (z, y, x). N5 `resolution`/`pixelResolution` attributes are in the same x, y, z order.
Precomputed volumes are (x, y, z, channel) with each scale's `resolution` in nm (x, y, z): also transposed;
the finest scale is read.
"""
from __future__ import annotations

import json
import os

import numpy as np
import tensorstore as ts

from jax_iso.errors import UserError
from jax_iso.io import census
from jax_iso.io.spacing import nm_per_unit, valid_spacing
from jax_iso.io.stored import ClosedError, Stored

_CACHE_BYTES = 256 << 20  # decoded-chunk cache shared by reads from one opened volume
_OME_AXIS_TYPES = {"channel": "C", "time": "T"}


class TensorStoreArray:
  """A tensorstore array read with numpy-style keys (ints and forward slices)."""

  def __init__(self, store: ts.TensorStore):
    self._store = store

  def read(self, key: tuple, *, once: bool = False) -> np.ndarray:
    del once
    if self._store is None:
      raise ClosedError("the tensorstore array is closed")
    return np.asarray(self._store[key].read().result())

  def close(self) -> None:
    self._store = None


def open_chunked(path: str, reads: str) -> Stored:
  """Opens a directory holding a zarr/N5 array, an OME-Zarr multiscale group or an N5 group with `s0`."""
  kind, meta = node_kind(path)
  if kind in ("zarr", "zarr3"):
    return _open_array(path, kind, _array_axes(path, kind, meta), *_parent_spacing(path))
  if kind == "n5":
    return _open_n5(path, meta, {})
  if kind == "ome":
    return _open_ome(path, meta)
  if kind == "precomputed":
    return _open_precomputed(path, meta)
  if kind == "n5-group" and node_kind(os.path.join(path, "s0"))[0] == "n5":
    return _open_n5(os.path.join(path, "s0"), node_kind(os.path.join(path, "s0"))[1], meta)
  if kind in ("zarr-group", "n5-group"):
    arrays = list_arrays(path)
    pick = ", ".join(os.path.join(path, a) for a in arrays[:8]) + (", ..." if len(arrays) > 8 else "")
    if not arrays:
      raise UserError(f"{path} is a {kind.split('-')[0]} group with no arrays inside; give the path of a "
                      "3D array")
    raise UserError(f"{path} is a {kind.split('-')[0]} group without OME-Zarr multiscales; give the path of "
                    f"one of the volumes inside: {pick}")
  raise UserError(f"{path} is a directory but not a zarr array, OME-Zarr, N5 or precomputed dataset (it has no "
                  f".zarray, zarr.json, attributes.json or info); {reads}")


def node_kind(path: str) -> tuple[str | None, dict]:
  """('zarr' | 'zarr3' | 'n5' | 'ome' | 'zarr-group' | 'n5-group' | 'precomputed' | None, its metadata)."""
  def load(name):
    with open(os.path.join(path, name), encoding="utf-8") as f:
      return json.load(f)
  try:
    if os.path.isfile(os.path.join(path, ".zarray")):
      return "zarr", load(".zarray")
    if os.path.isfile(os.path.join(path, "zarr.json")):
      meta = load("zarr.json")
      if meta.get("node_type") == "array":
        return "zarr3", meta
      attrs = meta.get("attributes", {})
      attrs = attrs.get("ome", attrs)
      return ("ome", attrs) if "multiscales" in attrs else ("zarr-group", attrs)
    if os.path.isfile(os.path.join(path, ".zattrs")) or os.path.isfile(os.path.join(path, ".zgroup")):
      attrs = load(".zattrs") if os.path.isfile(os.path.join(path, ".zattrs")) else {}
      return ("ome", attrs) if "multiscales" in attrs else ("zarr-group", attrs)
    if os.path.isfile(os.path.join(path, "attributes.json")):
      attrs = load("attributes.json")
      return ("n5", attrs) if "dimensions" in attrs and "dataType" in attrs else ("n5-group", attrs)
    if os.path.isfile(os.path.join(path, "info")):
      info = load("info")
      if isinstance(info, dict) and info.get("scales") and info.get("type", "image") == "image":
        return "precomputed", info
  except (OSError, ValueError, AttributeError) as err:
    raise UserError(f"{path} has unreadable zarr/N5 metadata ({err}); fix or re-export the dataset") from err
  return None, {}


def list_arrays(path: str, depth: int = 4) -> list[str]:
  """Relative paths of the zarr/N5 arrays and OME-Zarr images under a group, breadth first."""
  found, level = [], [""]
  for _ in range(depth):
    deeper = []
    for rel in level:
      for name in sorted(os.listdir(os.path.join(path, rel) if rel else path)):
        sub = os.path.join(rel, name)
        if not os.path.isdir(os.path.join(path, sub)) or name.startswith("."):
          continue
        kind = node_kind(os.path.join(path, sub))[0]
        if kind in ("zarr", "zarr3", "n5", "ome", "precomputed"):
          found.append(sub)
        elif kind is not None:
          deeper.append(sub)
    level = deeper
  return found


def _open_store(path: str, driver: str, **options) -> ts.TensorStore:
  spec = {"driver": driver, "kvstore": {"driver": "file", "path": os.path.abspath(path)},
          "recheck_cached_data": "open", "recheck_cached_metadata": "open", **options}
  context = ts.Context({"cache_pool": {"total_bytes_limit": _CACHE_BYTES}})
  try:
    return ts.open(spec, read=True, write=False, context=context).result()
  except Exception as err:  # tensorstore reports unsupported codecs, bad metadata... as ValueError
    reason = str(err).splitlines()[0]
    raise UserError(f"{path} cannot be opened as a {driver} array ({reason}); re-export it as zarr or TIFF "
                    "with a standard codec (blosc, zstd, gzip)") from err


def _numpy_dtype(path: str, store: ts.TensorStore) -> np.dtype:
  try:
    return np.dtype(store.dtype.numpy_dtype)
  except (TypeError, ValueError, AttributeError):
    raise UserError(f"{path} has dtype {store.dtype.name}; convert it to uint8, uint16 or float32") from None


def _open_array(path: str, driver: str, axes: str | None, spacing=None, origin=None,
                transpose: bool = False, **options) -> Stored:
  store = _open_store(path, driver, **options)
  store = store[ts.d[:].translate_to[0]]  # precomputed volumes may start elsewhere (voxel_offset)
  if transpose:
    store = store.T
  census.check(path, driver, axes)
  return Stored(TensorStoreArray(store), tuple(store.shape), _numpy_dtype(path, store), axes, spacing, origin,
                spacing[1:] if spacing else None)


def _array_axes(path: str, kind: str, meta: dict) -> str | None:
  """Axis letters from xarray `_ARRAY_DIMENSIONS` (zarr v2 .zattrs) or `dimension_names` (zarr v3)."""
  names = meta.get("dimension_names") if kind == "zarr3" else None
  if kind == "zarr":
    try:
      with open(os.path.join(path, ".zattrs"), encoding="utf-8") as f:
        names = json.load(f).get("_ARRAY_DIMENSIONS")
    except (OSError, ValueError, AttributeError):
      names = None
  return _letters(names) if isinstance(names, list) and len(names) == len(meta.get("shape", ())) else None


def _letters(names, types=None) -> str:
  out = []
  for i, name in enumerate(names):
    name = (name or "").lower() if isinstance(name, str) else ""
    kind = types[i] if types else None
    out.append(name.upper() if name in ("z", "y", "x", "c", "t") else _OME_AXIS_TYPES.get(kind, "?"))
  return "".join(out)


def _parent_spacing(path: str):
  """Spacing of `path` when it is a dataset of an OME-Zarr group (e.g. image.ome.zarr/0)."""
  parent = os.path.dirname(os.path.abspath(path))
  try:
    kind, attrs = node_kind(parent)
  except UserError:
    return None, None
  if kind != "ome":
    return None, None
  name = os.path.basename(os.path.abspath(path))
  for ms in attrs.get("multiscales", [])[:1]:
    for ds in ms.get("datasets", []):
      if str(ds.get("path")) == name:
        return _ome_spacing(ms, ds), "OME-Zarr multiscales"
  return None, None


def _open_ome(path: str, attrs: dict) -> Stored:
  ms = attrs["multiscales"][0]
  datasets = ms.get("datasets") or []
  if not datasets or "path" not in datasets[0]:
    raise UserError(f"{path} has OME-Zarr multiscales without datasets; re-export it or give the path of an "
                    "array inside it")
  ds = datasets[0]
  sub = os.path.join(path, str(ds["path"]))
  kind, meta = node_kind(sub)
  if kind not in ("zarr", "zarr3"):
    raise UserError(f"{sub}, the first OME-Zarr dataset of {path}, is not a zarr array; re-export the "
                    "OME-Zarr")
  axes = _ome_axes(ms) or _array_axes(sub, kind, meta)
  spacing = _ome_spacing(ms, ds)
  return _open_array(sub, kind, axes, spacing, "OME-Zarr multiscales" if spacing else None)


def _ome_axes(ms: dict) -> str | None:
  axes = ms.get("axes")
  if axes is None:
    return "TCZYX"  # NGFF 0.1/0.2: always 5D t, c, z, y, x
  names = [a.get("name") if isinstance(a, dict) else a for a in axes]
  types = [a.get("type") if isinstance(a, dict) else None for a in axes]
  return _letters(names, types)


def _ome_spacing(ms: dict, ds: dict):
  """(z, y, x) nm from the dataset's scale times the multiscale's scale, using the axes' units."""
  axes = ms.get("axes")
  if not axes or not all(isinstance(a, dict) for a in axes):
    return None
  scale = np.ones(len(axes))
  for transforms in (ds.get("coordinateTransformations"), ms.get("coordinateTransformations")):
    for t in transforms or []:
      if t.get("type") == "scale" and "scale" in t and len(t["scale"]) == len(axes):
        scale = scale * np.asarray(t["scale"], dtype=float)
  names = [str(a.get("name", "")).lower() for a in axes]
  out = []
  for axis in "zyx":
    if names.count(axis) != 1:
      return None
    i = names.index(axis)
    nm = nm_per_unit(axes[i].get("unit"))
    if nm is None:
      return None
    out.append(scale[i] * nm)
  return valid_spacing(out)


def _open_n5(path: str, attrs: dict, group_attrs: dict) -> Stored:
  names = attrs.get("axes") or group_attrs.get("axes")
  axes = _letters(names[::-1]) if isinstance(names, list) and len(names) == len(attrs["dimensions"]) else None
  if axes is None and len(attrs["dimensions"]) == 3:
    axes = "ZYX"
  spacing = _n5_spacing(attrs) or _n5_spacing(group_attrs, attrs.get("downsamplingFactors"))
  return _open_array(path, "n5", axes, spacing, "N5 attributes" if spacing else None, transpose=True)


def _n5_spacing(attrs: dict, factors=None):
  """(z, y, x) nm from N5 `pixelResolution` or `resolution` (x, y, z order); unit-less means nm."""
  pr = attrs.get("pixelResolution")
  if isinstance(pr, dict):
    values, unit = pr.get("dimensions"), pr.get("unit", "nm")
  elif isinstance(pr, list):
    values, unit = pr, attrs.get("unit", "nm")
  else:
    values = attrs.get("resolution")
    units = attrs.get("units", attrs.get("unit", "nm"))
    unit = (units[0] if units and len(set(units)) == 1 else None) if isinstance(units, list) else units
  if not isinstance(values, list) or len(values) < 3:
    return None
  nm = nm_per_unit(unit)
  if nm is None:
    return None
  xyz = np.asarray(values[:3], dtype=float) * nm
  if isinstance(factors, list) and len(factors) >= 3:
    xyz = xyz * np.asarray(factors[:3], dtype=float)
  return valid_spacing(xyz[::-1])


def _open_precomputed(path: str, info: dict) -> Stored:
  """The finest scale of a neuroglancer precomputed image as (channel, z, y, x)."""
  scale = info["scales"][0]
  resolution = scale.get("resolution")
  spacing = valid_spacing(list(resolution)[::-1]) if isinstance(resolution, list) and len(resolution) == 3 \
      else None
  return _open_array(path, "neuroglancer_precomputed", "CZYX", spacing, "precomputed info" if spacing else None,
                     transpose=True, scale_index=0)
