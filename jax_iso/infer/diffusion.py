"""The "diffusion" inference strategy (EMDiffuse-n/-r): every section sampled K times by the trained conditional
diffusion model, in overlapping tiles without seams; the mean is the output, the per-voxel standard deviation of
the K samples the uncertainty, and the voxels whose uncertainty exceeds a threshold the flags.

    summary = run(condition, sink, Job(None, intensity, options, loaded))

`condition` is the input on the output's grid (the noisy volume itself for denoising, the low-resolution one
upsampled for super-resolution: `data.UpsampledVolume`); sections go through `predict_planes` a few at a time
(`infer.diffusion_tiles`: the noise is a function of the voxel, so the result does not depend on the tiling or
on how many sections a call holds). Options (a config's `infer` section plus what the command adds):
tile, overlap, margin, batch_size (tiles a call; tile and batch_size may be "auto": sized to the device's memory,
`memory_defaults`), samples (K), threshold (0.12: the paper's, on intensities in
[0, 1]); `sampler`, `steps` override the config's sampler; `uncertainty` and `flags` are paths to write the
standard deviation (float32, in [0, 1] intensity units) and the flag mask (uint8: 255 flagged, 0 not) to.
"""
from __future__ import annotations

import contextlib
from collections.abc import Mapping

import jax
import numpy as np

from jax_iso import io, progress
from jax_iso.diffusion import uncertainty as uncertainty_lib
from jax_iso.diffusion.conditional import Conditional, check_sampler
from jax_iso.errors import UserError
from jax_iso.infer import memory_defaults
from jax_iso.infer.diffusion_tiles import make_tile_sampler
from jax_iso.infer.tiles import Tiling, check_tiling, plan_tiles, predict_planes

PLANE_PIXELS = 1 << 22        # sections per call: as many as fit this many pixels (K samples of each are held)
SAMPLING_SALT = 0x5EED        # the sampling key: the config's seed folded with this (not the training key)


def check(options: Mapping) -> None:
  """One-line UserErrors for the options of the "diffusion" strategy, before any work."""
  check_sampling(options)
  if options.get("noise") is not None:
    raise UserError("infer.noise (one noise field for all slices, or one per slice) is a setting of the vEMDiffuse "
                    "methods, which generate slices between sections; drop it")


def check_sampling(options: Mapping) -> None:
  """One-line UserErrors for the sampling options (tiles, samples, threshold, sampler), before any work."""
  check_tiling(options, ("tile", "batch_size", "samples"))
  if not float(options["threshold"]) > 0:
    raise UserError(f"threshold={options['threshold']} must be > 0 (an uncertainty in [0, 1] intensity units; "
                    "the paper's is 0.12)")
  if (options.get("uncertainty") or options.get("flags")) and int(options["samples"]) < 2:
    raise UserError(f"samples={options['samples']}: an uncertainty map or flags need at least 2 samples per "
                    "input (their spread); pass samples=8, or leave out uncertainty=... and flags=...")
  check_sampler({k: options[k] for k in ("sampler", "steps") if options.get(k) is not None}, prefix="")


def _sinks(options: Mapping, sink, description: Mapping):
  """The uncertainty and flags writers the options ask for (None where not)."""
  stack = contextlib.ExitStack()
  made = []
  for name, dtype, quantity in (("uncertainty", np.float32, "standard deviation of the samples, intensity in "
                                 "[0, 1]"), ("flags", np.uint8, "255 where the uncertainty exceeds the threshold")):
    path = options.get(name)
    made.append(stack.enter_context(io.create_volume(path, tuple(sink.shape), dtype, sink.spacing,
                                                     description={**description, "job": name,
                                                                  "quantity": quantity}))
                if path else None)
  return stack, made


def run(condition, sink, job) -> dict:
  def read(z0: int, z1: int) -> np.ndarray:
    return job.intensity.to_unit(np.asarray(condition[z0:z1], np.float32)).astype(np.float32)
  return sample_volume(read, sink, job)


def sample_volume(read, sink, job, *, channels: int = 1, shared_noise: bool = False, between: float | None = None,
                  description: Mapping | None = None) -> dict:
  """Writes the mean of K samples of every output plane into `sink` (and the uncertainty and flags the options
  ask for): `read(z0, z1)` gives the conditions of output planes z0..z1-1 in [0, 1], [n, H, W] (or
  [n, C, H, W] with `channels` C). With `shared_noise`, every plane starts from the same noise field (the noise
  is a function of (y, x) and the sample only; vEMDiffuse), else of the plane too; with `between` (a factor),
  the noise of a fine slice blends the noise fields of the sections around it (`make_tile_sampler`)."""
  loaded, options = job.model, job.options
  k = int(options["samples"])
  threshold = float(options["threshold"])
  overrides = {name: options[name] for name in ("sampler", "steps") if options.get(name) is not None}
  overrides = {n: int(v) if n == "steps" else str(v) for n, v in overrides.items()}
  key = jax.random.fold_in(jax.random.key(int(loaded.config.seed)), SAMPLING_SALT)
  draw = make_tile_sampler(Conditional(loaded.config.diffusion), loaded.model, loaded.params, key, samples=k,
                           between=between, **overrides)
  n, h, w = (int(s) for s in sink.shape)
  options, sizes = memory_defaults.resolve(options, draw, memory_defaults.tile_shapes(
      options, multiple=loaded.multiple, planes=[(h, w)], channels=(channels,) if channels > 1 else ()))
  tiling = Tiling.from_config(options, loaded.multiple)
  chunk = max(1, min(n, PLANE_PIXELS // max(1, h * w * (k + channels))))
  per_plane = plan_tiles((h, w), **tiling.geometry).per_plane
  batch = max(1, min(tiling.batch_size, chunk * per_plane))
  description = {"method": loaded.config.method, "samples": k, "threshold": threshold, **(description or {})}
  keep_plane = np.array([0 if shared_noise else 1, 1, 1], np.int32)
  flagged = 0
  stack, (unc_sink, flag_sink) = _sinks(options, sink, description)
  with stack, (progress.Bar(f"{loaded.config.method}: sampling {k} x", n) if job.progress
               else contextlib.nullcontext()) as bar:
    for z0 in range(0, n, chunk):
      z1 = min(n, z0 + chunk)
      planes = read(z0, z1)
      offset = np.array([z0, 0, 0], np.int32)
      samples = predict_planes(lambda tiles, origins: draw(tiles, (origins + offset) * keep_plane), planes,
                               batch_size=batch, exact_batch=True, origins=True, **tiling.geometry)  # [n, K, H, W]
      if k >= 2:
        mean, std, flags = (np.asarray(a) for a in uncertainty_lib.summarize(np.moveaxis(samples, 1, 0), threshold))
        flagged += int(flags.sum())
        if unc_sink is not None:
          unc_sink[z0:z1] = std
        if flag_sink is not None:
          flag_sink[z0:z1] = flags.astype(np.uint8) * 255
      else:
        mean = samples[:, 0]
      sink[z0:z1] = job.intensity.from_unit(mean)
      if bar is not None:
        bar.update(z1 - z0)
  out = {"samples": k, "threshold": threshold, "flagged_fraction": flagged / float(n * h * w) if k >= 2 else None,
         "uncertainty": options.get("uncertainty") or None, "flags": options.get("flags") or None,
         "sampler": overrides.get("sampler", loaded.config.diffusion.sampler),
         "steps": overrides.get("steps", int(loaded.config.diffusion.steps))}
  return out if sizes is None else {**out, "auto_sizes": sizes.describe()}
