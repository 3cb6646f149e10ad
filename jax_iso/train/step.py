"""The pure train step: training pairs are made from the clean crops on the device, inside the step.

    step = make_train_step(model, pair_fn, objective, optimizer, schedule, intensity=(0, 255), ema=0.0)
    state, metrics = step(state, crops, key)   # crops: [B, ...] in the volume's dtype

The objective (`train/objectives.py`, the method's `loss`) gives each example's loss; the step averages them,
updates the parameters with the optimizer (frozen modules get no update, `optim.py`) and, with `ema` > 0, the
moving average of the parameters. Randomness: the step's key is `fold_in(key, state.step)`, and every example
gets its own key from it, so the result does not depend on how the batch is sharded and a resumed run repeats an
uninterrupted one. The pairs use that key itself; the objective derives its own from it.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from jax.sharding import NamedSharding

from jax_iso.train.objectives import per_example_loss
from jax_iso.train.state import TrainState


def to_unit(crops: jax.Array, intensity: tuple[float, float]) -> jax.Array:
  """Stored values -> float32 in [0, 1] with the volume's (lo, hi)."""
  lo, hi = intensity
  return (crops.astype(jnp.float32) - lo) * (1.0 / (hi - lo))


def ema_decay(ema: float, step: jax.Array) -> jax.Array:
  """The moving average's decay at `step` (counted from 0): min(ema, (1 + step) / (10 + step)), the warm-up of
  TensorFlow's ExponentialMovingAverage. Without it a short run's average stays near the initial parameters
  (0.999^2000 = 0.14 of them after 2000 steps: a diffusion model whose zero-initialised output predicts no
  noise, sampling garbage)."""
  step = jnp.asarray(step, jnp.float32)
  return jnp.minimum(jnp.float32(ema), (1.0 + step) / (10.0 + step))


def make_train_step(model: nn.Module, pair_fn: Callable, objective, optimizer: optax.GradientTransformation,
                    schedule: optax.Schedule, *, intensity: tuple[float, float], ema: float = 0.0) -> Callable:
  """`train_step(state, crops, key) -> (state, metrics)`: pairs, forward, loss, update (and EMA)."""

  def train_step(state: TrainState, crops: jax.Array, key: jax.Array):
    step_key = jax.random.fold_in(key, state.step)
    inputs, targets, aux = pair_fn(step_key, to_unit(crops, intensity))

    def loss_fn(params):
      return objective.loss(model, params, inputs, targets, step_key, aux).mean()

    value, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema_params = state.ema_params
    if ema_params is not None:
      decay = ema_decay(ema, state.step)
      ema_params = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params)
    metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), "lr": schedule(state.step)}
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema_params), metrics

  return train_step


def jit_train_step(train_step: Callable, state_sharding, batch_sharding: NamedSharding,
                   replicated: NamedSharding) -> Callable:
  """Jits the step once with explicit shardings; the state is donated."""
  return jax.jit(train_step, in_shardings=(state_sharding, batch_sharding, replicated),
                 out_shardings=(state_sharding, replicated), donate_argnums=(0,))


def psnr(pred: jax.Array, target: jax.Array) -> jax.Array:
  """[B] PSNR on [0, 1] per example (MSE floored at 1e-10)."""
  mse = per_example_loss(jnp.clip(pred, 0.0, 1.0), target, "mse")
  return -10.0 * jnp.log10(jnp.maximum(mse, 1e-10))


def make_eval_step(model: nn.Module, pair_fn: Callable, objective, *, intensity: tuple[float, float]) -> Callable:
  """`eval_step(params, crops, key) -> {'psnr': [B], 'psnr_input': [B]}` on held-out crops: the objective's
  prediction and the network's (interpolated) input against the clean crop."""

  def eval_step(params, crops, key):
    inputs, targets, aux = pair_fn(key, to_unit(crops, intensity))
    pred = objective.predict(model, params, inputs, jax.random.fold_in(key, 1), aux)
    baseline = inputs if inputs.shape == targets.shape else aux["baseline"]   # sections: their interpolation
    return {"psnr": psnr(pred, targets), "psnr_input": psnr(baseline, targets)}

  return jax.jit(eval_step)
