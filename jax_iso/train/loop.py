"""`train_and_evaluate(config, workdir)`: the self-supervised training loop shared by every method.

Crops of the user's volume come from a grain pipeline on the host (cheap); training pairs are made on the device
inside the jitted, sharded train step; held-out crops are scored periodically (PSNR of the network's output and
of its interpolated input against the clean crop); metrics go to `metrics.jsonl` and `loss.png`; orbax
checkpoints (state + data iterator) every `train.checkpoint_every` steps; a run on an existing workdir resumes
from its latest checkpoint. A NaN/Inf loss stops the run with a clear message, keeping the last good checkpoint.
"""
from __future__ import annotations

import json
import math
import pathlib
import time
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso import data, progress
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.models import build_model
from jax_iso.train import checkpoint, config_checks, curves, mesh as mesh_lib, optim, section_noise
from jax_iso.train import state as state_lib, step
from jax_iso.train.inputs import Inputs, open_inputs

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"


class TrainingDiverged(UserError):
  """The loss became NaN or Inf."""


def crop_spec(config: Mapping) -> tuple[str, tuple[int, ...]]:
  """(crop kind, crop size) the pair maker of `config.pairs` needs."""
  kind, edge = config["pairs"]["kind"], int(config["data"]["crop"])
  if kind == "axial" or kind == "noise":
    return "lateral", (edge, edge)
  if kind == "clip":
    return "clip", (int(config["data"].get("frames", 16)), edge, edge)
  context = int(config["pairs"].get("context", 0))
  return "clip", (3, edge + 2 * context, edge + 2 * context)


def run_config(config: Mapping, inputs: Inputs) -> dict:
  """The config as JSON with what the data resolved (factor, intensity): what export and predict rebuild."""
  out = json.loads(config.to_json_best_effort()) if hasattr(config, "to_json_best_effort") else dict(config)
  out["pairs"]["factor"] = inputs.factor
  out["pairs"], noise = section_noise.resolve(out.get("section_noise", "off"), out["pairs"], inputs.factor,
                                              inputs.volumes, inputs.intensity)
  out["resolved"] = {"factor": inputs.factor, "spacing_nm": None if inputs.spacing is None else list(inputs.spacing),
                     "intensity": {"lo": inputs.intensity.lo, "hi": inputs.intensity.hi,
                                   "dtype": inputs.intensity.dtype.name}, "section_noise": noise}
  return out


def _check_resume(workdir: pathlib.Path, resolved: dict) -> None:
  """A workdir holds one run: a different model, pairs or data on restart is a mistake, not a resume."""
  path = workdir / CONFIG_FILE
  if not path.exists():
    return
  saved = json.loads(path.read_text())
  for section in ("model", "pairs", "loss", "pdl", "resolved"):
    if saved.get(section) != resolved.get(section):
      raise UserError(f"workdir {workdir} holds a run with a different {section} config; pass a new --workdir "
                      "(or delete it to start over)")


def _write_metrics(path: pathlib.Path, record: dict) -> None:
  if jax.process_index() == 0:
    with path.open("a") as f:
      f.write(json.dumps(record) + "\n")


def train_and_evaluate(config: Mapping, workdir: str | pathlib.Path, *, show_progress: bool = True) -> dict:
  """Trains `config` on `config.data.path`, writing checkpoints and metrics into `workdir`; returns a summary."""
  workdir = pathlib.Path(workdir)
  model = build_model(config["model"])
  config_checks.check(config, getattr(model, "multiple", 1))
  inputs = open_inputs(config["data"])
  try:
    return _train(config, workdir, model, inputs, show_progress)
  finally:
    inputs.close()


