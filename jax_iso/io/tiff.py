"""TIFF volumes: lazy reads (memory map, or one decode for compressed files) and the voxel spacing."""
from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET

import numpy as np
import tifffile

from jax_iso.errors import UserError
from jax_iso.io.spacing import Spacing, nm_per_unit, tidy, valid_spacing
from jax_iso.io.stored import Stored

TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8")
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_DECODE_TO_DISK_BYTES = 1 << 30  # compressed volumes larger than this are decoded into a temporary memmap

# TIFF ResolutionUnit codes (4 and 5 are tifffile's millimetre and micrometre extensions).
_RESOLUTION_UNIT_NM = {2: 2.54e7, 3: 1e7, 4: 1e6, 5: 1e3}


class TiffArray:
  """One TIFF series: memory-mapped when uncompressed and contiguous, else decoded once on first read."""

  def __init__(self, path: str, shape: tuple[int, ...], mapped: np.ndarray | None):
    self._path = path
    self._shape = shape
    self._data = mapped
    self._mapped = mapped is not None
    self._lock = threading.Lock()

  def read(self, key: tuple, *, once: bool = False) -> np.ndarray:
    if self._data is None and once:
      return self._decode()[key]
    with self._lock:
      if self._data is None:
        self._data = self._decode()
    return np.array(self._data[key])

  def _decode(self) -> np.ndarray:
    with tifffile.TiffFile(self._path) as tif:
      series = tif.series[0]
      big = series.size * series.dtype.itemsize > _DECODE_TO_DISK_BYTES
      return series.asarray(out="memmap" if big else None).reshape(self._shape)

  def close(self) -> None:
    data, self._data = self._data, None
    if isinstance(data, np.memmap) and getattr(data, "_mmap", None) is not None:
      data._mmap.close()  # pylint: disable=protected-access


def open_tiff(path: str, reads: str) -> Stored:
  """Opens series 0 of a TIFF file; `reads` completes error messages with what jax_iso can read."""
  try:
    with tifffile.TiffFile(path) as tif:
      if not tif.series:
        raise ValueError("it holds no images")
      series = tif.series[0]
      shape, axes, dtype = tuple(series.shape), series.axes, series.dtype
      spacing, origin, lateral = tiff_spacing(tif)
  except UserError:
    raise
  except Exception as err:  # tifffile raises many kinds of errors for broken files
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    raise UserError(f"{path} is not a readable TIFF ({reason}); {reads}") from err
  mapped = None
  if all(n > 0 for n in shape):
    try:
      mapped = tifffile.memmap(path, series=0, mode="r").reshape(shape)
    except Exception:  # compressed, tiled or scattered strips: decode on first read instead
      mapped = None
  return Stored(TiffArray(path, shape, mapped), shape, np.dtype(dtype), axes, spacing, origin, lateral)


def tiff_spacing(tif: tifffile.TiffFile) -> tuple[Spacing | None, str | None, tuple[float, float] | None]:
  """(spacing, where it came from, lateral (y, x) spacing); the first source that gives all three wins."""
  page = tif.pages.first
  lateral = None
  for origin, finder in (("ImageJ metadata", _imagej), ("OME-XML", _ome), ("JSON description", _json)):
    try:
      zyx, yx = finder(tif, page)
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, ET.ParseError):
      zyx, yx = None, None
    if zyx is not None:
      return zyx, origin, zyx[1:]
    lateral = lateral or yx
  return None, None, lateral or _resolution_tags(page)


def _resolution(page, tag: str) -> float | None:
  """Pixels per unit from a rational resolution tag, as (numerator, denominator)."""
  found = page.tags.get(tag)
  if found is None:
    return None
  value = found.value
  num, den = (value if isinstance(value, tuple) else (value, 1))
  return float(num) / float(den) if num and den else None


def _lateral_from_tags(page, nm: float) -> tuple[float, float] | None:
  x = _resolution(page, "XResolution")
  y = _resolution(page, "YResolution") or x
  if not x or not y:
    return None
  return tidy(nm / y), tidy(nm / x)


def _imagej(tif, page):
  meta = tif.imagej_metadata
  if not meta:
    return None, None
  nm = nm_per_unit(meta.get("unit"))
  if nm is None:
    return None, None
  lateral = _lateral_from_tags(page, nm)
  z_nm = nm_per_unit(meta.get("zunit", meta.get("unit")))
  z = float(meta.get("spacing", 1.0)) * z_nm if z_nm else None  # ImageJ leaves out spacing=1
  if lateral is None or z is None:
    return None, lateral
  return valid_spacing((z, *lateral)), lateral


def _ome(tif, page):
  if not tif.is_ome or not tif.ome_metadata:
    return None, None
  root = ET.fromstring(tif.ome_metadata)
  pixels = next((el for el in root.iter() if el.tag.split("}")[-1] == "Pixels"), None)
  if pixels is None:
    return None, None
  sizes = []
  for axis in "ZYX":
    value = pixels.get(f"PhysicalSize{axis}")
    nm = nm_per_unit(pixels.get(f"PhysicalSize{axis}Unit", "µm"))
    sizes.append(float(value) * nm if value is not None and nm else None)
  lateral = valid_spacing([1.0, *sizes[1:]]) if None not in sizes[1:] else None
  return (valid_spacing(sizes) if None not in sizes else None), (lateral[1:] if lateral else None)


def _json(tif, page):
  text = page.description or ""
  if not text.lstrip().startswith("{"):
    return None, None
  meta = json.loads(text)
  if "voxel_size_nm_zyx" in meta:
    zyx = valid_spacing(meta["voxel_size_nm_zyx"])
  elif "spacing" in meta:
    nm = nm_per_unit(meta.get("unit", "nm"))
    zyx = valid_spacing([float(v) * nm for v in meta["spacing"]]) if nm else None
  else:
    zyx = None
  return zyx, (zyx[1:] if zyx else None)


def _resolution_tags(page) -> tuple[float, float] | None:
  unit = page.tags.get("ResolutionUnit")
  nm = _RESOLUTION_UNIT_NM.get(int(unit.value)) if unit is not None else None
  return _lateral_from_tags(page, nm) if nm else None
