"""Orientation augmentation that keeps the anisotropic (Z) axis where it is.

- lateral [h, w] and clip [d, h, w] crops: the 8 elements of the dihedral group of the last two axes.
  Orientation o: rotate by (o % 4) quarter turns (`np.rot90` on axes (-2, -1)), then, if o >= 4, flip the
  last axis. Odd o turn the region by 90 degrees, so they read a (w, h) region to return an (h, w) crop.
- axial [h, w] crops (h along Z): the 4 flips that keep Z first; bit 0 flips Z (axis 0), bit 1 flips W.
"""
from __future__ import annotations

import numpy as np

COUNT = {"lateral": 8, "clip": 8, "axial": 4}


def count(kind: str, augment: bool) -> int:
  """How many orientations crops of `kind` are drawn from (1: the identity only)."""
  return COUNT[kind] if augment else 1


def transposed(kind: str, orientation: int) -> bool:
  """Whether `orientation` reads the region with its last two axes swapped ((w, h) for an (h, w) crop)."""
  return kind != "axial" and orientation % 2 == 1


def apply(kind: str, region: np.ndarray, orientation: int) -> np.ndarray:
  """`region` (as read from the volume) in `orientation`; a view where numpy allows."""
  if kind == "axial":
    if orientation & 1:
      region = region[::-1]
    if orientation & 2:
      region = region[..., ::-1]
    return region
  region = np.rot90(region, orientation % 4, axes=(-2, -1))
  return region[..., ::-1] if orientation >= 4 else region
