"""The jitted train step of a resolved config, and everything it is built from, without a workdir or data.

    engine = build(config, mesh)                  # config: resolved (`resolve.py`), frozen
    state = engine.init(key)                      # or a checkpoint restored into `engine.abstract`
    state, metrics = engine.train_step(state, crops, key)   # crops: [B, ...] stored values, `engine.batch_sharding`

What a run trains (`run.setup`) and what the speed benchmarks time (`experiments/speed.py`) is this one step: the
method's model, pair maker and objective (`jax_iso.methods`), the optimizer and learning-rate schedule of
`config.optim` over `train.steps` with the frozen modules of `train.frozen` getting no update, the moving average
of the parameters when `train.ema` > 0, and the state replicated over `mesh` with the crops split over its data
axis. From `resolved`: the shape of one model input and the intensity window that maps stored values to [0, 1].
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding

from jax_iso import mesh as mesh_lib, runconfig
from jax_iso.degrade import pairs
from jax_iso.models import build_model, init_params
from jax_iso.train import config_checks, objectives, optim, state as state_lib, step


@dataclasses.dataclass(frozen=True)
class Engine:
  """A config's jitted train and eval steps and the pieces they are built from (`build`)."""
  model: nn.Module
  pair_fn: Callable                         # (key, crops in [0, 1]) -> (inputs, targets, aux)
  objective: Any                            # the method's objective (`objectives.make`)
  optimizer: optax.GradientTransformation   # frozen modules (train.frozen) get no update
  schedule: optax.Schedule
  intensity: tuple[float, float]            # stored (lo, hi) -> [0, 1]
  ema: float                                # decay of the parameters' moving average (0: none kept)
  sample: jax.ShapeDtypeStruct              # one batch of model inputs: [B, *resolved.input_shape]
  replicated: NamedSharding                 # the state's sharding
  batch_sharding: NamedSharding             # the crops': split over the mesh's data axis
  abstract: state_lib.TrainState            # the state's shapes, dtypes and shardings (a restore target)
  train_step: Callable                      # jitted (state, crops, key) -> (state, metrics); donates the state
  eval_step: Callable                       # jitted (params, crops, key) -> {'psnr': [B], 'psnr_input': [B]}

  def init(self, key: jax.Array) -> state_lib.TrainState:
    """A fresh train state from `key`, born replicated."""
    return state_lib.create_state(self.model, self.optimizer, self.sample, key, ema=self.ema > 0,
                                  sharding=self.replicated)

  def with_batch(self, batch: int) -> Engine:
    """This engine for batches of `batch` crops: the same jitted steps, with the executables they have compiled
    (`auto_batch` sizes a batch by compiling them); only the batch a fresh state is initialised with differs (as
    `build` of a config with that batch gives it; the state's shapes do not depend on it)."""
    mesh_lib.check_batch(batch, self.batch_sharding.mesh)
    return dataclasses.replace(self, sample=jax.ShapeDtypeStruct((batch,) + self.sample.shape[1:],
                                                                 self.sample.dtype))


def build(config, mesh: Mesh) -> Engine:
  """The `Engine` of a resolved `config` (it needs `resolved.input_shape` and `resolved.intensity`) on `mesh`;
  a bad batch size, schedule or frozen pattern is a UserError, raised before anything is compiled. The batch must
  be a number ("auto" is resolved by `auto_batch.resolve`, which builds the run's engine)."""
  config = runconfig.freeze(config)
  batch, ema = config_checks.batch_setting(config.data.batch_size), float(config.train.ema)
  if batch is None:
    raise ValueError('data.batch_size is "auto": resolve it first (train.auto_batch.resolve)')
  mesh_lib.check_batch(batch, mesh)
  repl, batch_sh = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
  model = build_model(config.model)
  pair_fn = pairs.make_batch_fn(config.pairs)
  objective = objectives.make(config_checks.method_of(config).loss, config)
  intensity = (float(config.resolved.intensity.lo), float(config.resolved.intensity.hi))
  sample = jax.ShapeDtypeStruct((batch,) + tuple(config.resolved.input_shape), jnp.float32)
  optimizer, schedule = optim.make_optimizer(config.optim, int(config.train.steps))
  optimizer = optim.freeze(optimizer, tuple(config.train.get("frozen", ())),
                           jax.eval_shape(lambda k: init_params(model, k, sample.shape), jax.random.key(0)))
  abstract = state_lib.abstract_state(model, optimizer, sample, ema=ema > 0, sharding=repl)
  train_step = step.jit_train_step(
      step.make_train_step(model, pair_fn, objective, optimizer, schedule, intensity=intensity, ema=ema),
      jax.tree.map(lambda _: repl, abstract), batch_sh, repl)
  return Engine(model=model, pair_fn=pair_fn, objective=objective, optimizer=optimizer, schedule=schedule,
                intensity=intensity, ema=ema, sample=sample, replicated=repl, batch_sharding=batch_sh,
                abstract=abstract, train_step=train_step,
                eval_step=step.make_eval_step(model, pair_fn, objective, intensity=intensity))
