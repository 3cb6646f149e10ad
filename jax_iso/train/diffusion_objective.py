"""The "diffusion" training objective (EMDiffuse): the network learns to denoise the target, conditioned on the
input, at random noise levels of one schedule; its prediction is a sample drawn with the configured sampler.

    config.diffusion = {"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
                        "prediction": "eps", "sampler": "dpm2m", "steps": 10, "eta": 0.0, "clip": True}

Inputs and targets are [B, H, W] (or [B, H, W, C]) images in [0, 1]; the network (`models/diffusion_unet.py`)
sees [-1, 1] images, the condition's channels then the noisy target's, and the noise level (log SNR). The loss
(`diffusion/losses.py`) is per example; `predict` returns one sample in [0, 1] (the held-out evaluation's score).
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.diffusion import losses, samplers, schedules
from jax_iso.errors import UserError


def _channels(x: jax.Array) -> jax.Array:
  """[B, H, W] -> [B, H, W, 1]; [B, H, W, C] as it is."""
  return x[..., None] if x.ndim == 3 else x


class Diffusion:
  """Conditional denoising diffusion: loss at random noise levels, a sampler as the prediction."""

  def __init__(self, config: Mapping):
    self.check(config)
    cfg = config["diffusion"]
    self.schedule = schedules.get(cfg["schedule"])
    self.prediction = cfg["prediction"]
    self.sampler = dict(sampler=cfg["sampler"], steps=int(cfg["steps"]), eta=float(cfg["eta"]),
                        spacing=cfg.get("spacing", "uniform"))
    self.clip = bool(cfg["clip"])

  @staticmethod
  def check(config: Mapping) -> None:
    cfg = config.get("diffusion")
    if cfg is None:
      raise UserError("the diffusion objective needs a `diffusion` config section (schedule, prediction, sampler)")
    try:
      schedules.get(cfg["schedule"])
    except ValueError as e:
      raise UserError(f"diffusion.schedule: {e}") from None
    if cfg["prediction"] not in losses.PREDICTIONS:
      raise UserError(f"diffusion.prediction={cfg['prediction']!r} is unknown; choose one of "
                      f"{', '.join(losses.PREDICTIONS)}")
    if cfg["sampler"] not in samplers.SAMPLERS:
      raise UserError(f"diffusion.sampler={cfg['sampler']!r} is unknown; choose one of {', '.join(samplers.SAMPLERS)}")
    if int(cfg["steps"]) < 1:
      raise UserError(f"diffusion.steps={cfg['steps']} must be >= 1")
    if not 0.0 <= float(cfg["eta"]) <= 1.0:
      raise UserError(f"diffusion.eta={cfg['eta']} must be in [0, 1]")
    if cfg.get("spacing", "uniform") not in samplers.SPACINGS:
      raise UserError(f"diffusion.spacing={cfg['spacing']!r} is unknown; choose one of {', '.join(samplers.SPACINGS)}")

  def denoiser(self, model: nn.Module, params, cond: jax.Array, *, train: bool = False, key=None):
    """`denoise(z, level)` of the network for the condition `cond` ([-1, 1], channels last)."""
    rngs = {"dropout": key} if train else None
    return lambda z, level: model.apply(params, jnp.concatenate([cond, z.astype(cond.dtype)], axis=-1), level,
                                        train=train, rngs=rngs)

  def loss(self, model: nn.Module, params, inputs: jax.Array, targets: jax.Array, key: jax.Array) -> jax.Array:
    cond, x0 = _channels(inputs) * 2.0 - 1.0, _channels(targets) * 2.0 - 1.0
    denoise = self.denoiser(model, params, cond, train=True, key=jax.random.fold_in(key, 1))
    return losses.diffusion_loss(denoise, self.schedule, x0, jax.random.fold_in(key, 2), prediction=self.prediction)

  def sample(self, model: nn.Module, params, inputs: jax.Array, key: jax.Array, *, z_init: jax.Array | None = None,
             noise_fn=None, **overrides) -> jax.Array:
    """One sample per input, in [0, 1] with the inputs' layout; `overrides` change the sampler's settings."""
    cond = _channels(inputs) * 2.0 - 1.0
    k_init, k_steps = jax.random.split(key)
    if z_init is None:
      z_init = jax.random.normal(k_init, cond.shape[:-1] + (model.out_channels,), jnp.float32)
    settings = {**self.sampler, **overrides}
    x = samplers.sample(self.denoiser(model, params, cond), self.schedule, z_init, k_steps,
                        prediction=self.prediction, clip=(-1.0, 1.0) if self.clip else None, noise_fn=noise_fn,
                        **settings)
    x = (x + 1.0) * 0.5
    return x[..., 0] if inputs.ndim == 3 and x.shape[-1] == 1 else x

  def predict(self, model: nn.Module, params, inputs: jax.Array, key: jax.Array) -> jax.Array:
    return self.sample(model, params, inputs, key)
