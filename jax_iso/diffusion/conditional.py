"""Conditional sampling with a trained denoiser: images in [0, 1] in, samples in [0, 1] out.

    sampler = Conditional(config.diffusion)      # schedule, prediction, sampler, steps, eta, spacing, clip
    x = sampler.sample(model, params, noisy, key, steps=10)      # one sample per input, [B, H, W]
    m = sampler.mean(model, params, noisy)                         # the one-pass posterior mean, [B, H, W]
    # noisy: [B, H, W] or [B, H, W, C] (the condition's channels: e.g. the sections around a slice)

The network (any flax module called as `model.apply(params, x, level, train=...)`, e.g. `models.DiffusionUNet`)
sees [-1, 1] images: the condition's channels, then the noisy target's, and the noise level (log SNR). The
training objective (`train/diffusion_objective.py`) and inference (`infer/diffusion_tiles.py`) share this class,
so a model is sampled with the schedule it was trained on. `diffusion.mean_fraction` > 0 trains the mean pass
(`losses.mean_estimate`) on that share of every batch; `mean` is that pass, clipped to the data range.
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp

from jax_iso.diffusion import losses, samplers, schedules
from jax_iso.errors import UserError


def channels(x: jax.Array) -> jax.Array:
  """[B, H, W] -> [B, H, W, 1]; [B, H, W, C] as it is."""
  return x[..., None] if x.ndim == 3 else x


class Conditional:
  """The schedule, prediction and sampler settings of a config's `diffusion` section."""

  def __init__(self, cfg: Mapping):
    self.check(cfg)
    self.schedule = schedules.get(cfg["schedule"])
    self.prediction = cfg["prediction"]
    self.sampler = dict(sampler=cfg["sampler"], steps=int(cfg["steps"]), eta=float(cfg["eta"]),
                        spacing=cfg.get("spacing", "uniform"))
    self.clip = bool(cfg["clip"])
    self.mean_fraction = float(cfg.get("mean_fraction", 0.0))

  @staticmethod
  def check(cfg: Mapping | None) -> None:
    """One-line UserErrors for the `diffusion` section's values."""
    if cfg is None:
      raise UserError("the diffusion objective needs a `diffusion` config section (schedule, prediction, sampler)")
    try:
      schedules.get(cfg["schedule"])
    except ValueError as e:
      raise UserError(f"diffusion.schedule: {e}") from None
    if cfg["prediction"] not in losses.PREDICTIONS:
      raise UserError(f"diffusion.prediction={cfg['prediction']!r} is unknown; choose one of "
                      f"{', '.join(losses.PREDICTIONS)}")
    check_sampler(cfg)
    fraction = cfg.get("mean_fraction", 0.0)
    if not 0.0 <= float(fraction) < 1.0:
      raise UserError(f"diffusion.mean_fraction={fraction} must be in [0, 1): the share of each batch that trains "
                      "the one-pass mean (0: none; the rest trains the sampler)")
    if float(fraction) > 0 and cfg["prediction"] not in losses.MEAN_PREDICTIONS:
      raise UserError(f"diffusion.mean_fraction={fraction} needs diffusion.prediction "
                      f"{' or '.join(losses.MEAN_PREDICTIONS)} (eps at the noisiest time divides the error by "
                      "alpha ~ 0); set diffusion.prediction=v")

  def denoiser(self, model, params, cond: jax.Array, *, train: bool = False, key=None):
    """`denoise(z, level)` of the network for the condition `cond` ([-1, 1], channels last)."""
    rngs = {"dropout": key} if train else None
    return lambda z, level: model.apply(params, jnp.concatenate([cond, z.astype(cond.dtype)], axis=-1), level,
                                        train=train, rngs=rngs)

  def sample(self, model, params, inputs: jax.Array, key: jax.Array, *, z_init: jax.Array | None = None,
             noise_fn=None, **overrides) -> jax.Array:
    """One sample per input, in [0, 1]: [B, H, W] for a model of one output channel (whatever the condition's
    channels), else [B, H, W, C_out]; `overrides` change the sampler's settings."""
    cond = channels(inputs) * 2.0 - 1.0
    k_init, k_steps = jax.random.split(key)
    if z_init is None:
      z_init = jax.random.normal(k_init, cond.shape[:-1] + (model.out_channels,), jnp.float32)
    settings = {**self.sampler, **overrides}
    x = samplers.sample(self.denoiser(model, params, cond), self.schedule, z_init, k_steps,
                        prediction=self.prediction, clip=(-1.0, 1.0) if self.clip else None, noise_fn=noise_fn,
                        **settings)
    x = (x + 1.0) * 0.5
    return x[..., 0] if x.shape[-1] == 1 else x


  def mean(self, model, params, inputs: jax.Array) -> jax.Array:
    """The one-pass estimate of the clean image for each input (`losses.mean_estimate`: the network at t = 1
    with z = 0), in [0, 1] (clipped); shaped as `sample`'s. The posterior mean for a model trained with
    `mean_fraction` > 0."""
    cond = channels(inputs) * 2.0 - 1.0
    x = losses.mean_estimate(self.denoiser(model, params, cond), self.schedule,
                             cond.shape[:-1] + (model.out_channels,), prediction=self.prediction)
    x = (jnp.clip(x, -1.0, 1.0) if self.clip else x) * 0.5 + 0.5
    return x[..., 0] if x.shape[-1] == 1 else x


def check_sampler(cfg: Mapping, prefix: str = "diffusion.") -> None:
  """UserErrors for sampler settings (sampler, steps, eta, spacing; any subset), named `prefix` + field."""
  if "sampler" in cfg and cfg["sampler"] not in samplers.SAMPLERS:
    raise UserError(f"{prefix}sampler={cfg['sampler']!r} is unknown; choose one of {', '.join(samplers.SAMPLERS)}")
  if "steps" in cfg and int(cfg["steps"]) < 1:
    raise UserError(f"{prefix}steps={cfg['steps']} must be >= 1")
  if "eta" in cfg and not 0.0 <= float(cfg["eta"]) <= 1.0:
    raise UserError(f"{prefix}eta={cfg['eta']} must be in [0, 1]")
  if cfg.get("spacing", "uniform") not in samplers.SPACINGS:
    raise UserError(f"{prefix}spacing={cfg['spacing']!r} is unknown; choose one of {', '.join(samplers.SPACINGS)}")
