"""`train_and_evaluate(config, workdir)`: the self-supervised training loop shared by every method.

The pieces come from `setup` (run.py). The loop dispatches the jitted steps on device-prefetched batches
without waiting for their results (at most `AHEAD` steps ahead of the device, which bounds the batches in
flight); the metrics stay on the device and are fetched together at log, evaluation and checkpoint steps. A NaN
or Inf loss is found there, named with its step, before a checkpoint could save it, and stops the run, keeping
the last good checkpoint. At log steps the metrics go to `metrics.jsonl` and to the progress display (which
counts finished steps); held-out crops are scored every `train.eval_every` steps (PSNR of the network's output
and of its interpolated input against the clean crop); checkpoints are saved every `train.checkpoint_every`
steps; `loss.png` is drawn at the end. A run on a workdir with checkpoints resumes from the latest one.
"""
from __future__ import annotations

import math
import pathlib
import time

import jax
import numpy as np

from jax_iso import progress
from jax_iso.errors import UserError, raise_pending_stop
from jax_iso.train import curves
from jax_iso.train.run import Run, setup


AHEAD = 2   # train steps the host may dispatch beyond the last one finished on the device


class TrainingDiverged(UserError):
  """The loss became NaN or Inf."""


def train_and_evaluate(config, workdir: str | pathlib.Path, *, show_progress: bool = True) -> dict:
  """Trains `config` on `config.data.path`, writing checkpoints and metrics into `workdir`; returns a summary."""
  with setup(config, workdir) as run:
    return _loop(run, show_progress)


def _loop(run: Run, show_progress: bool) -> dict:
  train = run.config.train
  steps, batch = int(train.steps), int(run.config.data.batch_size)
  every = [int(train[k]) for k in ("log_every", "eval_every", "checkpoint_every")]
  summary = {"resumed_from": run.start, "steps": steps, "batch_size": batch}
  clock = _Clock()
  pending, last_log = [], None       # metrics of the steps since the last fetch (on the device); the last log
  done = run.start                   # steps known to have finished on the device
  with progress.Bar("train", steps, completed=run.start) if show_progress else _NoBar() as bar:
    for n in range(run.start + 1, steps + 1):
      raise_pending_stop()
      run.state, metrics = run.train_step(run.state, next(run.batches), run.step_key)
      pending.append(metrics)
      if n == run.start + 1:
        clock.first_step_done(metrics, n)
      if n - done > AHEAD:               # the host stays at most AHEAD steps ahead of the device
        pending[-1 - AHEAD]["loss"].block_until_ready()     # step n - AHEAD
        bar.update(n - AHEAD - done)
        done = n - AHEAD
      log, evaluate, save = (n % k == 0 or n == steps for k in every)
      if not (log or evaluate or save):
        continue
      fetched = _fetch(run, pending, n)
      pending = []
      rate = clock.rate(n)
      bar.update(n - done, loss=fetched["loss"], **{"steps/s": rate})
      done = n
      if log:
        last_log = {"step": n, "loss": fetched["loss"], "grad_norm": fetched["grad_norm"], "lr": fetched["lr"],
                    "steps_per_s": rate, "samples_per_s": rate * batch}
        run.writer.write(last_log)
      if evaluate:
        scores = jax.device_get(run.eval_step(run.state.eval_params, run.eval_batch, run.eval_key))
        record = {"step": n, "eval_psnr": float(np.mean(scores["psnr"])),
                  "eval_psnr_input": float(np.mean(scores["psnr_input"]))}
        run.writer.write(record)
        summary.update(record)
      if save:
        run.checkpoints.save(n, run.state, run.batches.get_state())
  run.checkpoints.wait()
  run.writer.plot()
  if "eval_psnr" not in summary:     # nothing left to train: the finished run's last evaluation
    evals = curves.read_metrics(run.writer.path)[1]
    summary.update({k: evals[-1][k] for k in ("eval_psnr", "eval_psnr_input")} if evals else {})
  rate = last_log["steps_per_s"] if last_log else 0.0
  summary.update({"final_loss": None if last_log is None else last_log["loss"],
                  "seconds": round(clock.elapsed(), 2), "steps_per_s": round(rate, 3),
                  "samples_per_s": round(rate * batch, 2), "workdir": str(run.workdir)})
  return summary


def _fetch(run: Run, pending: list, n: int) -> dict:
  """The last step's metrics as floats; TrainingDiverged at the first step among `pending` with a non-finite
  loss (they are the metrics of steps n - len(pending) + 1 ... n)."""
  values = jax.device_get(pending)
  for i, metrics in enumerate(values):
    loss = float(metrics["loss"])
    if not math.isfinite(loss):
      run.checkpoints.wait()
      last = run.checkpoints.latest_step()
      kept = (f"the last good checkpoint (step {last}) is kept in {run.workdir}/checkpoints" if last is not None
              else "no checkpoint had been written")
      raise TrainingDiverged(f"the loss became {loss} at step {n - len(values) + 1 + i}; {kept}; set a "
                             f"lower optim.lr=LR (now {run.config.optim.lr}) and rerun with a new workdir")
  return {k: float(v) for k, v in values[-1].items()}


class _Clock:
  """Steps per second after the first step of this process (which includes compilation)."""

  def __init__(self):
    self.t0 = time.perf_counter()
    self.first = None   # (time, step) when the first step had finished

  def first_step_done(self, metrics, n: int) -> None:
    jax.block_until_ready(metrics)
    self.first = (time.perf_counter(), n)

  def rate(self, n: int) -> float:
    now = time.perf_counter()
    t, first = self.first
    return (n - first) / (now - t) if n > first else 1.0 / (now - self.t0)

  def elapsed(self) -> float:
    return time.perf_counter() - self.t0


class _NoBar:
  def __enter__(self):
    return self

  def update(self, *args, **kwargs):
    pass

  def __exit__(self, *exc):
    pass
