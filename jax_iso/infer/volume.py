"""Whole-volume reconstruction by interpolation, streamed in Y slabs (bounded memory)."""
from __future__ import annotations

import functools

import jax
import numpy as np

from jax_iso.degrade import grid
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.io import slabs


def interpolate_volume(src, sink, *, factor: float, method: str, intensity,
                       slab: int | None = None, rows: tuple[int, int] | None = None) -> None:
  """Writes the Z-resampled `src` (Z, Y, X sections) into `sink` (round(Z*s), Y, X); with `rows` (y0, y1), only
  those rows (one process's part of the output).

  `intensity` (an `io.Intensity`) maps the source's values to [0, 1] and back to the sink's dtype.
  """
  n_z, n_y, n_x = src.shape
  n_out = grid.fine_count(n_z, factor)
  if tuple(sink.shape) != (n_out, n_y, n_x):
    raise ValueError(f"sink shape {tuple(sink.shape)} != {(n_out, n_y, n_x)}")
  if slab is None:
    slab = slabs.auto_slab(src.shape, (n_out, n_y, n_x))

  @functools.partial(jax.jit)
  def resample(block):
    return resample_z(intensity.to_unit(block), factor, method, axis=0)

  slabs.map_y_slabs(lambda block, _: intensity.from_unit(np.asarray(resample(block))), src, sink,
                    slab=slab, description=f"{method} x{factor:g}", rows=rows)
