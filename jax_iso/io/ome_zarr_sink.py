"""OME-Zarr (NGFF 0.4, zarr v2) writer: level 0 streamed through tensorstore, then a mean pyramid."""
from __future__ import annotations

import itertools
import json
import math
import os

import numpy as np
import tensorstore as ts

from jax_iso.io import indexing
from jax_iso.io.sink import VolumeSink, remove

CHUNK = 64            # chunk edge of every level (clipped to the level's shape)
MAX_LEVELS = 5        # level 0 included
MIN_LATERAL = 64      # no level whose Y or X size would fall below this
_BOX_VOXELS = 32 << 20  # voxels per block when building the pyramid
_COMPRESSOR = {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 1, "blocksize": 0}
_ZARR_DTYPE = {"uint8": "|u1", "uint16": "<u2", "float32": "<f4"}


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


def multiscales(name: str, levels, has_unit: bool) -> dict:
  """The NGFF 0.4 `multiscales` entry for `levels` from `plan_levels`."""
  axes = [{"name": a, "type": "space", **({"unit": "nanometer"} if has_unit else {})} for a in "zyx"]
  base = levels[0][1]
  datasets = []
  for k, (_, spacing, _) in enumerate(levels):
    transforms = [{"type": "scale", "scale": list(spacing)}]
    if k:  # voxel centres of a mean-downsampled level sit half a (new) voxel in
      transforms.append({"type": "translation", "translation": [(s - b) / 2 for s, b in zip(spacing, base)]})
    datasets.append({"path": str(k), "coordinateTransformations": transforms})
  return {"version": "0.4", "name": name, "axes": axes, "datasets": datasets, "type": "mean",
          "metadata": {"method": "tensorstore.downsample(method='mean'), rounded half to even for integers"}}


def _create_level(folder: str, name: str, shape, dtype: np.dtype) -> ts.TensorStore:
  spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": os.path.join(folder, name)},
          "metadata": {"shape": list(shape), "chunks": [min(CHUNK, n) for n in shape],
                       "dtype": _ZARR_DTYPE[dtype.name], "compressor": _COMPRESSOR, "fill_value": 0,
                       "order": "C", "dimension_separator": "/"}}
  return ts.open(spec, create=True, read=True, write=True).result()


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
  """Writes level 0 into a hidden temp directory; `commit` builds the pyramid, writes .zattrs, swaps in."""

  def __init__(self, path, shape, dtype, spacing, description, resume_dir=None):
    super().__init__(path, shape, dtype, spacing, description, resume_dir)
    self.levels = plan_levels(self.shape, self.spacing)
    self._level0 = None
    try:
      self._open_temp()
    except BaseException:
      self.suspend()  # abort() unless resumable
      raise

  def _create(self) -> None:
    os.mkdir(self.temp)
    with open(os.path.join(self.temp, ".zgroup"), "w", encoding="utf-8") as f:
      json.dump({"zarr_format": 2}, f)
    self._level0 = _create_level(self.temp, "0", self.shape, self.dtype)

  def _reopen(self) -> None:
    spec = {"driver": "zarr", "kvstore": {"driver": "file", "path": os.path.join(self.temp, "0")}}
    level0 = ts.open(spec, open=True, read=True, write=True).result()
    if tuple(level0.shape) != self.shape or np.dtype(level0.dtype.numpy_dtype) != self.dtype:
      raise ValueError(f"{self.temp} holds {tuple(level0.shape)} {level0.dtype}, not {self.shape} {self.dtype}")
    self._level0 = level0

  def _write(self, index: list[indexing.AxisIndex], block: np.ndarray) -> None:
    self._level0[tuple(a.span for a in index)].write(block).result()

  def _finish(self) -> None:
    prev = self._level0
    for k, (shape, _, factors) in enumerate(self.levels[1:], start=1):
      remove(os.path.join(self.temp, str(k)))  # left by a commit that a kill interrupted (resumable writers)
      level = _create_level(self.temp, str(k), shape, self.dtype)
      mean = ts.downsample(ts.cast(prev, ts.float32), list(factors), method="mean")
      for box in boxes(shape, [min(CHUNK, n) for n in shape]):
        level[box].write(_to_dtype(mean[box].read().result(), self.dtype)).result()
      prev = level
    attrs = {"multiscales": [multiscales(os.path.basename(os.path.abspath(self.path)), self.levels,
                                         self.spacing is not None)]}
    if self.description:
      attrs["jax_iso"] = {"description": self.description}
    with open(os.path.join(self.temp, ".zattrs"), "w", encoding="utf-8") as f:
      json.dump(attrs, f, indent=2, default=str)
    self._close()

  def _close(self) -> None:
    self._level0 = None