def _train(config, workdir: pathlib.Path, model, inputs: Inputs, show_progress: bool) -> dict:
  resolved = run_config(config, inputs)
  workdir.mkdir(parents=True, exist_ok=True)
  _check_resume(workdir, resolved)
  if jax.process_index() == 0:
    (workdir / CONFIG_FILE).write_text(json.dumps(resolved, indent=1))

  steps, batch = int(config["train"]["steps"]), int(config["data"]["batch_size"])
  mesh = mesh_lib.make_mesh(config["mesh"])
  mesh_lib.check_batch(batch, mesh)
  repl, batch_sh = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
  kind, size = crop_spec(config)
  pair_fn = pairs.make_batch_fn(resolved["pairs"])
  intensity = (inputs.intensity.lo, inputs.intensity.hi)
  optimizer, schedule = optim.make_optimizer(config["optim"], steps)
  ema = float(config["train"]["ema"])

  key = jax.random.key(int(config["seed"]))
  init_key, step_key, eval_key = jax.random.split(key, 3)
  sample_inputs = jax.eval_shape(lambda k, x: pair_fn(k, x)[0], jax.random.key(0),
                                 jax.ShapeDtypeStruct((batch,) + size, jnp.float32))
  abstract = state_lib.abstract_state(model, optimizer, sample_inputs, ema=ema > 0, sharding=repl)
  ckpt = checkpoint.Checkpointer(workdir, keep=int(config["train"]["keep"]))
  holdout = float(config["data"]["holdout"])
  train_ds = data.crop_dataset(inputs.volumes, kind=kind, size=size, batch_size=batch // jax.process_count(),
                               seed=int(config["seed"]), split="train", holdout=holdout,
                               shard=(jax.process_index(), jax.process_count()))
  iterator = iter(train_ds)
  start = ckpt.latest_step()
  if start is None:
    state = state_lib.create_state(model, optimizer, sample_inputs, init_key, ema=ema > 0, sharding=repl)
    start = 0
  else:
    state, data_state = ckpt.restore(abstract)
    iterator.set_state(data_state)
  eval_crops = data.eval_crops(inputs.volumes, kind=kind, size=size, count=int(config["data"]["eval_crops"]),
                               seed=int(config["seed"]), holdout=holdout)

  train_step = step.jit_train_step(
      step.make_train_step(model, pair_fn, optimizer, schedule, loss=config["loss"], intensity=intensity,
                           ema=ema, pdl=config.get("pdl")),
      jax.tree.map(lambda _: repl, abstract), batch_sh, repl)
  eval_step = step.make_eval_step(model, pair_fn, intensity=intensity)
  metrics_path = workdir / METRICS_FILE
  every = {k: int(config["train"][k]) for k in ("log_every", "eval_every", "checkpoint_every")}
  summary = {"resumed_from": start, "steps": steps}
  t0, last_log = time.perf_counter(), None
  steady = None   # (time, step) after the first step: rates exclude compilation
  with progress.Bar("train", steps, completed=start) if show_progress else _NoBar() as bar:
    for i in range(start, steps):
      crops = mesh_lib.global_batch(next(iterator), batch_sh)
      state, metrics = train_step(state, crops, step_key)
      metrics = jax.device_get(metrics)
      loss = float(metrics["loss"])
      if not math.isfinite(loss):
        ckpt.close()
        last = ckpt.latest_step()
        kept = (f"the last good checkpoint (step {last}) is kept in {workdir}/checkpoints" if last is not None
                else "no checkpoint had been written")
        raise TrainingDiverged(f"the loss became {loss} at step {i + 1}; {kept}; lower --config.optim.lr (now "
                               f"{config['optim']['lr']}) and rerun with a new --workdir")
      now = time.perf_counter()
      steady = steady or (now, i + 1)
      rate = (i + 1 - steady[1]) / (now - steady[0]) if i + 1 > steady[1] else 1.0 / (now - t0)
      bar.update(1, loss=loss, **{"steps/s": rate})
      n = i + 1
      if n % every["log_every"] == 0 or n == steps:
        last_log = {"step": n, "loss": loss, "grad_norm": float(metrics["grad_norm"]),
                    "lr": float(metrics["lr"]), "steps_per_s": rate, "samples_per_s": rate * batch}
        _write_metrics(metrics_path, last_log)
      if n % every["eval_every"] == 0 or n == steps:
        scores = jax.device_get(eval_step(state.eval_params, eval_crops, eval_key))
        record = {"step": n, "eval_psnr": float(np.mean(scores["psnr"])),
                  "eval_psnr_input": float(np.mean(scores["psnr_input"]))}
        _write_metrics(metrics_path, record)
        summary.update(record)
      if n % every["checkpoint_every"] == 0 or n == steps:
        ckpt.save(n, state, iterator.get_state())
  ckpt.close()
  if jax.process_index() == 0:
    curves.plot(metrics_path, workdir / "loss.png")
  rate = last_log["steps_per_s"] if last_log else 0.0
  summary.update({"final_loss": None if last_log is None else last_log["loss"],
                  "seconds": round(time.perf_counter() - t0, 2), "steps_per_s": round(rate, 3),
                  "samples_per_s": round(rate * batch, 2), "workdir": str(workdir)})
  return summary


class _NoBar:
  def __enter__(self):
    return self

  def update(self, *args, **kwargs):
    pass

  def __exit__(self, *exc):
    pass
