"""Streaming a volume through a function in Y slabs, so memory stays bounded for large volumes.

Operations along Z (section integration, Z interpolation) and along X are independent across Y rows, so a
volume (Z, Y, X) can be processed as slabs (Z, y0:y1, X). Every slab has the same shape (the last one is padded
by repeating its edge row and cropped after), so a jitted function compiles once.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jax_iso import progress

DEFAULT_BUDGET_BYTES = 512 * 2**20


def slab_bounds(n: int, size: int) -> list[tuple[int, int]]:
  """[(start, stop), ...] covering range(n) in steps of `size`."""
  if n < 1 or size < 1:
    raise ValueError(f"need n >= 1 and size >= 1, got n={n}, size={size}")
  return [(s, min(s + size, n)) for s in range(0, n, size)]


def auto_slab(in_shape: tuple[int, ...], out_shape: tuple[int, ...], *,
              budget_bytes: int = DEFAULT_BUDGET_BYTES, bytes_per_voxel: int = 16) -> int:
  """Y slab size whose input plus output (float32 and temporaries) fit in `budget_bytes`."""
  per_row = (in_shape[0] * in_shape[2] + out_shape[0] * out_shape[2]) * bytes_per_voxel
  return int(max(1, min(in_shape[1], budget_bytes // max(per_row, 1))))


def map_y_slabs(fn: Callable[[np.ndarray, int], np.ndarray], src, sink, *, slab: int,
                description: str, rows: tuple[int, int] | None = None) -> None:
  """For each Y slab: sink[:, y0:y1, :] = fn(src[:, y0:y1, :], y0), with a progress bar; with `rows` (r0, r1),
  the slabs of those rows only.

  `fn(block, y0)` gets a (Z, slab, X) block in the source's dtype (the last one padded to `slab` rows by edge
  repetition) and returns a (Z_out, slab, X) array; only the first y1 - y0 rows are written.
  """
  r0, r1 = (0, src.shape[1]) if rows is None else rows
  slab = min(slab, r1 - r0)
  for y0, y1 in progress.track([(r0 + a, r0 + b) for a, b in slab_bounds(r1 - r0, slab)], description):
    block = np.asarray(src[:, y0:y1, :])
    if y1 - y0 < slab:
      block = np.pad(block, ((0, 0), (0, slab - (y1 - y0)), (0, 0)), mode="edge")
    out = np.asarray(fn(block, y0))
    sink[:, y0:y1, :] = out[:, :y1 - y0, :]
