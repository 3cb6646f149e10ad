"""Strategy "sections" (ssTEM restoration, `models/restore.py`): the damaged sections of a volume repaired, every
other section copied bit for bit.

    summary = run(src, sink, Job(None, intensity, {**config.infer, "damage": {12: mask12, 57: mask57}}, loaded))

Options: tile, overlap, margin, batch_size (how each section is tiled; tile and batch_size may be "auto": sized
to the device's memory, `memory_defaults`) and `damage`, {section index: bool mask
[Y, X]} (what `detect.detect_damage` found, or whole-section masks for the sections a user named), and
`avoid` (further damaged sections, not restored: never used as neighbours), given by the job. Each damaged
section is restored from the nearest undamaged section below and above it (the one side
twice at the volume's ends: the interpolation module was trained on adjacent sections, so a run of lost sections
is bridged with less detail), its own content and its mask, in overlapping tiles with mirrored context
(`tiles.predict_planes`), and mapped back to the volume's dtype. Undamaged sections are copied in slabs.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from jax_iso import progress
from jax_iso.errors import UserError
from jax_iso.infer import memory_defaults
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.tiles import check_tiling, predict_planes

SLAB = 16   # undamaged sections copied at a time


def check(options: Mapping) -> None:
  """One-line UserErrors for the tiling options, before any work."""
  check_tiling(options)


def neighbours(k: int, damaged, n: int) -> tuple[int, int]:
  """The nearest undamaged sections below and above section k (the other one where a side has none)."""
  below = next((z for z in range(k - 1, -1, -1) if z not in damaged), None)
  above = next((z for z in range(k + 1, n) if z not in damaged), None)
  if below is None and above is None:
    raise UserError(f"all {n} sections are damaged: no clean section is left to restore them from")
  return (above if below is None else below), (below if above is None else above)


def copy_sections(src, sink, start: int, stop: int) -> None:
  """Sections [start, stop) of `src` written to `sink` unchanged, SLAB at a time."""
  for z0 in range(start, stop, SLAB):
    z1 = min(stop, z0 + SLAB)
    sink[z0:z1] = np.asarray(src[z0:z1])


def run(src, sink, job) -> dict:
  """Writes `src` into `sink` with its damaged sections (`options["damage"]`) restored; returns a summary."""
  options, loaded = job.options, job.model
  damage = {int(k): np.asarray(m, bool) for k, m in dict(options["damage"]).items()}
  avoid = set(damage) | {int(k) for k in options.get("avoid", ())}
  n = int(src.shape[0])
  apply_fn = make_apply_fn(loaded.model, loaded.params, output="fused")
  options, sizes = memory_defaults.resolve(options, apply_fn, memory_defaults.tile_shapes(
      options, multiple=loaded.multiple, planes=[tuple(int(s) for s in src.shape[1:])], channels=(4,)))
  start = 0
  restored = []
  for k in progress.track(sorted(damage), "restore", total=len(damage)) if job.progress else sorted(damage):
    copy_sections(src, sink, start, k)
    below, above = neighbours(k, avoid, n)
    planes = [job.intensity.to_unit(np.asarray(src[z], np.float32)) for z in (below, k, above)]
    mask = damage[k].astype(np.float32)
    stack = np.stack(planes + [mask])[None].astype(np.float32)               # [1, 4, Y, X]
    out = predict_planes(apply_fn, stack, tile=options["tile"], overlap=int(options["overlap"]),
                         margin=int(options["margin"]), batch_size=int(options["batch_size"]),
                         multiple=loaded.multiple)
    sink[k:k + 1] = job.intensity.from_unit(out)
    restored.append({"section": k, "below": below, "above": above,
                     "mask_fraction": round(float(mask.mean()), 4)})
    start = k + 1
  copy_sections(src, sink, start, n)
  out = {"restored": restored, "copied": n - len(damage)}
  return out if sizes is None else {**out, "auto_sizes": sizes.describe()}
