"""The train state: step, parameters, optimizer state and (optional) EMA parameters, born sharded."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from jax.sharding import NamedSharding

from jax_iso.models.registry import init_params


@flax.struct.dataclass
class TrainState:
  step: jax.Array        # int32 scalar
  params: Any            # model parameters
  opt_state: Any         # optax state
  ema_params: Any        # exponential moving average of params, or None when disabled

  @property
  def eval_params(self):
    """The parameters to predict with: the EMA when it is kept."""
    return self.params if self.ema_params is None else self.ema_params


def _init_fn(model: nn.Module, optimizer: optax.GradientTransformation, sample: jax.ShapeDtypeStruct,
             ema: bool) -> Callable[[jax.Array], TrainState]:
  def init(key):
    params = init_params(model, key, sample.shape)
    return TrainState(jnp.zeros((), jnp.int32), params, optimizer.init(params), params if ema else None)
  return init


def abstract_state(model: nn.Module, optimizer: optax.GradientTransformation, sample: jax.ShapeDtypeStruct,
                   *, ema: bool, sharding: NamedSharding) -> TrainState:
  """The state's shapes, dtypes and shardings (a restore target), without computing anything."""
  abstract = jax.eval_shape(_init_fn(model, optimizer, sample, ema), jax.random.key(0))
  return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), abstract)


def create_state(model: nn.Module, optimizer: optax.GradientTransformation, sample: jax.ShapeDtypeStruct,
                 key: jax.Array, *, ema: bool, sharding: NamedSharding) -> TrainState:
  """Initialises the state directly with `sharding` (replicated parameters), jitted: shapes first, then born
  sharded."""
  init = _init_fn(model, optimizer, sample, ema)
  shardings = jax.tree.map(lambda _: sharding, jax.eval_shape(init, key))
  return jax.jit(init, out_shardings=shardings)(key)
