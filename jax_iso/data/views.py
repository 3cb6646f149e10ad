"""An isotropic volume seen with another axis as Z, so its XZ and YZ planes train like lateral (XY) planes.

    views = isotropic_views(src)       # [src, src as (Y, Z, X), src as (X, Z, Y)]
    views[1][y, z0:z1, x0:x1]          # reads src[z0:z1, y, x0:x1]

A lateral crop of view 1 is an XZ plane of the volume, of view 2 a YZ plane: an isotropic volume teaches every
orientation, where an anisotropic one can only teach its lateral planes. Reads are lazy (only the region asked
for) and return arrays in the view's axis order.
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
