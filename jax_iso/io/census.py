"""Absent chunks of zarr, N5 and precomputed volumes.

tensorstore reads a chunk that has no file as the array's fill value. Writers skip chunks equal to the fill value
(zarr does by default), so absent chunks are normal in an empty region, but an incomplete copy reads the same
way. Opening a volume counts the chunk files present against the chunk grid; `missing_chunks` sets what a
shortfall does: "warn" (the default) prints one line, "error" refuses the volume.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator

import numpy as np

from jax_iso.errors import UserError

POLICIES = ("warn", "error")
MAX_GRID = 1 << 22  # volumes of more chunks are not counted: listing them would slow every open
_SHOWN = 4          # missing chunk indices named by the error
_INT = re.compile(r"0|[1-9][0-9]*")  # a chunk key's number, as zarr and N5 write it
_PRECOMPUTED_KEY = re.compile(r"(-?[0-9]+)-(-?[0-9]+)_(-?[0-9]+)-(-?[0-9]+)_(-?[0-9]+)-(-?[0-9]+)")
_POLICY = contextvars.ContextVar("missing_chunks", default="warn")
_UNCHECKED = contextvars.ContextVar("missing_chunks_unchecked", default=False)
_warned: set[str] = set()


@contextlib.contextmanager
def missing_chunks(policy: str | None):
  """Within the block, chunked volumes opened with absent chunks (read as the fill value) print a warning
  ("warn", the default) or raise UserError ("error"); None keeps the current policy: how a command's
  missing_chunks setting reaches every volume its job opens."""
  if policy is None:
    yield
    return
  if str(policy) not in POLICIES:
    raise UserError(f"missing_chunks={policy} is not a policy jax_iso knows; choose warn (read absent chunks "
                    "as the fill value, with a warning) or error (refuse volumes with absent chunks)")
  token = _POLICY.set(str(policy))
  try:
    yield
  finally:
    _POLICY.reset(token)


@contextlib.contextmanager
def unchecked():
  """Within the block, opened volumes are not counted (a volume reopened in a worker was counted before)."""
  token = _UNCHECKED.set(True)
  try:
    yield
  finally:
    _UNCHECKED.reset(token)


@dataclasses.dataclass(frozen=True, eq=False)
class Census:
  """The chunk grid of an array and the indices of the chunks that have a file, in the order `labels` names."""
  grid: tuple[int, ...]
  present: np.ndarray  # (chunks found, ndim) int64, each row a chunk index inside the grid
  fill: object
  labels: str | None  # e.g. "zyx" (a 3D array without axis names is read as z, y, x); None when unknown

  @property
  def total(self) -> int:
    return math.prod(self.grid)

  @property
  def missing(self) -> int:
    return self.total - len(self.present)

  def first_missing(self, count: int = _SHOWN) -> list[tuple[int, ...]]:
    """The first `count` absent chunk indices in C order."""
    mask = np.zeros(self.grid, dtype=bool)
    mask[tuple(self.present.T)] = True
    return [tuple(int(i) for i in found) for found in np.argwhere(~mask)[:count]]


def check(path: str, driver: str, axes: str | None) -> None:
  """Counts the chunks of the array at `path` (tensorstore `driver`, axis letters `axes` in the order the
  volume is read) and warns or raises, as `missing_chunks` says, when some are absent."""
  if _UNCHECKED.get():
    return
  found = census(path, driver, axes)
  if found is None or not found.missing:
    return
  fill = 0 if found.fill is None else found.fill
  if _POLICY.get() == "error":
    labels = f" ({', '.join(found.labels)})" if found.labels else ""
    shown = ", ".join(str(i) for i in found.first_missing()) + (", ..." if found.missing > _SHOWN else "")
    raise UserError(f"{path}: {found.missing} of {found.total} chunks are absent (first{labels}: {shown}); copy "
                    f"it again completely, or give missing_chunks=warn to read them as the fill value {fill}")
  key = os.path.abspath(path)
  if key not in _warned:
    _warned.add(key)
    print(f"jax_iso: warning: {path}: {found.missing} of {found.total} chunks are absent and read as the fill "
          f"value {fill} (normal where the volume is empty; an incomplete copy otherwise); "
          "missing_chunks=error refuses such input", file=sys.stderr)


def census(path: str, driver: str, axes: str | None = None) -> Census | None:
  """The chunks of a local zarr v2/v3, N5 or unsharded precomputed array; None for other layouts, unreadable
  metadata, or grids of more than MAX_GRID chunks."""
  try:
    layout = _LAYOUTS[driver](path)
    if layout is None:
      return None
    grid, keys, fill, reverse = layout
    if not grid or math.prod(grid) > MAX_GRID:
      return None
    found = np.array(list(keys), dtype=np.int64).reshape(-1, len(grid))
  except (KeyError, OSError, ValueError, TypeError, AttributeError, IndexError, ZeroDivisionError):
    return None
  found = found[((found >= 0) & (found < np.array(grid))).all(axis=1)]
  grid, found = (grid[::-1], found[:, ::-1]) if reverse else (grid, found)
  labels = "zyx" if driver == "neuroglancer_precomputed" or (axes is None and len(grid) == 3) else axes
  labels = labels.lower() if labels and len(labels) == len(grid) and "?" not in labels else None
  return Census(grid, found, fill, labels)


def _load(path: str, name: str) -> dict:
  with open(os.path.join(path, name), encoding="utf-8") as f:
    return json.load(f)


def _grid(shape, chunks) -> tuple[int, ...]:
  if len(shape) != len(chunks):
    raise ValueError("shape and chunks differ in length")
  return tuple(-(-int(n) // int(c)) for n, c in zip(shape, chunks))


def _zarr(path: str):
  meta = _load(path, ".zarray")
  grid = _grid(meta["shape"], meta["chunks"])
  return grid, _keys(path, len(grid), meta.get("dimension_separator") or ".", ""), meta.get("fill_value"), False


def _zarr3(path: str):
  meta = _load(path, "zarr.json")
  grid = _grid(meta["shape"], meta["chunk_grid"]["configuration"]["chunk_shape"])  # shards when sharded
  encoding = meta.get("chunk_key_encoding") or {"name": "default"}
  default = encoding.get("name") == "default"
  separator = (encoding.get("configuration") or {}).get("separator") or ("/" if default else ".")
  keys = _keys(path, len(grid), separator, "c" if default else "")
  return grid, keys, meta.get("fill_value"), False


def _n5(path: str):
  attrs = _load(path, "attributes.json")
  grid = _grid(attrs["dimensions"], attrs["blockSize"])
  return grid, _keys(path, len(grid), "/", ""), 0, True  # N5 lists x first


def _precomputed(path: str):
  scale = _load(path, "info")["scales"][0]
  if scale.get("sharding"):
    return None
  size, chunk = scale["size"], scale["chunk_sizes"][0]
  offset = scale.get("voxel_offset") or [0, 0, 0]
  grid = _grid(size, chunk)
  return grid, _precomputed_keys(os.path.join(path, scale["key"]), offset, chunk, size), 0, True  # x, y, z


_LAYOUTS = {"zarr": _zarr, "zarr3": _zarr3, "n5": _n5, "neuroglancer_precomputed": _precomputed}


def _keys(folder: str, ndim: int, separator: str, prefix: str) -> Iterable[tuple[int, ...]]:
  """Chunk indices of the files named like `prefix` + separator-joined indices (zarr/N5 chunk keys)."""
  if separator == "/":
    return _nested(os.path.join(folder, prefix) if prefix else folder, ndim)
  return _flat(folder, ndim, prefix + separator if prefix else "", separator)


def _nested(folder: str, depth: int) -> list[tuple[int, ...]]:
  """Indices of files `i/j/.../k` under `folder`, `depth` numbers deep (listed level by level)."""
  level: list[tuple[tuple[int, ...], str]] = [((), folder)]
  for _ in range(depth - 1):
    deeper = []
    for index, path in level:
      with contextlib.suppress(OSError):  # a folder of absent chunks
        with os.scandir(path) as entries:
          deeper += [((*index, int(e.name)), e.path) for e in entries if _INT.fullmatch(e.name) and e.is_dir()]
    level = deeper
  found = []
  for index, path in level:
    with contextlib.suppress(OSError):
      with os.scandir(path) as entries:
        found += [(*index, int(e.name)) for e in entries if _INT.fullmatch(e.name) and e.is_file()]
  return found


def _flat(folder: str, ndim: int, lead: str, separator: str) -> Iterator[tuple[int, ...]]:
  """Indices of files `lead` + `i.j.k` in `folder` (`separator` between the numbers)."""
  with os.scandir(folder) as entries:
    for entry in entries:
      if not entry.name.startswith(lead):
        continue
      parts = entry.name[len(lead):].split(separator)
      if len(parts) == ndim and all(_INT.fullmatch(p) for p in parts) and entry.is_file():
        yield tuple(int(p) for p in parts)


def _precomputed_keys(folder: str, offset, chunk, size) -> Iterator[tuple[int, ...]]:
  """(x, y, z) chunk indices of the files `x0-x1_y0-y1_z0-z1` of an unsharded precomputed scale (the names
  tensorstore reads: chunk-aligned starts, ends clipped to the volume)."""
  if not os.path.isdir(folder):
    return
  with os.scandir(folder) as entries:
    for entry in entries:
      found = _PRECOMPUTED_KEY.fullmatch(entry.name)
      if not found or not entry.is_file():
        continue
      bounds = [int(b) for b in found.groups()]
      starts = [b - int(o) for b, o in zip(bounds[0::2], offset)]
      ends = [min(s + int(c), int(n)) for s, c, n in zip(starts, chunk, size)]
      if all(s % int(c) == 0 for s, c in zip(starts, chunk)) and ends == [b - int(o) for b, o in
                                                                           zip(bounds[1::2], offset)]:
        yield tuple(s // int(c) for s, c in zip(starts, chunk))
