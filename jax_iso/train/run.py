"""`setup(config, workdir)`: every piece of a training run, built before its first step.

    with setup(config, workdir) as run:      # a `Run`; closing it waits for checkpoints, closes the volumes
      state, metrics = run.train_step(run.state, next(run.batches), run.step_key)

In order: the config is frozen (`runconfig.freeze`, the one form passed on) and checked; its method's pieces
are looked up in the registry (`jax_iso.methods`): the model, the pair maker, the objective; the training volumes
are opened and the config resolved from them (`resolve.py`: factor, section noise, intensity window; printed
on stderr and written to `config.json`); then the mesh, the batch size ("auto": from the device's memory or the
resumed run's, `auto_batch.py`; printed and written to `config.json` as a number) and, on them, the jitted train
and eval steps with the optimizer (frozen modules) and the moving average (`engine.build`, which the speed
benchmarks time as well), the train state (fresh, initialised from an earlier run with `train.init_from`, or
restored from the workdir's latest checkpoint with the data iterator's state), the device-prefetched batches,
the held-out crops, the checkpointer and the metrics writer.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jax_iso import data, mesh as mesh_lib, runconfig
from jax_iso.errors import UserError
from jax_iso.models import build_model, loader
from jax_iso.train import auto_batch, checkpoint, config_checks, fit_check, objectives, optim, resolve
from jax_iso.train import state as state_lib
from jax_iso.train.inputs import Inputs, crop_spec, open_inputs
from jax_iso.train.prefetch import DevicePrefetch
from jax_iso.train.writer import MetricsWriter

PREFETCH = 2   # batches on their way to the device ahead of the step
RESUME_SECTIONS = ("model", "pairs", "loss", "pdl", "resolved")   # a workdir's run may not change these


@dataclasses.dataclass
class Run:
  """The pieces of a training run (`setup`)."""
  config: runconfig.Frozen      # resolved: what config.json holds
  workdir: pathlib.Path
  model: nn.Module
  state: state_lib.TrainState   # fresh, or restored from the latest checkpoint
  start: int                    # the step `state` is at
  train_step: Callable          # jitted (state, batch, key) -> (state, metrics); donates the state
  eval_step: Callable           # jitted (params, crops, key) -> {'psnr': [B], 'psnr_input': [B]}
  batches: DevicePrefetch       # training batches on the device; get_state() for checkpoints
  eval_batch: jax.Array         # the fixed held-out crops
  step_key: jax.Array           # the train step folds the step number into it
  eval_key: jax.Array
  checkpoints: checkpoint.Checkpointer
  writer: MetricsWriter
  inputs: Inputs

  def close(self) -> None:
    try:
      self.checkpoints.close()
    finally:
      self.inputs.close()

  def __enter__(self) -> Run:
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def setup(config, workdir: str | pathlib.Path, *, log: bool = True) -> Run:
  """Builds the pieces of a run of `config` in `workdir` (resuming it when it holds checkpoints); `log` prints
  the resolved config on stderr."""
  mesh_lib.sync_processes("jax_iso train setup")   # across processes: all start together, before any compile
  config = runconfig.freeze(config)
  method = config_checks.method_of(config)
  model = build_model(config.model)          # the model and objective sections checked before any data is read
  config_checks.check(config, getattr(model, "multiple", 1))
  objectives.make(method.loss, config)
  inputs = open_inputs(config)
  try:
    config = resolve.resolve(config, inputs)   # may set model fields (EMformer's factor): the engine builds it
    return _build(config, pathlib.Path(workdir), inputs, log)
  except BaseException:
    inputs.close()
    raise


def _build(config: runconfig.Frozen, workdir: pathlib.Path, inputs: Inputs, log: bool) -> Run:
  # Everything a bad setting can fail on comes before the first write into the workdir (and the first line on
  # stderr: a bad input is one line).
  mesh = mesh_lib.make_mesh(config.mesh)
  kind, size = crop_spec(config)
  holdout, seed = float(config.data.holdout), int(config.seed)
  eval_batch = jnp.asarray(data.eval_crops(inputs.volumes, kind=kind, size=size, count=int(config.data.eval_crops),
                                           seed=seed, holdout=holdout, weights=inputs.weights))
  crop = jax.ShapeDtypeStruct(eval_batch.shape[1:], eval_batch.dtype)
  # data.batch_size "auto": sized by compiling the run's own step (kept for it), or the resumed run's batch
  config, built, sized = auto_batch.resolve(config, mesh, crop, workdir=workdir)
  batch = int(config.data.batch_size)
  init_key, step_key, eval_key = jax.random.split(jax.random.key(int(config.seed)), 3)
  iterator = iter(data.crop_dataset(inputs.volumes, kind=kind, size=size, batch_size=batch // jax.process_count(),
                                    seed=seed, split="train", holdout=holdout, weights=inputs.weights,
                                    shard=(jax.process_index(), jax.process_count())))
  fit_check.check(config, built, jax.ShapeDtypeStruct((batch,) + crop.shape, crop.dtype))
  check_resume(workdir, config)
  given = None                                     # the parameters an earlier stage gives (train.init_from)
  if config.train.get("init_from") and loader.latest_step(workdir) is None:
    given = initial_params(config.train.init_from, built.abstract.params)

  if log:
    print(f"train {config.method}: {resolve.describe(config)}", file=sys.stderr, flush=True)
    if sized:
      print(f"train {config.method}: {sized}", file=sys.stderr, flush=True)
  workdir.mkdir(parents=True, exist_ok=True)
  if jax.process_index() == 0:   # written whole (renamed into place): the other processes read it in check_resume
    temporary = workdir / f".{loader.CONFIG_FILE}.tmp"
    temporary.write_text(json.dumps(runconfig.to_json(config), indent=1))
    temporary.replace(workdir / loader.CONFIG_FILE)
  checkpoints = checkpoint.Checkpointer(workdir, keep=int(config.train.keep))
  try:
    start = checkpoints.latest_step()
    if start is None:
      state = built.init(init_key)
      if given is not None:
        state = take_params(state, given, built.replicated)
      start = 0
    else:
      state, data_state = checkpoints.restore(built.abstract)
      iterator.set_state(data_state)
    return Run(config=config, workdir=workdir, model=built.model, state=state, start=int(start),
               train_step=built.train_step, eval_step=built.eval_step,
               batches=DevicePrefetch(iterator, lambda b: mesh_lib.global_batch(b, built.batch_sharding), PREFETCH),
               eval_batch=eval_batch, step_key=step_key, eval_key=eval_key, checkpoints=checkpoints,
               writer=MetricsWriter(workdir), inputs=inputs)
  except BaseException:
    checkpoints.close()
    raise


def check_resume(workdir: pathlib.Path, config: runconfig.Frozen) -> None:
  """A workdir holds one run: a different model, pairs, loss, data, batch size or frozen modules on restart is a
  mistake, not a resume. (Of `resolved`, what the saved run resolved is compared: a newer jax_iso may resolve
  more. An "auto" batch size resumes with the saved run's: `auto_batch.resolve`.)"""
  path = workdir / loader.CONFIG_FILE
  if not path.exists():
    return
  saved, new = json.loads(path.read_text()), runconfig.to_json(config)
  saved_resolved = saved.get("resolved") or {}
  saved["resolved"] = saved_resolved
  new["resolved"] = {k: v for k, v in (new.get("resolved") or {}).items() if k in saved_resolved}
  for cfg in (saved, new):     # the compute dtype (model.dtype) changes no parameter: resume on other hardware
    (cfg.get("model") or {}).pop("dtype", None)
  for section in RESUME_SECTIONS:
    if saved.get(section) != new.get(section):
      raise UserError(f"workdir {workdir} holds a run with a different {section} config; pass a new workdir "
                      "(or delete it to start over)")
  batch = (saved.get("data") or {}).get("batch_size")
  if batch is not None and batch != new["data"]["batch_size"]:   # its data iterator counts batches of this size
    raise UserError(f"workdir {workdir} holds a run trained with data.batch_size={batch}; resume it with "
                    f"data.batch_size={batch} (or auto), or pass a new workdir")
  if list(saved["train"].get("frozen", [])) != list(new["train"].get("frozen", [])):
    raise UserError(f"workdir {workdir} holds a run with other frozen modules (train.frozen); pass a new "
                    "workdir (or delete it to start over)")


def initial_params(source: str, abstract_params) -> dict:
  """{parameter path: array} of the run or bundle at `source` (`train.init_from`) for each parameter of
  `abstract_params` with the same path and shape (e.g. the modules of a stage trained before)."""
  loaded = loader.load_model(source)
  own = {optim.param_path(p): a.shape for p, a in jax.tree_util.tree_flatten_with_path(abstract_params)[0]}
  found = jax.tree_util.tree_flatten_with_path(loaded.params)[0]
  given = {optim.param_path(p): v for p, v in found if tuple(v.shape) == own.get(optim.param_path(p))}
  if not given:
    raise UserError(f"train.init_from={source}: none of its parameters has the path and shape of one of this "
                    "model; initialise from a run of a model that shares modules with this one")
  print(f"train: {len(given)} of {len(found)} parameter arrays initialised from {source}", file=sys.stderr)
  return given


def take_params(state: state_lib.TrainState, given: dict, sharding) -> state_lib.TrainState:
  """`state` with the `given` parameters (by path) in place of its fresh ones."""

  def take(path, fresh):
    old = given.get(optim.param_path(path))
    return fresh if old is None else jax.device_put(np.asarray(old, dtype=fresh.dtype), sharding)

  params = jax.tree_util.tree_map_with_path(take, state.params)
  # the average starts from the same values in buffers of its own: the step donates both
  ema = None if state.ema_params is None else jax.tree_util.tree_map_with_path(take, state.ema_params)
  return state.replace(params=params, ema_params=ema)
