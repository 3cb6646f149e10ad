"""The "interpolate" inference strategy: Z resampling alone (no model), streamed in Y slabs (bounded memory).

    summary = run(src, sink, Job(factor=4.0, intensity=intensity, options={"method": "cubic"}))

Options: `method`, the resampling ("linear" or "cubic", `degrade.resample`). Splits: with `Job.part`, this process
writes only its rows of the output.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import numpy as np

from jax_iso.degrade import grid
from jax_iso.degrade.resample import METHODS as RESAMPLING
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.errors import UserError
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


def check(options: Mapping) -> None:
  """A one-line UserError for an unknown resampling `method`, before any work."""
  if options["method"] not in RESAMPLING:
    raise UserError(f"infer.method={options['method']!r} is unknown; choose one of {', '.join(RESAMPLING)}")


def run(src, sink, job) -> dict:
  """Writes the Z-resampled `src` into `sink` (this process's rows, when the job is one part of several)."""
  rows = job.rows(int(src.shape[1]))
  if rows is None or rows[1] > rows[0]:
    interpolate_volume(src, sink, factor=job.factor, method=job.options["method"], intensity=job.intensity,
                       rows=rows)
  return {} if rows is None else {"rows": list(rows)}
