"""An isotropic volume seen with another axis as Z, so its XZ and YZ planes train like lateral (XY) planes.

    views = isotropic_views(src)       # [src, src as (Y, Z, X), src as (X, Z, Y)]
    views[1][y, z0:z1, x0:x1]          # reads src[z0:z1, y, x0:x1]

A lateral crop of view 1 is an XZ plane of the volume, of view 2 a YZ plane: an isotropic volume teaches every
orientation, where an anisotropic one can only teach its lateral planes. Reads are lazy (only the region asked
for) and return arrays in the view's axis order.

    strided_views(src, 4)              # [src[0::4], src[1::4], src[2::4], src[3::4]], each lazy

Every s-th section of a volume, at each of the s offsets: a clip (consecutive sections) of one of them has its
frames s sections apart, as an anisotropic volume's sections are (`data.frame_spacing`).
"""
from __future__ import annotations

import numpy as np

ORDERS = {"xz": (1, 0, 2), "yz": (2, 0, 1)}   # view axis k is source axis order[k]


def _normalise(key, ndim: int) -> tuple:
  key = key if isinstance(key, tuple) else (key,)
  if any(k is Ellipsis for k in key):
    at = key.index(Ellipsis)
    key = key[:at] + (slice(None),) * (ndim - len(key) + 1) + key[at + 1:]
  return key + (slice(None),) * (ndim - len(key))


class TransposedVolume:
  """`src` (Z, Y, X; read with basic indexing) with its axes in `order` (view axis k = source axis order[k])."""

  def __init__(self, src, order: tuple[int, int, int]):
    if sorted(order) != [0, 1, 2]:
      raise ValueError(f"order must be a permutation of (0, 1, 2), got {order}")
    self.src, self.order = src, tuple(order)
    self.shape = tuple(int(src.shape[a]) for a in self.order)
    self.dtype = np.dtype(src.dtype)
    self.path = getattr(src, "path", None)
    self.spacing = getattr(src, "spacing", None)

  ndim = 3

  def __getitem__(self, key) -> np.ndarray:
    key = _normalise(key, 3)
    source_key = [slice(None)] * 3
    for k, a in enumerate(self.order):
      source_key[a] = key[k]
    block = np.asarray(self.src[tuple(source_key)])
    kept = [a for a in range(3) if not isinstance(source_key[a], (int, np.integer))]   # source axes left
    return block.transpose([kept.index(a) for a in self.order if a in kept])

  def close(self) -> None:
    """The source is closed by its owner (it is also the first view)."""


def isotropic_views(src) -> list:
  """`src` and its two transposed views (XZ and YZ planes as lateral planes)."""
  return [src] + [TransposedVolume(src, order) for order in ORDERS.values()]


class StridedVolume:
  """`src` (Z, Y, X; read with basic indexing) at every `step`-th section from `offset`: view z is source
  section offset + step * z; its Z spacing is `step` times the source's."""

  def __init__(self, src, step: int, offset: int = 0):
    step, offset = int(step), int(offset)
    if step < 1 or not 0 <= offset < step or offset >= int(src.shape[0]):
      raise ValueError(f"step={step} must be >= 1 and offset={offset} in [0, step) and below the source's "
                       f"{int(src.shape[0])} sections")
    self.src, self.step, self.offset = src, step, offset
    self.shape = (len(range(offset, int(src.shape[0]), step)),) + tuple(int(n) for n in src.shape[1:])
    self.dtype = np.dtype(src.dtype)
    self.path = getattr(src, "path", None)
    sp = getattr(src, "spacing", None)
    self.spacing = None if sp is None else (float(sp[0]) * step,) + tuple(sp[1:])

  ndim = 3

  def __getitem__(self, key) -> np.ndarray:
    key = _normalise(key, 3)
    z = key[0]
    if isinstance(z, (int, np.integer)):
      n = self.shape[0]
      if not -n <= z < n:
        raise IndexError(f"section {z} out of range for {n} sections")
      source_z = self.offset + self.step * (int(z) % n)
    else:
      start, stop, stride = z.indices(self.shape[0])
      if stride < 1:
        raise IndexError("a strided view reads sections in increasing order (a positive step)")
      source_z = slice(self.offset + self.step * start, self.offset + self.step * max(start, stop - 1) + 1,
                       self.step * stride) if stop > start else slice(0, 0)
    return np.asarray(self.src[(source_z,) + key[1:]])

  def close(self) -> None:
    """The source is closed by its owner."""


def strided_views(src, step: int) -> list:
  """`src` at every `step`-th section, one view per offset 0 ... step - 1 (every section is in one of them);
  `[src]` for step 1."""
  step = int(step)
  if step <= 1:
    return [src]
  return [StridedVolume(src, step, offset) for offset in range(min(step, int(src.shape[0])))]
