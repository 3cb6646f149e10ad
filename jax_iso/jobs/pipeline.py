"""The one job pipeline: input, model, strategy, output. Every file-level job is these four steps:

1. check every setting that can be checked before work (the task's, the outputs, the route's), then open the
   input once and resolve its grid once (`Task.open` -> `Grid`: volume, spacing, factor, output shape);
2. obtain the model by its route (`model_route`: none, fitted, loaded, pretrained or fine-tuned), trained on
   what the task names (`Task.training_config`);
3. run the method's inference strategy (`infer.strategies`) over the grid;
4. write atomically (`io.create_volume`), with provenance: the job, method, source, model and fine-tune steps.

    summary = run(opts, task)          # opts: jobs.options.Options; task: what the job makes (isotropic.TASK, ...)

A task fills in what differs between jobs (the vdm way: the loop is the pipeline's, the task fills hooks):
`check(opts, method)`, `open(opts, method)` -> Grid, `plan(opts, method, grid)` -> Plan (the strategy's options,
or a copy when there is nothing to do), `training_config(base, opts, method, grid, plan)`, `check_model(loaded,
grid, opts)`. Library errors name settings (`train_steps=0`); the command line shows them as flags.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from jax_iso import io, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.jobs import model_route
from jax_iso.jobs.options import SAMPLING, Options
from jax_iso.models.loader import LoadedModel, read_config


@dataclasses.dataclass(frozen=True)
class Grid:
  """The input, opened once, and the grid the output is written on."""
  src: Any                                    # io.VolumeSource (Z, Y, X)
  view: Any                                   # what the strategy reads: src, or src on a finer lateral grid
  factor: float | None                        # anisotropy of the sections (isotropic task), else None
  spacing: tuple | None                       # (z, y, x) nm of the input, or None
  out_shape: tuple[int, int, int]
  out_spacing: tuple | None


@dataclasses.dataclass(frozen=True)
class Plan:
  """What the strategy runs with, decided once the input is open."""
  options: Mapping                            # the strategy's settings (the config's `infer` plus the job's)
  description: Mapping = dataclasses.field(default_factory=dict)   # provenance the task adds
  copy: bool = False                          # nothing to do (restore: no damage): the input is written as it is
  training: Mapping = dataclasses.field(default_factory=dict)      # what the task tells its training config
  summary: Mapping = dataclasses.field(default_factory=dict)       # what the task found, for the job's summary


class Task(Protocol):
  name: str                                   # "isotropic", "denoise", "superres", "restore"
  default_init: str                           # the route when `init` is not given

  def check(self, opts: Options, method: methods.Method) -> None: ...
  def open(self, opts: Options, method: methods.Method): ...     # context manager -> Grid
  def plan(self, opts: Options, method: methods.Method, grid: Grid, config: Mapping | None) -> Plan: ...
  def training_config(self, base, opts: Options, method: methods.Method, grid: Grid, plan: Plan): ...
  def check_model(self, loaded: LoadedModel, grid: Grid, opts: Options) -> None: ...
  def finish(self, opts: Options, grid: Grid, out: dict) -> None: ...     # after the output is written


def run(opts: Options, task: Task) -> dict:
  """Runs `task` with `opts` through the four steps (module docstring); returns the job's summary."""
  method = methods.get(opts.method, task=task.name)
  strategy = strategies.get(method.strategy)                  # the method's strategy, looked up once
  task.check(opts, method)
  check_features(opts, method, strategy.features)
  check_outputs(opts)
  route = model_route.choose(opts, method, default_init=task.default_init)
  start = time.perf_counter()
  with task.open(opts, method) as grid:
    route = model_route.serving(route, opts, method, grid.factor)     # a shipped model serves its factors only
    infer_config = _infer_config(route, method, opts)
    plan = task.plan(opts, method, grid, infer_config)
    if plan.copy:
      out = {**_write(opts, (method, strategy), grid, plan, None, task), **dict(plan.summary)}
      task.finish(opts, grid, out)
      return {**out, "seconds": round(time.perf_counter() - start, 2), "route": "none"}
    strategy.check(plan.options)
    plan = dataclasses.replace(plan, description={**dict(plan.description), **_provenance(route)})
    training = lambda: task.training_config(model_route.base_config(route, opts, method), opts, method, grid, plan)
    with model_route.obtain(route, opts, method, training) as (loaded, fit):
      if loaded is not None:
        task.check_model(loaded, grid, opts)
      written = time.perf_counter()
      out = {**_write(opts, (method, strategy), grid, plan, loaded, task), **dict(plan.summary)}
      out["predict_seconds"] = round(time.perf_counter() - written, 2)
    task.finish(opts, grid, out)
  out.update(seconds=round(time.perf_counter() - start, 2), route=route.kind, model=route.source,
             model_name=route.name, variant=route.variant)
  if fit is not None:
    out["fit"] = fit
    out["workdir"] = fit["workdir"]
  return out


