"""Training objectives by name (a method's `loss` in the registry): what its network is fitted to.

An objective is built from the run's config (`make(name, config)`) and gives, for a batch of training pairs,
    objective.loss(model, params, inputs, targets, key, aux)   -> [B] loss of each example (the step reduces them)
    objective.predict(model, params, inputs, key, aux)     -> what the held-out evaluation scores
and `check(config)` raises a one-line UserError for its config sections. The key is the step's key; an
objective derives its own from it (`fold_in`), leaving the key itself to the pair maker. `aux` is what the pair
maker said about the pairs (e.g. which damage each example got, or the factor each example was cut at, which a
network conditioned on it is told: `condition`); most objectives ignore it.

- "regression": the network maps the degraded input to the target; the pixel loss (`config.loss`: "mae", "mse"
  or "mae_ssim": L1 + (1 - SSIM) of each image over its last two axes, EMformer's) plus `config.pdl.weight` x
  the projected distribution loss (`train/pdl.py`) when a `pdl` section is given. The model runs with
  `train=True` (stochastic depth draws from the 'dropout' rng `fold_in(key, 1)`; PDL's directions come from
  `fold_in(key, 2)`).
- "diffusion": the network denoises the target given the input as its condition (EMDiffuse): `config.diffusion`
  names the schedule, the prediction ("eps", "v", "x0") and the sampler that `predict` runs (sampler, steps,
  eta); images are mapped from [0, 1] to [-1, 1] for the network and back (`diffusion_objective.py`).
- "restore": ssTEM restoration (`models/restore.py`): L1 of each module's output against the clean section, the
  correction's only where the section still holds its tissue (not missing), plus the fold's unfolding flow
  (`restore_objective.py`).
Adding one: a class with these methods, added to OBJECTIVES.
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.errors import UserError
from jax_iso.metrics.ssim import RADIUS, ssim_images
from jax_iso.train.diffusion_objective import Diffusion
from jax_iso.train.pdl import pdl as projected_distribution_loss
from jax_iso.train.restore_objective import Restore

PIXEL_LOSSES = ("mae", "mse", "mae_ssim")


def per_example_loss(pred: jax.Array, target: jax.Array, loss: str) -> jax.Array:
  """[B] loss of each example (mean over its pixels); the caller reduces."""
  err = pred.astype(jnp.float32) - target.astype(jnp.float32)
  err = err * err if loss == "mse" else jnp.abs(err)
  value = err.reshape(err.shape[0], -1).mean(axis=1)
  if loss == "mae_ssim":
    value = value + 1.0 - ssim_images(pred, target).reshape(pred.shape[0], -1).mean(axis=1)
  return value


def condition(aux: Mapping | None) -> dict:
  """The keyword arguments that tell a conditioned network what its pairs were made with: `factor` when the pair
  maker drew one per example (`degrade.any_factor`), else nothing."""
  return {"factor": aux["factor"]} if aux and "factor" in aux else {}


class Regression:
  """Input -> target with a pixel loss, plus the projected distribution loss when configured."""

  def __init__(self, config: Mapping):
    self.check(config)
    self.pixel = config["loss"]
    pdl = config.get("pdl")
    self.pdl_weight = float(pdl["weight"]) if pdl else 0.0
    self.pdl = pdl

  @staticmethod
  def check(config: Mapping) -> None:
    if config["loss"] not in PIXEL_LOSSES:
      raise UserError(f"loss={config['loss']!r} is unknown; choose one of {', '.join(PIXEL_LOSSES)}")
    if config["loss"] == "mae_ssim" and int(config["data"]["crop"]) <= 2 * RADIUS:
      raise UserError(f"loss=mae_ssim needs images of at least {2 * RADIUS + 1} pixels (SSIM's window); "
                      f"data.crop={config['data']['crop']} is smaller: raise it")
    pdl = config.get("pdl")
    if pdl is None:
      return
    if float(pdl["weight"]) < 0:
      raise UserError(f"pdl.weight={pdl['weight']} must be >= 0 (0 turns the projected distribution loss off)")
    if int(pdl["patch"]) < 1 or int(pdl["patch"]) % 2 == 0:
      raise UserError(f"pdl.patch={pdl['patch']} must be an odd neighbourhood size >= 1 (1: pixel values only)")
    if int(pdl["projections"]) < 0:
      raise UserError(f"pdl.projections={pdl['projections']} must be >= 0")

  def loss(self, model: nn.Module, params, inputs: jax.Array, targets: jax.Array, key: jax.Array,
           aux: Mapping | None = None) -> jax.Array:
    pred = model.apply(params, inputs, train=True, rngs={"dropout": jax.random.fold_in(key, 1)},
                       **condition(aux))
    value = per_example_loss(pred, targets, self.pixel)
    if self.pdl_weight > 0:
      value = value + self.pdl_weight * projected_distribution_loss(
          pred, targets, jax.random.fold_in(key, 2), patch=int(self.pdl["patch"]),
          projections=int(self.pdl["projections"]))
    return value

  def predict(self, model: nn.Module, params, inputs: jax.Array, key: jax.Array,
              aux: Mapping | None = None) -> jax.Array:
    del key   # deterministic
    return model.apply(params, inputs, **condition(aux))


OBJECTIVES = {"regression": Regression, "diffusion": Diffusion, "restore": Restore}


def make(name: str, config: Mapping):
  """The objective `name` with its settings from `config` (a UserError names a bad value)."""
  if name not in OBJECTIVES:
    raise UserError(f"objective {name!r} is unknown; choose one of {', '.join(OBJECTIVES)}")
  return OBJECTIVES[name](config)
