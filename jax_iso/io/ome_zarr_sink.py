"""OME-Zarr writer, NGFF 0.4 (zarr v2: what napari-ome-zarr and Fiji read today) or 0.5 (zarr v3): level 0
streamed through tensorstore, then a mean pyramid."""
from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re

import numpy as np
import tensorstore as ts

from jax_iso.io import indexing
from jax_iso.io.sink import VolumeSink, remove

CHUNK = 64            # chunk edge of every level (clipped to the level's shape)
MAX_LEVELS = 5        # level 0 included
MIN_LATERAL = 64      # no level whose Y or X size would fall below this
_BOX_VOXELS = 32 << 20  # voxels per block when building the pyramid
_SETTLE_SECONDS = 120   # how long an interrupted write waits for the chunks already being written
_COMPRESSOR = {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0}
_ZARR_DTYPE = {"uint8": "|u1", "uint16": "<u2", "float32": "<f4"}
VERSIONS = ("0.4", "0.5")
# tensorstore status codes of failed reads and writes (not of bad arguments)
_IO_STATUS = ("OUT_OF_RANGE", "RESOURCE_EXHAUSTED", "PERMISSION_DENIED", "UNAVAILABLE", "DATA_LOSS", "UNKNOWN",
              "INTERNAL", "ABORTED", "DEADLINE_EXCEEDED", "FAILED_PRECONDITION", "NOT_FOUND")


