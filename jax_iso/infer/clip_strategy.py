"""The "clips" inference strategy (EMformer): settings checked, lost sections found and inpainted, the volume
reconstructed over clips with its uncertainty map (`clips.py`, `inpaint.py`, `bad_sections.py`)."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping

import jax
import numpy as np

from jax_iso import io, runconfig
from jax_iso.degrade import pairs as pairs_lib
from jax_iso.errors import UserError
from jax_iso.infer import bad_sections
from jax_iso.infer.apply import make_apply_fn
from jax_iso.infer.clips import ORIENTATIONS, reconstruct_clips
from jax_iso.infer.inpaint import inpaint_sections

SETTINGS = ("frames", "frame_overlap", "tile", "overlap", "batch_size", "tta")


def check(options: Mapping) -> None:
  for name in ("frames", "tile", "batch_size"):
    if int(options[name]) < 1:
      raise UserError(f"infer.{name}={options[name]} must be >= 1")
  if not 0 <= int(options["frame_overlap"]) < int(options["frames"]):
    raise UserError(f"infer.frame_overlap={options['frame_overlap']} must be >= 0 and below infer.frames="
                    f"{options['frames']}")
  if not 0 <= int(options["overlap"]) < int(options["tile"]):
    raise UserError(f"infer.overlap={options['overlap']} must be >= 0 and below infer.tile={options['tile']}")
  if int(options["tta"]) not in (1, ORIENTATIONS):
    raise UserError(f"infer.tta={options['tta']} must be 1 (no test-time orientations) or {ORIENTATIONS}")
  if options.get("uncertainty") and int(options["tta"]) < 2:
    raise UserError(f"an uncertainty map needs the test-time orientations: set infer.tta={ORIENTATIONS}")


def find_missing(src, spec: str, *, log: bool = True) -> list[int]:
  """The sections to inpaint for --inpaint=`spec` ("auto": detected, printed; "I,J": those)."""
  parsed = bad_sections.parse_inpaint(spec, int(src.shape[0]))
  if parsed == "auto":
    found = bad_sections.detect_bad_sections(src)
    bad_sections.check_missing([f.index for f in found], int(src.shape[0]))
    if log:
      if found:
        listed = ", ".join(f"{f.index} ({f.reason}: {'std' if f.reason == 'blank' else 'neighbour correlation'} "
                           f"{f.value:.3g}, typical {f.typical:.3g})" for f in found)
        print(f"inpaint: {len(found)} lost or damaged section(s) found: {listed}", file=sys.stderr, flush=True)
      else:
        print("inpaint: no blank or outlier section found; nothing to inpaint", file=sys.stderr, flush=True)
    parsed = [f.index for f in found]
  bad_sections.check_missing(parsed, int(src.shape[0]))
  return parsed


def run(src, sink, job) -> dict:
  loaded, options = job.model, job.options
  apply_fn = make_apply_fn(loaded.model, loaded.params)
  settings = {k: int(options[k]) for k in SETTINGS}
  missing, fill = [], {}
  if options.get("inpaint"):
    missing = find_missing(src, str(options["inpaint"]), log=job.progress)
    if missing:
      pairs = {**runconfig.to_dict(loaded.config.pairs), "drop_prob": 0.0}
      pair_fn = jax.jit(pairs_lib.make_batch_fn(pairs))
      fill = inpaint_sections(src, apply_fn, pair_fn, missing, factor=job.factor, intensity=job.intensity,
                              frames=settings["frames"], tile=settings["tile"], overlap=settings["overlap"],
                              seed=int(loaded.config.seed), flips=1 if int(settings["tta"]) == 1 else 4)
  path = options.get("uncertainty") or None
  description = {"job": "uncertainty", "method": loaded.config.method, "factor": job.factor,
                 "quantity": f"standard deviation over {settings['tta']} orientations, in the output's units"}
  maker = (io.create_volume(path, tuple(sink.shape), np.float32, sink.spacing, description=description)
           if path else contextlib.nullcontext())
  with maker as uncertainty:
    summary = reconstruct_clips(src, sink, apply_fn, factor=job.factor, intensity=job.intensity,
                                uncertainty=uncertainty, fill=fill, show_progress=job.progress, **settings)
  return {**summary, "inpainted": missing, "uncertainty": path}
