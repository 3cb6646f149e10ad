"""The ssTEM restoration objective: each module of `models/restore.py` against the clean section (L1, as the
paper), per example:

    loss = |interp - clean| + c |corrected - clean| + |fused - clean| + flow_weight f |flow - true flow| / flow_scale

with c = 0 for a missing section (nothing of it is left to correct) and f = 1 for a fold (the simulator's exact
inverse flow, `degrade.fold`, supervises the correction's flow; divided by the model's flow_scale so that one
unit of the flow head weighs like one unit of intensity). Means are over each example's pixels. Which damage an
example got comes from the pair maker's aux['kind'], an index into `pairs.kinds`; the prediction is the fused
section.
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.errors import UserError


def _l1(a: jax.Array, b: jax.Array) -> jax.Array:
  return jnp.abs(a.astype(jnp.float32) - b.astype(jnp.float32)).reshape(a.shape[0], -1).mean(axis=1)


class Restore:
  """Interpolation, correction and fusion each fitted to the clean section; the fold's flow supervised."""

  def __init__(self, config: Mapping):
    self.check(config)
    kinds = tuple(config["pairs"]["kinds"])
    self.missing = kinds.index("missing") if "missing" in kinds else -1
    self.fold = kinds.index("fold") if "fold" in kinds else -1
    self.flow_weight = float((config.get("restore") or {}).get("flow_weight", 1.0))
    self.flow_scale = float(config["model"].get("flow_scale", 16.0))

  @staticmethod
  def check(config: Mapping) -> None:
    if config["pairs"]["kind"] != "section" or not config["pairs"].get("mask_input"):
      raise UserError("the restore objective trains on damaged-section pairs with their mask: set "
                      "pairs.kind='section' and pairs.mask_input=True")
    weight = (config.get("restore") or {}).get("flow_weight", 1.0)
    if float(weight) < 0:
      raise UserError(f"restore.flow_weight={weight} must be >= 0 (0: the fold's flow is not supervised)")

  def loss(self, model: nn.Module, params, inputs: jax.Array, targets: jax.Array, key: jax.Array,
           aux: Mapping | None = None) -> jax.Array:
    del key   # deterministic network
    out = model.apply(params, inputs, train=True)
    kind = aux["kind"]
    keep = (kind != self.missing).astype(jnp.float32)
    value = _l1(out["interp"], targets) + keep * _l1(out["corrected"], targets) + _l1(out["fused"], targets)
    if self.flow_weight > 0 and self.fold >= 0:
      is_fold = (kind == self.fold).astype(jnp.float32)
      value = value + self.flow_weight * is_fold * _l1(out["flow"], aux["flow"]) / self.flow_scale
    return value

  def predict(self, model: nn.Module, params, inputs: jax.Array, key: jax.Array,
              aux: Mapping | None = None) -> jax.Array:
    del aux
    del key
    return model.apply(params, inputs)["fused"]