def _infer_config(route: model_route.Route, method: methods.Method, opts: Options) -> dict:
  """The strategy settings of the model to come, known before any training (and the model a route loads checked
  to be of `method`): the registry's options (no model), the config's `infer` (a fit), or the model's own."""
  if route.kind == "none":
    return dict(method.options)
  if route.kind == "fit":
    return runconfig.to_dict(model_route.base_config(route, opts, method).infer)
  config = read_config(route.source)
  model_route.check_method(config.method, method, route.source)
  return runconfig.to_dict(config.infer)


def _provenance(route: model_route.Route) -> dict:
  """How the model was obtained, for the output's metadata: the route, the shipped model's name, the steps
  trained on this input."""
  out = {"model_route": route.kind}
  if route.name:
    out["pretrained"] = route.name
  if route.kind in ("fit", "fine_tune") and route.steps is not None:
    out["train_steps"] = route.steps
  return out


def check_features(opts: Options, method: methods.Method, features: tuple[str, ...]) -> None:
  """Outputs and settings the method's strategy (offering `features`) cannot honour are refused before any
  work, naming the methods that offer them."""
  asked = [("inpaint", opts.inpaint, "inpaint"), ("uncertainty", opts.uncertainty, "uncertainty"),
           ("flags", opts.flags, "flags")]
  asked += [(name, getattr(opts, name), "sampling") for name in SAMPLING]
  for name, value, feature in asked:
    if value is not None and value != "" and feature not in features:
      offering = [m.name for m in methods.METHODS.values()
                  if m.task == method.task and feature in strategies.get(m.strategy).features]
      raise UserError(f"{name}={value} is not available for method={method.name}; use a method that offers it: "
                      f"{', '.join(offering)}")


def check_outputs(opts: Options) -> None:
  """Every output path writable, none of them the input or each other."""
  inputs = [p for p in (opts.input, opts.train_iso, opts.train_noisy, opts.train_clean, opts.train_lr,
                        opts.train_hr) if p]
  seen: dict[str, str] = {}
  for name in ("output", "uncertainty", "flags", "masks"):
    path = getattr(opts, name)
    if not path:
      continue
    other = seen.get(os.path.realpath(os.fspath(path)))
    if other:
      raise UserError(f"{name}={path} is also the {other}; give each output its own file (e.g. iso.tif, "
                      "iso_std.tif, iso_flags.tif)")
    io.check_output_path(path, inputs=inputs)
    seen[os.path.realpath(os.fspath(path))] = name
  if opts.report is not None:
    if not str(opts.report).endswith(".png"):
      raise UserError(f"report={opts.report} must be a .png path")
    if not os.path.isdir(os.path.dirname(os.path.abspath(opts.report))):
      raise UserError(f"the folder of report={opts.report} does not exist; create it or choose another path")


def _write(opts: Options, how: tuple[methods.Method, strategies.Strategy], grid: Grid, plan: Plan,
           loaded: LoadedModel | None, task: Task) -> dict:
  """Runs the method's strategy (`how`) over the grid into the output (atomically; resumable when the strategy
  is)."""
  method, strategy = how
  normalize = loaded.config.data.get("normalize", "dtype") if loaded is not None else "dtype"
  intensity = io.intensity_of(grid.src, mode=normalize)
  description = {"job": task.name if task.name != "isotropic" else "reconstruct", "method": method.name,
                 "source": str(opts.input), **dict(plan.description)}
  if loaded is not None:
    description.update(model=str(loaded.source), model_step=loaded.step)
  part = opts.part if opts.part is not None and opts.part.count > 1 else None
  with io.create_volume(opts.output, grid.out_shape, grid.src.dtype, grid.out_spacing, description=description,
                        resume_dir=True if strategy.resumable and not plan.copy else None, part=part) as sink:
    if plan.copy:
      from jax_iso.infer.sections import copy_sections  # pylint: disable=g-import-not-at-top
      copy_sections(grid.src, sink, 0, int(grid.src.shape[0]))
      summary = {}
    else:
      summary = strategy.run(grid.view, sink, strategies.Job(grid.factor, intensity, plan.options, loaded,
                                                             opts.show_progress, part))
  out = {"input": str(opts.input), "output": str(opts.output), "method": method.name, "task": task.name,
         "factor": grid.factor, "input_shape": list(grid.src.shape), "output_shape": list(grid.out_shape),
         "spacing_nm": None if grid.out_spacing is None else list(grid.out_spacing), "strategy": summary}
  if part is not None:
    out["part"] = {"index": part.index, "count": part.count, "rows": list(part.rows(grid.out_shape[1])),
                   "parts_done": sink.parts_done, "completed_output": sink.committed}
  return out


@contextlib.contextmanager
def opened(opts: Options) -> Iterator[Any]:
  """The input volume of `opts` (channel and time point applied), finite if it is float; closed on exit."""
  with io.open_volume(opts.input, channel=opts.channel, timepoint=opts.timepoint) as src:
    if src.dtype.kind == "f":
      io.check_finite(src)
    yield src