def plan_levels(shape, spacing) -> list[tuple[tuple[int, int, int], tuple[float, float, float],
                                              tuple[int, int, int]]]:
  """[(shape, spacing, factors from the previous level)] of the pyramid.

  Each level halves the axes finer than max(spacing) / 1.5 (all axes when none is), never an axis of size 1;
  it stops before Y or X would drop below MIN_LATERAL, or at MAX_LEVELS levels.
  """
  shape = tuple(int(n) for n in shape)
  spacing = tuple(float(s) for s in spacing) if spacing is not None else (1.0, 1.0, 1.0)
  levels = [(shape, spacing, (1, 1, 1))]
  while len(levels) < MAX_LEVELS:
    prev_shape, prev_spacing, _ = levels[-1]
    coarsest = max(prev_spacing)
    halve = [s < coarsest / 1.5 for s in prev_spacing]
    if not any(halve):
      halve = [True, True, True]
    factors = tuple(2 if h and n > 1 else 1 for h, n in zip(halve, prev_shape))
    new_shape = tuple(-(-n // f) for n, f in zip(prev_shape, factors))
    if factors == (1, 1, 1) or min(new_shape[1:]) < MIN_LATERAL:
      break
    levels.append((new_shape, tuple(s * f for s, f in zip(prev_spacing, factors)), factors))
  return levels  # type: ignore[return-value]


def multiscales(name: str, levels, has_unit: bool, version: str = "0.4") -> dict:
  """The NGFF `multiscales` entry for `levels` from `plan_levels` (0.5 states its version on the group)."""
  axes = [{"name": a, "type": "space", **({"unit": "nanometer"} if has_unit else {})} for a in "zyx"]
  base = levels[0][1]
  datasets = []
  for k, (_, spacing, _) in enumerate(levels):
    transforms = [{"type": "scale", "scale": list(spacing)}]
    if k:  # voxel centres of a mean-downsampled level sit half a (new) voxel in
      transforms.append({"type": "translation", "translation": [(s - b) / 2 for s, b in zip(spacing, base)]})
    datasets.append({"path": str(k), "coordinateTransformations": transforms})
  return {**({"version": version} if version == "0.4" else {}), "name": name, "axes": axes,
          "datasets": datasets, "type": "mean",
          "metadata": {"method": "tensorstore.downsample(method='mean'), rounded half to even for integers"}}


def _driver(version: str) -> str:
  return "zarr" if version == "0.4" else "zarr3"


def _create_level(folder: str, name: str, shape, dtype: np.dtype, version: str, output: str) -> ts.TensorStore:
  """Creates level `name` in `folder`, the temp of `output` (named by errors)."""
  chunks = [min(CHUNK, n) for n in shape]
  if version == "0.4":
    metadata = {"shape": list(shape), "chunks": chunks, "dtype": _ZARR_DTYPE[dtype.name],
                "compressor": _COMPRESSOR, "fill_value": 0, "order": "C", "dimension_separator": "/"}
  else:
    blosc = {"cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": dtype.itemsize, "blocksize": 0}
    metadata = {"shape": list(shape), "data_type": dtype.name, "fill_value": 0, "dimension_names": ["z", "y", "x"],
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                           {"name": "blosc", "configuration": blosc}]}
  spec = {"driver": _driver(version), "kvstore": {"driver": "file", "path": os.path.join(folder, name)},
          "metadata": metadata, "store_data_equal_to_fill_value": True}  # no absent chunks (census.py)
  return _io(lambda: ts.open(spec, create=True, read=True, write=True).result(), output)


def _io(call, path: str):
  """`call()`; a tensorstore I/O failure (disk full...) is raised as an OSError about `path`."""
  try:
    return call()
  except ValueError as err:
    failure = _os_error(err, path)
    if failure is None:
      raise
    raise failure from err


def _os_error(err: ValueError, path: str) -> OSError | None:
  """The OSError a tensorstore I/O error stands for (its errno kept when it names one), or None when `err` is
  not an I/O failure (e.g. a bad argument)."""
  text = str(err)
  code = re.search(r"os_error_code=\D?(\d+)", text)
  if code:
    number = int(code.group(1))
    return OSError(number, os.strerror(number), path)
  if text.startswith(_IO_STATUS):
    return OSError(f"{path}: {text.splitlines()[0]}")
  return None


def _write_box(store: ts.TensorStore, box: tuple, data: np.ndarray, path: str) -> None:
  """Writes `data` at `box` and waits until every chunk has finished, also after a failure (a transaction's
  commit waits for all its chunks) or an interrupt, so that nothing writes into the temp once it is removed."""
  def write():
    transaction = ts.Transaction()
    store.with_transaction(transaction)[box].write(data).result()  # into memory only
    commit = transaction.commit_async()
    try:
      commit.result()
    except BaseException:  # KeyboardInterrupt, SIGTERM: the cleanup that follows must not race the chunks
      with contextlib.suppress(BaseException):
        commit.exception(timeout=_SETTLE_SECONDS)
      raise
  _io(write, path)


def _write_group(folder: str, version: str, attrs: dict | None) -> None:
  """The group's metadata: .zgroup + .zattrs (0.4) or zarr.json with the attributes under "ome" (0.5)."""
  if version == "0.4":
    with open(os.path.join(folder, ".zgroup"), "w", encoding="utf-8") as f:
      json.dump({"zarr_format": 2}, f)
    if attrs is not None:
      with open(os.path.join(folder, ".zattrs"), "w", encoding="utf-8") as f:
        json.dump(attrs, f, indent=2, default=str)
    return
  attributes = {}
  if attrs is not None:
    attributes = {"ome": {"version": version, "multiscales": attrs["multiscales"]},
                  **{k: v for k, v in attrs.items() if k != "multiscales"}}
  with open(os.path.join(folder, "zarr.json"), "w", encoding="utf-8") as f:
    json.dump({"zarr_format": 3, "node_type": "group", "attributes": attributes}, f, indent=2, default=str)


def boxes(shape, chunks, budget: int = _BOX_VOXELS):
  """Chunk-aligned boxes (tuples of slices) covering `shape`, each of at most ~`budget` voxels."""
  box = list(chunks)
  for axis in (2, 1, 0):
    others = math.prod(box) // box[axis]
    box[axis] = min(shape[axis], max(1, budget // (others * chunks[axis])) * chunks[axis])
  starts = [range(0, n, b) for n, b in zip(shape, box)]
  for origin in itertools.product(*starts):
    yield tuple(slice(o, min(o + b, n)) for o, b, n in zip(origin, box, shape))


def _to_dtype(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
  if np.issubdtype(dtype, np.integer):
    info = np.iinfo(dtype)
    return np.clip(np.rint(data), info.min, info.max).astype(dtype)
  return data.astype(dtype)


class OmeZarrSink(VolumeSink):
  """Writes level 0 into a hidden temp directory; `commit` builds the pyramid, writes the group's metadata and
  swaps it in. `version`: the NGFF version, "0.4" or "0.5"."""

  def __init__(self, path, shape, dtype, spacing, description, resume_dir=None, version: str = "0.4"):
    if version not in VERSIONS:
      raise ValueError(f"OME-Zarr version {version!r} is not one jax_iso writes ({', '.join(VERSIONS)})")
    self.version = version
    super().__init__(path, shape, dtype, spacing, description, resume_dir)
    self.levels = plan_levels(self.shape, self.spacing)
    self._level0 = None
    try:
      self._open_temp()
    except BaseException:
      self.suspend()  # abort() unless resumable
      raise

  def _header(self) -> dict:
    return {**super()._header(), "ome_version": self.version}

  def _create(self) -> None:
    os.mkdir(self.temp)
    _write_group(self.temp, self.version, None)
    self._level0 = _create_level(self.temp, "0", self.shape, self.dtype, self.version, self.path)

  def _reopen(self) -> None:
    spec = {"driver": _driver(self.version), "kvstore": {"driver": "file", "path": os.path.join(self.temp, "0")},
            "store_data_equal_to_fill_value": True}
    level0 = _io(lambda: ts.open(spec, open=True, read=True, write=True).result(), self.path)
    if tuple(level0.shape) != self.shape or np.dtype(level0.dtype.numpy_dtype) != self.dtype:
      raise ValueError(f"{self.temp} holds {tuple(level0.shape)} {level0.dtype}, not {self.shape} {self.dtype}")
    self._level0 = level0

  def _write(self, index: list[indexing.AxisIndex], block: np.ndarray) -> None:
    _write_box(self._level0, tuple(a.span for a in index), block, self.path)

  def _finish(self) -> None:
    prev = self._level0
    for k, (shape, _, factors) in enumerate(self.levels[1:], start=1):
      remove(os.path.join(self.temp, str(k)))  # left by a commit that a kill interrupted (resumable writers)
      level = _create_level(self.temp, str(k), shape, self.dtype, self.version, self.path)
      mean = ts.downsample(ts.cast(prev, ts.float32), list(factors), method="mean")
      for box in boxes(shape, [min(CHUNK, n) for n in shape]):
        _write_box(level, box, _to_dtype(_io(mean[box].read().result, self.path), self.dtype), self.path)
      prev = level
    attrs = {"multiscales": [multiscales(os.path.basename(os.path.abspath(self.path)), self.levels,
                                         self.spacing is not None, self.version)]}
    if self.description:
      attrs["jax_iso"] = {"description": self.description}
    _write_group(self.temp, self.version, attrs)
    self._close()

  def _close(self) -> None:
    self._level0 = None
