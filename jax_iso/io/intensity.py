"""Intensity windows: stored values <-> the [0, 1] range models compute in."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from jax_iso.errors import UserError

_SUBSAMPLE_VOXELS = 16 * 1024 * 1024
_SLAB_VOXELS = 16 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Intensity:
  """Maps stored values in [lo, hi] to [0, 1] (`to_unit`) and back to `dtype` (`from_unit`)."""
  lo: float
  hi: float
  dtype: np.dtype

  def __post_init__(self):
    object.__setattr__(self, "lo", float(self.lo))
    object.__setattr__(self, "hi", float(self.hi))
    object.__setattr__(self, "dtype", np.dtype(self.dtype))
    if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.hi > self.lo):
      raise UserError(f"intensity range [{self.lo}, {self.hi}] is empty or not finite; give lo < hi")

  def to_unit(self, x):
    """float32 (x - lo) / (hi - lo), unclipped; numpy in, numpy out; jax.Array in, jax.Array out."""
    if not hasattr(x, "astype") or isinstance(x, (np.ndarray, np.generic)):
      x = np.asarray(x)
    return (x.astype(np.float32) - np.float32(self.lo)) * np.float32(1.0 / (self.hi - self.lo))

  def from_unit(self, y) -> np.ndarray:
    """Back to `dtype`: integers are clipped to [0, 1], scaled and rounded half to even; floats unclipped."""
    y = np.asarray(y, dtype=np.float32)
    if np.issubdtype(self.dtype, np.integer):
      info = np.iinfo(self.dtype)
      x = np.rint(np.clip(np.nan_to_num(y, nan=0.0), 0.0, 1.0) * np.float32(self.hi - self.lo)
                  + np.float32(self.lo))
      return np.clip(x, info.min, info.max).astype(self.dtype)
    return (y * np.float32(self.hi - self.lo) + np.float32(self.lo)).astype(self.dtype)


def intensity_of(volume, *, mode: str = "dtype", percentiles=(0.1, 99.9)) -> Intensity:
  """The intensity window of a volume (VolumeSource or array).

  mode "dtype": uint8 -> [0, 255], uint16 -> [0, 65535], float -> [0, 1] if the data lies within it, else
  [min, max]. mode "percentile": the given percentiles of (a strided subsample of at most ~16M voxels of) the
  data. An empty window [v, v] becomes [v, v + 1].
  """
  dtype = np.dtype(volume.dtype)
  if dtype == np.float64:
    dtype = np.dtype(np.float32)
  if mode == "dtype":
    if np.issubdtype(dtype, np.integer):
      info = np.iinfo(dtype)
      return Intensity(info.min, info.max, dtype)
    lo, hi = _min_max(volume)
    return Intensity(0.0, 1.0, dtype) if lo >= 0.0 and hi <= 1.0 else _window(lo, hi, dtype)
  if mode == "percentile":
    lo_p, hi_p = (float(p) for p in percentiles)
    if not 0.0 <= lo_p < hi_p <= 100.0:
      raise UserError(f"percentiles {tuple(percentiles)} are not two increasing numbers in [0, 100]; give e.g. "
                      "(0.1, 99.9)")
    values = _subsample(volume).ravel()
    values = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    if values.size == 0:
      raise UserError("the volume has no finite voxels; replace NaN/Inf values (e.g. numpy.nan_to_num)")
    lo, hi = np.percentile(values, [lo_p, hi_p])
    return _window(lo, hi, dtype)
  raise UserError(f"intensity mode '{mode}' is unknown; use 'dtype' or 'percentile'")


def _window(lo: float, hi: float, dtype: np.dtype) -> Intensity:
  lo, hi = float(lo), float(hi)
  return Intensity(lo, hi if hi > lo else lo + 1.0, dtype)


def _min_max(volume) -> tuple[float, float]:
  """Finite min and max, reading Z slabs of about 16M voxels."""
  shape = tuple(volume.shape)
  slab = max(1, _SLAB_VOXELS // max(1, int(np.prod(shape[1:]))))
  lo, hi = math.inf, -math.inf
  for z0 in range(0, shape[0], slab):
    block = np.asarray(volume[z0:z0 + slab], dtype=np.float32)
    block = block[np.isfinite(block)]
    if block.size:
      lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
  if lo > hi:
    raise UserError("the volume has no finite voxels; replace NaN/Inf values (e.g. numpy.nan_to_num)")
  return lo, hi


def subsample_steps(shape: tuple[int, ...], budget: int | None = None) -> tuple[int, ...]:
  """Per-axis strides that keep at most `budget` (default ~16M) voxels, thinning the longest axis first."""
  budget = _SUBSAMPLE_VOXELS if budget is None else budget
  steps = [1] * len(shape)
  count = lambda: math.prod(-(-n // s) for n, s in zip(shape, steps))  # noqa: E731
  while count() > budget:
    axis = max(range(len(shape)), key=lambda i: -(-shape[i] // steps[i]))
    steps[axis] += 1
  return tuple(steps)


def _subsample(volume) -> np.ndarray:
  steps = subsample_steps(tuple(volume.shape))
  return np.asarray(volume[tuple(slice(None, None, s) for s in steps)])
