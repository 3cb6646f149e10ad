"""Basic numpy indexing (ints, slices, Ellipsis) turned into forward slices that any backend can read."""
from __future__ import annotations

import dataclasses
import numbers

import numpy as np


@dataclasses.dataclass(frozen=True)
class AxisIndex:
  """One axis of a normalized index: read `span` (step > 0), then flip it and/or drop the axis."""
  span: slice
  flip: bool = False
  drop: bool = False


def normalize(key, shape: tuple[int, ...]) -> list[AxisIndex]:
  """Normalizes `key` for an array of `shape`; raises IndexError/TypeError like numpy does."""
  key = key if isinstance(key, tuple) else (key,)
  if sum(k is Ellipsis for k in key) > 1:
    raise IndexError("an index can only have a single ellipsis ('...')")
  if Ellipsis in key:
    at = key.index(Ellipsis)
    key = key[:at] + (slice(None),) * (len(shape) - len(key) + 1) + key[at + 1:]
  if len(key) > len(shape):
    raise IndexError(f"too many indices: {len(key)} for a {len(shape)}-D volume")
  key = key + (slice(None),) * (len(shape) - len(key))
  return [_axis(k, n) for k, n in zip(key, shape)]


def _axis(k, n: int) -> AxisIndex:
  if isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, (bool, np.bool_)):
    i = int(k)
    if not -n <= i < n:
      raise IndexError(f"index {i} is out of bounds for an axis of size {n}")
    i %= n
    return AxisIndex(slice(i, i + 1, 1), drop=True)
  if isinstance(k, slice):
    start, stop, step = k.indices(n)
    count = len(range(start, stop, step))
    if count == 0:
      return AxisIndex(slice(0, 0, 1))
    if step > 0:
      return AxisIndex(slice(start, start + (count - 1) * step + 1, step))
    first = start + (count - 1) * step
    return AxisIndex(slice(first, start + 1, -step), flip=True)
  raise TypeError(f"volumes support basic indexing with ints, slices and '...', not {type(k).__name__}")


def finish(block: np.ndarray, index: list[AxisIndex]) -> np.ndarray:
  """Applies the flips and drops of `index` to a block read with its forward spans."""
  flips = tuple(slice(None, None, -1) if a.flip else slice(None) for a in index)
  block = block[flips]
  drops = tuple(0 if a.drop else slice(None) for a in index)
  return block[drops]


def target_shape(index: list[AxisIndex]) -> tuple[int, ...]:
  """Shape that indexing with `index` gives (numpy semantics)."""
  return tuple(len(range(a.span.start, a.span.stop, a.span.step)) for a in index if not a.drop)


def to_forward(block: np.ndarray, index: list[AxisIndex]) -> np.ndarray:
  """Inverse of `finish` for writes: broadcasts `block` and lays it out along the forward spans."""
  block = np.broadcast_to(block, target_shape(index))
  block = block.reshape([len(range(a.span.start, a.span.stop, a.span.step)) for a in index])
  flips = tuple(slice(None, None, -1) if a.flip else slice(None) for a in index)
  return block[flips]
