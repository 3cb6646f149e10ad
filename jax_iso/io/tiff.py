"""TIFF volumes: lazy reads (memory map, or one decode for compressed files) and the voxel spacing.

A damaged or truncated file is refused when it is opened: tifffile's logged errors, fewer images than the
ImageJ or tifffile (shaped) metadata promises, or image data past the end of the file. What tifffile logs while
jax_iso reads is kept for these messages (`tifffile_log`), never printed.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import re
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
# Fragments of tifffile's logged errors that mean a broken file structure (not, e.g., one odd private tag).
_DAMAGE_LOGGED = ("page offset", "offset to page", "next page", "corrupted", "circular reference", "data offset",
                  "bytecounts", "stripoffsets")
_SCAN_PAGES = 4096  # files with more images have only their first and last checked for data past the end

_LOG: contextvars.ContextVar[list | None] = contextvars.ContextVar("tifffile_log", default=None)


class _Divert(logging.Filter):
  """Keeps tifffile's log records in the list of the `tifffile_log` block running in this context."""

  def filter(self, record: logging.LogRecord) -> bool:
    kept = _LOG.get()
    if kept is None:
      return True
    kept.append(record)
    return False  # a logger's filter drops the record before any handler or parent logger sees it


def _divert_tifffile_log() -> None:
  logger = logging.getLogger("tifffile")
  if not any(type(f).__name__ == _Divert.__name__ for f in logger.filters):
    logger.addFilter(_Divert())


_divert_tifffile_log()


@contextlib.contextmanager
def tifffile_log():
  """Within the block, what tifffile logs from this thread goes into the yielded list of LogRecords, not to
  stderr."""
  token = _LOG.set([])
  try:
    yield _LOG.get()
  finally:
    _LOG.reset(token)


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
    with tifffile_log(), tifffile.TiffFile(self._path) as tif:
      series = tif.series[0]
      big = series.size * series.dtype.itemsize > _DECODE_TO_DISK_BYTES
      return series.asarray(out="memmap" if big else None).reshape(self._shape)

  def close(self) -> None:
    data, self._data = self._data, None
    if isinstance(data, np.memmap) and getattr(data, "_mmap", None) is not None:
      data._mmap.close()  # pylint: disable=protected-access


def open_tiff(path: str, reads: str) -> Stored:
  """Opens series 0 of a TIFF file; `reads` completes error messages with what jax_iso can read. A damaged or
  truncated file raises UserError."""
  with tifffile_log() as logged:
    try:
      with tifffile.TiffFile(path) as tif:
        if not tif.series:
          raise ValueError("it holds no images")
        series = tif.series[0]
        shape, axes, dtype = tuple(series.shape), series.axes, series.dtype
        spacing, origin, lateral = tiff_spacing(tif)
        damage = _logged_damage(logged) + _missing_images(tif) + _data_past_end(tif)
    except UserError:
      raise
    except Exception as err:  # tifffile raises many kinds of errors for broken files
      reason = str(err).splitlines()[0] if str(err) else type(err).__name__
      raise UserError(f"{path} is not a readable TIFF ({reason}); {reads}") from err
    if damage:
      raise UserError(f"{path} is damaged or truncated ({'; '.join(damage)}): copy or export it again")
    mapped = _memmap(path, shape)
  return Stored(TiffArray(path, shape, mapped), shape, np.dtype(dtype), axes, spacing, origin, lateral)


def _memmap(path: str, shape: tuple[int, ...]) -> np.ndarray | None:
  """Series 0 memory-mapped, or None when it cannot be (compressed, tiled or scattered strips, or empty)."""
  if not all(n > 0 for n in shape):
    return None
  try:
    return tifffile.memmap(path, series=0, mode="r").reshape(shape)
  except Exception:  # pylint: disable=broad-except  # decoded on first read instead
    return None


def _logged_damage(records: list[logging.LogRecord]) -> list[str]:
  """The most telling error tifffile logged about the file's structure (in `_DAMAGE_LOGGED` order), as
  ['tifffile: ...'], or []."""
  errors = [re.sub(r"^(<[^>]*>\s*)+", "", r.getMessage()).strip() for r in records if r.levelno >= logging.ERROR]
  for fragment in _DAMAGE_LOGGED:
    for text in errors:
      if fragment in text.lower():
        return [f"tifffile: {text[:160]}"]
  return []


def _promised_images(tif: tifffile.TiffFile) -> tuple[str, int] | None:
  """(whose promise, number of images) from the ImageJ header or tifffile's shaped metadata, or None."""
  page = tif.pages.first
  meta = tif.imagej_metadata
  if meta:
    channels = int(meta.get("channels", 1))
    planes = int(meta.get("frames", 1)) * int(meta.get("slices", 1)) * channels
    if channels > 1 and channels in (page.shaped[0], page.shaped[4]):  # channels stored as samples of a page
      planes //= channels
    if planes <= 1:
      planes = int(meta.get("images", 1))
    return "the ImageJ header", planes
  shaped = tif.shaped_metadata
  if shaped and len(shaped) == 1 and "shape" in shaped[0] and page.size:
    total = math.prod(int(n) for n in shaped[0]["shape"])
    return ("tifffile's shape metadata", total // page.size) if total % page.size == 0 else None
  return None


def _readable_images(tif: tifffile.TiffFile, promised: int) -> int:
  """Images whose page is in the file; one uncompressed page may be followed by the others' data (ImageJ files
  of more than 4 GB, and ImageJ files whose later pages were cut off)."""
  found = len(tif.pages)
  page = tif.pages.first
  if found == 1 and page.compression == 1 and page.is_contiguous and page.nbytes:
    room = tif.filehandle.size - page.dataoffsets[0]
    return max(found, min(promised, room // page.nbytes))
  return found


def _missing_images(tif: tifffile.TiffFile) -> list[str]:
  """['the ImageJ header promises 12 images, 5 are readable'] when images are missing, else []."""
  try:
    promise = _promised_images(tif)
  except (TypeError, ValueError, KeyError, IndexError, AttributeError):  # odd metadata promises nothing
    return []
  if promise is None or promise[1] <= 1:
    return []
  whose, promised = promise
  readable = _readable_images(tif, promised)
  return [f"{whose} promises {promised} images, {readable} are readable"] if readable < promised else []


def _data_past_end(tif: tifffile.TiffFile) -> list[str]:
  """['image 7 of 12 ends at byte ..., past the end of the file (... bytes)'] for the first such image, or []."""
  size, count = tif.filehandle.size, len(tif.pages)
  tif.pages.useframes = True  # offsets need no full page
  for i in range(count) if count <= _SCAN_PAGES else (0, count - 1):
    page = tif.pages[i]
    end = max((int(o) + int(n) for o, n in zip(page.dataoffsets, page.databytecounts)), default=0)
    if end > size:
      return [f"image {i + 1} of {count} ends at byte {end}, past the end of the file ({size} bytes)"]
  return []


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
