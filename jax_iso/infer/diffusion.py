"""The "diffusion" inference strategy (EMDiffuse-n/-r): every section sampled K times by the trained conditional
diffusion model, in overlapping tiles without seams; the mean is the output, the per-voxel standard deviation of
the K samples the uncertainty, and the voxels whose uncertainty exceeds a threshold the flags. For a model
trained with the mean pass (`diffusion.mean_fraction` > 0) the output is instead its one-pass posterior mean
(`mean` "pass"), and K samples are drawn only for the uncertainty map and the flags.

    summary = run(condition, sink, Job(None, intensity, options, loaded))

`condition` is the input on the output's grid (the noisy volume itself for denoising, the low-resolution one
upsampled for super-resolution: `data.UpsampledVolume`); sections go through `predict_planes` a few at a time
(`infer.diffusion_tiles`: the noise is a function of the voxel, so the result does not depend on the tiling or
on how many sections a call holds). Options (a config's `infer` section plus what the command adds):
tile, overlap, margin, batch_size (tiles a call; tile and batch_size may be "auto": sized to the device's memory,
`memory_defaults`), samples (K), threshold (0.12: the paper's, on intensities in
[0, 1]); `sampler`, `steps` override the config's sampler; `uncertainty` and `flags` are paths to write the
standard deviation (float32, in [0, 1] intensity units) and the flag mask (uint8: 255 flagged, 0 not) to;
`mean` (MEANS): "samples" (the mean of the K samples), "pass" (one network pass, `Conditional.mean`; the K samples
only when `uncertainty` or `flags` is asked) or "auto" (the default: "pass" for a model trained with the mean
pass, else "samples").
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
from jax_iso.infer.diffusion_tiles import make_tile_mean, make_tile_sampler
from jax_iso.infer.tiles import Tiling, check_tiling, plan_tiles, predict_planes

PLANE_PIXELS = 1 << 22        # sections per call: as many as fit this many pixels (K samples of each are held)
SAMPLING_SALT = 0x5EED        # the sampling key: the config's seed folded with this (not the training key)
MEANS = ("auto", "pass", "samples")


def check(options: Mapping) -> None:
  """One-line UserErrors for the options of the "diffusion" strategy, before any work."""
  if options.get("mean", "auto") not in MEANS:
    raise UserError(f"mean={options['mean']} is unknown; choose one of {', '.join(MEANS)} (pass: the one-pass "
                    "posterior mean of a model trained for it; samples: the mean of K samples)")
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


def mean_mode(options: Mapping, config) -> str:
  """"pass" or "samples": what `options["mean"]` asks of a model of `config` ("auto", or none given: "pass" when
  the model was trained with the mean pass, `diffusion.mean_fraction` > 0)."""
  mode = options.get("mean") or "auto"
  if mode == "auto":
    return "pass" if trained_mean(config) else "samples"
  return mode


def trained_mean(config) -> bool:
  """Whether a model of `config` was trained with the mean pass."""
  return float((config.get("diffusion") or {}).get("mean_fraction", 0.0) or 0.0) > 0


def check_mean(options: Mapping, config, *, samples_given: bool = False) -> None:
  """UserErrors for the mean asked of a model of `config`, before any inference: "pass" needs a model trained
  with the mean pass; a number of samples given for a one-pass mean needs an output its samples go to."""
  mode = mean_mode(options, config)
  if mode == "pass" and not trained_mean(config):
    raise UserError("mean=pass needs a model trained with the one-pass mean (diffusion.mean_fraction > 0, as the "
                    "blind EMDiffuse-n of configs/pretrain/emdiffuse_n.py is); this one was not: use mean=samples")
  if mode == "pass" and samples_given and not (options.get("uncertainty") or options.get("flags")):
    raise UserError(f"samples={options['samples']}: with mean=pass the output is one network pass and samples only "
                    "make the uncertainty map: add uncertainty=U.tif or flags=F.tif, or pass mean=samples for the "
                    "mean of the samples")


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
  check_mean(options, loaded.config)
  one_pass = mean_mode(options, loaded.config) == "pass"
  k = int(options["samples"])
  if one_pass and not (options.get("uncertainty") or options.get("flags")):
    k = 0                                  # the output is one pass; samples would only make the uncertainty map
  threshold = float(options["threshold"])
  overrides = {name: options[name] for name in ("sampler", "steps") if options.get(name) is not None}
  overrides = {n: int(v) if n == "steps" else str(v) for n, v in overrides.items()}
  key = jax.random.fold_in(jax.random.key(int(loaded.config.seed)), SAMPLING_SALT)
  conditional = Conditional(loaded.config.diffusion)
  draw = make_tile_sampler(conditional, loaded.model, loaded.params, key, samples=k, between=between,
                           **overrides) if k > 0 else None
  mean_fn = make_tile_mean(conditional, loaded.model, loaded.params) if one_pass else None
  n, h, w = (int(s) for s in sink.shape)
  options, sizes = memory_defaults.resolve(options, draw or mean_fn, memory_defaults.tile_shapes(
      options, multiple=loaded.multiple, planes=[(h, w)], channels=(channels,) if channels > 1 else ()))
  tiling = Tiling.from_config(options, loaded.multiple)
  chunk = max(1, min(n, PLANE_PIXELS // max(1, h * w * (k + 1 + channels))))
  per_plane = plan_tiles((h, w), **tiling.geometry).per_plane
  batch = max(1, min(tiling.batch_size, chunk * per_plane))
  description = {"method": loaded.config.method, "samples": k, "threshold": threshold,
                 "mean": "one pass" if one_pass else f"of {k} samples", **(description or {})}
  keep_plane = np.array([0 if shared_noise else 1, 1, 1], np.int32)
  flagged = 0
  what = f"one pass{f' + {k} samples' if k else ''}" if one_pass else f"sampling {k} x"
  stack, (unc_sink, flag_sink) = _sinks(options, sink, description)
  with stack, (progress.Bar(f"{loaded.config.method}: {what}", n) if job.progress
               else contextlib.nullcontext()) as bar:
    for z0 in range(0, n, chunk):
      z1 = min(n, z0 + chunk)
      planes = read(z0, z1)
      offset = np.array([z0, 0, 0], np.int32)
      tiled = lambda fn: predict_planes(lambda tiles, origins: fn(tiles, (origins + offset) * keep_plane),  # noqa: E731
                                        planes, batch_size=batch, exact_batch=True, origins=True, **tiling.geometry)
      samples = tiled(draw) if k > 0 else None                                             # [n, K, H, W]
      mean = tiled(mean_fn)[:, 0] if one_pass else None
      if k >= 2:
        mean_k, std, flags = (np.asarray(a) for a in uncertainty_lib.summarize(np.moveaxis(samples, 1, 0),
                                                                                threshold))
        mean = mean_k if mean is None else mean
        flagged += int(flags.sum())
        if unc_sink is not None:
          unc_sink[z0:z1] = std
        if flag_sink is not None:
          flag_sink[z0:z1] = flags.astype(np.uint8) * 255
      elif mean is None:
        mean = samples[:, 0]
      sink[z0:z1] = job.intensity.from_unit(mean)
      if bar is not None:
        bar.update(z1 - z0)
  out = {"mean": "pass" if one_pass else "samples", "samples": k, "threshold": threshold,
         "flagged_fraction": flagged / float(n * h * w) if k >= 2 else None,
         "uncertainty": options.get("uncertainty") or None, "flags": options.get("flags") or None,
         "sampler": overrides.get("sampler", loaded.config.diffusion.sampler),
         "steps": overrides.get("steps", int(loaded.config.diffusion.steps))}
  return out if sizes is None else {**out, "auto_sizes": sizes.describe()}
