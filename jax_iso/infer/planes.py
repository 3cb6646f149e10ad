"""The "planes" inference strategy: a 2D model over every XZ and YZ plane of the Z-interpolated volume, in tiles,
the orientations fused, in two passes within a memory budget, resumable (the engine: `plane_passes.py`).

    summary = run(src, sink, Job(factor=4.0, intensity=intensity, options=config.infer, model=loaded))

Options: a config's `infer` section (tile, overlap, margin, batch_size, fuse, method). Splits: with `Job.part`, this
process writes only its rows of the output, in a work folder of its own.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from jax_iso import runconfig
from jax_iso.errors import UserError
from jax_iso.infer import interpolate
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.plane_passes import FUSES, Resume, reconstruct_planes
from jax_iso.infer.resume import fingerprint
from jax_iso.infer.tiles import Tiling


def check(options: Mapping) -> None:
  """One-line UserErrors for the fusion, tiling and resampling options, before any work."""
  if options["fuse"] not in FUSES:
    raise UserError(f"infer.fuse={options['fuse']!r} is unknown; choose one of {', '.join(FUSES)}")
  tile = min(options["tile"]) if isinstance(options["tile"], (tuple, list)) else options["tile"]   # (th, tw)
  for name, value in (("tile", tile), ("batch_size", options["batch_size"])):
    if int(value) < 1:
      raise UserError(f"infer.{name}={options[name]} must be >= 1")
  overlap, margin, tile = int(options["overlap"]), int(options["margin"]), int(tile)
  if overlap < 0 or margin < 0 or 2 * overlap >= tile:
    raise UserError(f"infer.overlap={options['overlap']} and infer.margin={options['margin']} must be >= 0 with "
                    f"2 * overlap < tile ({options['tile']})")
  interpolate.check(options)


def run(src, sink, job) -> dict:
  """Writes the reconstruction of `src` into `sink` (this process's rows, when the job is one part of several);
  returns `reconstruct_planes`' summary."""
  loaded, options = job.model, job.options
  rows = job.rows(int(src.shape[1]))
  if rows is not None and rows[1] <= rows[0]:
    return {"rows": list(rows)}                       # more processes than row chunks: nothing left for this one
  work_dir = None
  if job.part is not None and getattr(sink, "resume_dir", None):
    work_dir = os.path.join(sink.resume_dir, job.part.folder_name())
  return reconstruct_planes(
      src, sink, make_apply_fn(loaded.model, loaded.params, factor=job.factor),
      Tiling.from_config(options, loaded.multiple),
      factor=job.factor, intensity=job.intensity, fuse=options["fuse"], method=options["method"],
      resume=Resume(work_dir, fingerprint(loaded.params, runconfig.to_json(loaded.config))), progress=job.progress,
      rows=rows)
