"""The "planes" inference strategy: a 2D model over every XZ and YZ plane of the Z-interpolated volume, in tiles,
the orientations fused, in two passes within a memory budget, resumable (the engine: `plane_passes.py`).

    summary = run(src, sink, Job(factor=4.0, intensity=intensity, options=config.infer, model=loaded))

Options: a config's `infer` section (tile, overlap, margin, batch_size, fuse, method; tile and batch_size may be
"auto": sized to the device's memory, `memory_defaults`). Splits: with `Job.part`, this
process writes only its rows of the output, in a work folder of its own.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from jax_iso import runconfig
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.infer import interpolate, memory_defaults
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.plane_passes import FUSES, Resume, reconstruct_planes
from jax_iso.infer.resume import fingerprint
from jax_iso.infer.tiles import Tiling, check_tiling


def check(options: Mapping) -> None:
  """One-line UserErrors for the fusion, tiling and resampling options, before any work."""
  if options["fuse"] not in FUSES:
    raise UserError(f"infer.fuse={options['fuse']!r} is unknown; choose one of {', '.join(FUSES)}")
  check_tiling(options)
  interpolate.check(options)


def run(src, sink, job) -> dict:
  """Writes the reconstruction of `src` into `sink` (this process's rows, when the job is one part of several);
  returns `reconstruct_planes`' summary (with `auto_sizes` where "auto" tile or batch sizes were derived from
  the device's memory, `memory_defaults`)."""
  loaded, options = job.model, job.options
  rows = job.rows(int(src.shape[1]))
  if rows is not None and rows[1] <= rows[0]:
    return {"rows": list(rows)}                       # more processes than row chunks: nothing left for this one
  work_dir = None
  if job.part is not None and getattr(sink, "resume_dir", None):
    work_dir = os.path.join(sink.resume_dir, job.part.folder_name())
  apply_fn = make_apply_fn(loaded.model, loaded.params, factor=job.factor)
  n_z, n_y, n_x = (int(n) for n in src.shape)
  n_out = grid.fine_count(n_z, job.factor)
  options, sizes = memory_defaults.resolve(options, apply_fn, memory_defaults.tile_shapes(
      options, multiple=loaded.multiple, planes=[(n_out, n_x), (n_out, n_y)]))     # the xz and yz planes
  summary = reconstruct_planes(
      src, sink, apply_fn, Tiling.from_config(options, loaded.multiple),
      factor=job.factor, intensity=job.intensity, fuse=options["fuse"], method=options["method"],
      resume=Resume(work_dir, fingerprint(loaded.params, runconfig.to_json(loaded.config))), progress=job.progress,
      rows=rows)
  return summary if sizes is None else {**summary, "auto_sizes": sizes.describe()}
