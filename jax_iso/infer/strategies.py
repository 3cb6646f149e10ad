"""Inference strategies by name (a method's `strategy` in the registry): how the sections of an anisotropic
volume become the isotropic volume.

    strategy = get("planes")
    strategy.check(options)                          # one-line UserError for a bad setting, before any work
    summary = strategy.run(src, sink, Job(factor=4.0, intensity=intensity, options=options, model=loaded))

- "interpolate": Z resampling alone (`options.method`: "linear" or "cubic"), streamed in Y slabs; no model.
- "planes": a 2D model over every xz and yz plane of the Z-interpolated volume, in tiles, the orientations fused,
  in two passes within a memory budget, resumable (`planes.reconstruct_planes`); options: a config's `infer`
  section (tile, overlap, margin, batch_size, fuse, method).
- "clips": a video model over clips of frames running along Y (and X), rows along Z super-resolved, in square
  lateral tiles, `tta` orientations averaged, their standard deviation written to `uncertainty` (a path) when
  given; `inpaint` ("auto" or "I,J"): lost sections filled by the same model first (`clips.py`, `inpaint.py`,
  `bad_sections.py`); options: frames, frame_overlap, tile, overlap, batch_size, tta, uncertainty, inpaint.
- "diffusion": K samples of every section by a conditional diffusion model, in seamless tiles; the mean is the
  output, their standard deviation and the flags (std above `threshold`) go to `uncertainty` and `flags` (paths)
  when given (`diffusion_strategy.py`); its source is the input on the output's grid (`jobs/restore.py`).
A strategy's `features` name the extra outputs it offers ("uncertainty", "inpaint", "flags"), so commands can
refuse a flag a method cannot honour before any work.
Adding one (sections): a module in infer/ with its `run` and `check`, one entry in STRATEGIES, and the method's
registry entry naming it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from jax_iso import runconfig
from jax_iso.degrade.resample import METHODS as RESAMPLING
from jax_iso.errors import UserError
from jax_iso.infer import clip_strategy, diffusion_strategy
from jax_iso.infer.apply import make_apply_fn
from jax_iso.infer.planes import FUSES, Resume, reconstruct_planes
from jax_iso.infer.resume import fingerprint
from jax_iso.infer.tiles import Tiling
from jax_iso.infer.volume import interpolate_volume
from jax_iso.models.loader import LoadedModel


@dataclasses.dataclass(frozen=True)
class Job:
  """What a strategy runs on a volume."""
  factor: float                     # anisotropy of the sections
  intensity: Any                    # io.Intensity: stored values <-> [0, 1] <-> the output's dtype
  options: Mapping                  # the strategy's settings
  model: LoadedModel | None = None  # the trained model, for learned methods
  progress: bool = True


@dataclasses.dataclass(frozen=True)
class Strategy:
  name: str
  run: Callable[[Any, Any, Job], dict]   # (sections, sink, job) -> summary
  check: Callable[[Mapping], None]       # the options, before any work
  resumable: bool                        # a killed run continues (the sink is made with a resume folder)
  features: tuple[str, ...] = ()         # extra outputs the options can ask for ("uncertainty", "inpaint")


def _check_resampling(options: Mapping) -> None:
  if options["method"] not in RESAMPLING:
    raise UserError(f"infer.method={options['method']!r} is unknown; choose one of {', '.join(RESAMPLING)}")


def _interpolate(src, sink, job: Job) -> dict:
  interpolate_volume(src, sink, factor=job.factor, method=job.options["method"], intensity=job.intensity)
  return {}


def _check_planes(options: Mapping) -> None:
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
  _check_resampling(options)


def _planes(src, sink, job: Job) -> dict:
  loaded, options = job.model, job.options
  return reconstruct_planes(
      src, sink, make_apply_fn(loaded.model, loaded.params), Tiling.from_config(options, loaded.multiple),
      factor=job.factor, intensity=job.intensity, fuse=options["fuse"], method=options["method"],
      resume=Resume(fingerprint=fingerprint(loaded.params, runconfig.to_json(loaded.config))), progress=job.progress)


STRATEGIES: dict[str, Strategy] = {
    "interpolate": Strategy("interpolate", _interpolate, _check_resampling, resumable=False),
    "planes": Strategy("planes", _planes, _check_planes, resumable=True),
    "clips": Strategy("clips", clip_strategy.run, clip_strategy.check, resumable=False,
                      features=("uncertainty", "inpaint")),
    "diffusion": Strategy("diffusion", diffusion_strategy.run, diffusion_strategy.check, resumable=False,
                          features=("uncertainty", "flags")),
}


def get(name: str) -> Strategy:
  if name not in STRATEGIES:
    raise UserError(f"inference strategy {name!r} is unknown; choose one of {', '.join(STRATEGIES)}")
  return STRATEGIES[name]
