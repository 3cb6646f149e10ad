"""The "diffusion" training objective (EMDiffuse): the network learns to denoise the target, conditioned on the
input, at random noise levels of one schedule; its prediction is a sample drawn with the configured sampler.

    config.diffusion = {"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
                        "prediction": "eps", "sampler": "dpm2m", "steps": 10, "eta": 0.0, "clip": True}

Inputs and targets are [B, H, W] (or [B, H, W, C]) images in [0, 1]; the network (`models/diffusion_unet.py`)
sees [-1, 1] images, the condition's channels then the noisy target's, and the noise level (log SNR)
(`diffusion/conditional.py`, which inference shares). The loss (`diffusion/losses.py`) is per example; with
`diffusion.mean_fraction` > 0 that share of each batch trains the one-pass posterior mean instead (the network at
the noisiest time from z = 0, regressing the clean image). `predict` (the held-out evaluation's score) returns
that one-pass mean when it is trained, else one sample, in [0, 1].
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
from flax import linen as nn

from jax_iso.diffusion import losses
from jax_iso.diffusion.conditional import Conditional, channels


class Diffusion(Conditional):
  """Conditional denoising diffusion: loss at random noise levels, a sampler as the prediction."""

  def __init__(self, config: Mapping):
    super().__init__(config.get("diffusion"))

  def loss(self, model: nn.Module, params, inputs: jax.Array, targets: jax.Array, key: jax.Array,
           aux: Mapping | None = None) -> jax.Array:
    del aux
    cond, x0 = channels(inputs) * 2.0 - 1.0, channels(targets) * 2.0 - 1.0
    denoise = self.denoiser(model, params, cond, train=True, key=jax.random.fold_in(key, 1))
    return losses.diffusion_loss(denoise, self.schedule, x0, jax.random.fold_in(key, 2), prediction=self.prediction,
                                 mean_fraction=self.mean_fraction)

  def predict(self, model: nn.Module, params, inputs: jax.Array, key: jax.Array,
              aux: Mapping | None = None) -> jax.Array:
    del aux
    if self.mean_fraction > 0:
      return self.mean(model, params, inputs)
    return self.sample(model, params, inputs, key)
