"""How a job obtains its model: none, fitted on the input, loaded, or pretrained (and optionally fine-tuned).

    route = choose(opts, method, default_init="scratch")
    with obtain(route, opts, method, make_config) as (loaded, fit):   # LoadedModel | None, training summary | None
      ...

Routes (`Route.kind`):
- "none": a method that learns nothing (interpolation); any training setting is refused;
- "fit": `init="scratch"`: the method's config (`variant`, with `config` overrides) trained for `train_steps`
  steps (default: the config's) on what the task names (the input, or its training volumes);
- "load": `init=PATH` (a bundle or training workdir) or `init="pretrained"` with `train_steps=0`: the model as
  it is; settings of how to train are refused;
- "fine_tune": `init=PATH` or `"pretrained"` with `train_steps=N`: the model's own config, trained N more steps on
  the task's data from its parameters (`train.init_from`).
Without `init`, a task's default applies: the isotropic, section and restore tasks start from the model shipped
for the method (`jax_iso/pretrained/`, with its card's short fine-tune; a method that learns from an isotropic
volume, vemdiffuse_i, is fine-tuned only on a given `train_iso`, else used as it is) where one ships, unless
`variant` or `config` describe a config to train or a section task's training volumes are given (`train_clean`,
...: the pair-trained route), which means a fit from scratch. A fine-tune may start from a model of a sibling
method (`interchangeable`: vemdiffuse_a from a vemdiffuse_i model) and trains as the job's method.
A fit or fine-tune runs in `workdir` (kept: rerun to resume) or in a hidden temporary folder beside the output,
removed afterwards, also on an error or a signal. Under jax.distributed (several processes, e.g. `jax-iso
reconstruct --distributed`) the processes train it together, as `jax-iso train --distributed` does (each reads
its block of every global batch; one orbax checkpoint), in one folder (process 0 names the temporary one and
removes it), then each loads the model. Every check of these settings lives here, once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator

import jax
import numpy as np

from jax_iso import mesh as mesh_lib, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.jobs.options import Options
from jax_iso.jobs.train import train
from jax_iso.models.loader import LoadedModel, load_model, read_config

ROUTES = ("none", "fit", "load", "fine_tune")
FINE_TUNE_LR = 0.3      # a fine-tune's peak learning rate, as a fraction of the model's own
FINE_TUNE_EMA_STEPS = 10   # a fine-tune's parameter average spans about this many of its last steps (at most)
_TRAINING = ("train_steps", "variant", "workdir", "config")   # settings that say how a model is trained
TRAINING_DATA = ("train_noisy", "train_clean", "noise", "train_lr", "train_hr")   # a section task fits on them


@dataclasses.dataclass(frozen=True)
class Route:
  kind: str                       # ROUTES
  source: str | None = None       # the bundle / workdir loaded or fine-tuned
  steps: int | None = None        # training steps (fit: None = the config's)
  name: str | None = None         # the shipped model's name, when the source is one
  variant: str | None = None      # fit: the config variant trained


def _given(opts: Options, names) -> list[str]:
  """`name=value` of each of `names` that `opts` sets."""
  return [f"{n}={getattr(opts, n)}" for n in names if getattr(opts, n) not in (None, {}, ())]


def choose(opts: Options, method: methods.Method, *, default_init: str = "scratch") -> Route:
  """The route `opts` asks for `method` (`default_init` when `opts.init` is None); a UserError for settings
  that contradict it."""
  if not method.learned:
    given = _given(opts, ("init",) + _TRAINING)
    if given:
      learned = ", ".join(methods.names(learned=True, task=method.task))
      raise UserError(f"{' and '.join(given)} {'sets' if len(given) == 1 else 'set'} how a model is obtained; "
                      f"method={method.name} learns nothing: drop {'it' if len(given) == 1 else 'them'}, or choose "
                      f"a learned method ({learned})")
    return Route("none")
  if opts.train_steps is not None and opts.train_steps < 0:
    raise UserError(f"train_steps={opts.train_steps} must be >= 0 (0: use the model as it is)")
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top  (the shipped models' catalogue)
  init = opts.init or default_init
  if init == "auto":                  # the task's default: the shipped model where one exists, else a fit; a config
    from_scratch = opts.variant is not None or bool(opts.config) or bool(_given(opts, TRAINING_DATA))   # to train
    init = "pretrained" if pretrained.for_method(method.name) and not from_scratch else "scratch"
  if init == "scratch":
    if opts.train_steps == 0:
      raise UserError("train_steps=0 trains nothing, and init=scratch has no model to start from: give "
                      "train_steps >= 1, or init=BUNDLE_OR_WORKDIR to use a trained model as it is")
    return Route("fit", steps=opts.train_steps, variant=check_variant(method, opts.variant))
  shipped = None
  if init == "pretrained":
    shipped = pretrained.for_method(method.name)
    if shipped is None:
      raise UserError(f"no pretrained model ships for method={method.name}; use init=scratch (fit one on the "
                      "input) or init=BUNDLE_OR_WORKDIR")
  else:                               # a shipped model named, or its folder given
    shipped = next((m for m in pretrained.shipped().values()
                    if (m.name == init and not os.path.exists(init)) or str(m.path) == os.path.abspath(init)), None)
  source = str(shipped.path) if shipped is not None else init
  steps = opts.train_steps
  if steps is None:                   # a shipped model's short default fine-tune (its card), else none; a model
    tunes = shipped is not None and opts.init in (None, "pretrained")   # that learns from an isotropic volume
    tunes = tunes and (bool(opts.train_iso) or not method.train_iso)    # is fine-tuned on train_iso only
    steps = default_fine_tune(shipped) if tunes else 0
  if steps > 0 and method.train_iso and not opts.train_iso:
    raise UserError(f"train_steps={steps} fine-tunes method={method.name} on an isotropic volume, not on the "
                    "anisotropic input: give train_iso=ISO, or drop train_steps to use the model as it is")
  if steps == 0 and opts.train_iso:
    raise UserError(f"train_iso={opts.train_iso} is what a model is fine-tuned on, but with init={opts.init or init} "
                    f"and {'train_steps=0' if opts.train_steps == 0 else 'no train_steps'} none is: give "
                    "train_steps=N to fine-tune it there, or drop train_iso to use the model as it is")
  if steps == 0:
    given = _given(opts, _TRAINING[1:])
    if given:
      raise UserError(f"{' and '.join(given)} {'sets' if len(given) == 1 else 'set'} how a model is trained; with "
                      f"init={opts.init or init} and no train_steps none is: drop {'it' if len(given) == 1 else 'them'}"
                      ", or give train_steps=N to fine-tune it")
    return Route("load", source=source, name=shipped and shipped.name)
  if opts.variant is not None:
    raise UserError(f"variant={opts.variant} picks the config of a model trained from scratch; fine-tuning "
                    f"init={opts.init or init} keeps its own config: drop variant")
  return Route("fine_tune", source=source, steps=steps, name=shipped and shipped.name)


def serving(route: Route, opts: Options, method: methods.Method, factor: float | None) -> Route:
  """`route`, or a fit from scratch when `init` was not given and the shipped model it starts from does not serve
  the input's anisotropy `factor` (its card's `factors` range: the EMformer ships for x4 only); UserError for
  `init="pretrained"` then. An `init` that names a model is kept: `check_model_factor` refuses a mismatch."""
  if opts.init not in (None, "auto", "pretrained") or route.name is None or factor is None:
    return route
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  lo, hi = (float(f) for f in pretrained.get(route.name).card.get("factors") or (0.0, float("inf")))   # null: any
  if lo * 0.99 <= factor <= hi * 1.01:
    return route
  served = f"x{lo:g}" if lo == hi else f"x{lo:g} to x{hi:g}"
  if method.train_iso and not opts.train_iso:      # vemdiffuse_i fits only on an isotropic volume
    raise UserError(f"the shipped {route.name} model serves {served} but {opts.input} is x{factor:g}; give "
                    "train_iso=ISO (an isotropic volume to fit one on), or the right factor or spacing")
  if opts.init == "pretrained":
    raise UserError(f"the shipped {route.name} model serves {served} but {opts.input} is x{factor:g}; fit one on "
                    "it (init=scratch), or give the right factor or spacing")
  if opts.show_progress:
    print(f"jax_iso: the shipped {route.name} model serves {served}, the input is x{factor:g}: fitting "
          f"method={method.name} on it from scratch", file=sys.stderr, flush=True)
  return choose(dataclasses.replace(opts, init="scratch"), method)


def default_fine_tune(shipped) -> int:
  """The fine-tuning steps a shipped model gets when none are given: its card's for this backend (about two
  minutes of training), else 0."""
  steps = shipped.card.get("fine_tune_steps") or {}
  return int(steps.get(jax.default_backend(), steps.get("default", 0)))


def check_variant(method: methods.Method, variant: str | None) -> str | None:
  """The config variant a fit trains (`variant`, else the backend's default: "cpu" on a CPU); UserError for one
  the method does not have."""
  variant = variant or method.default_variant(jax.default_backend())
  if variant is not None and variant != "default" and variant not in method.variants():
    raise UserError(f"variant={variant} is not a variant of {method.name}; choose one of "
                    f"{', '.join(('default',) + method.variants())}")
  return variant


def base_config(route: Route, opts: Options, method: methods.Method):
  """The config a fit or fine-tune starts from (unlocked ConfigDict): the method's (variant) for a fit, the
  model's own for a fine-tune; `config` overrides applied."""
  import ml_collections  # pylint: disable=g-import-not-at-top
  if route.kind == "fit":
    config = method.default_config(None if route.variant == "default" else route.variant)
  else:
    saved = runconfig.to_json(read_config(route.source))
    saved.pop("resolved", None)                     # resolved again from the data it is fine-tuned on
    config = ml_collections.ConfigDict(saved)
    config.train.init_from = str(route.source)
    config.method = method.name                     # a model of a sibling method (interchangeable) trains as this one
  config.unlock()
  if opts.config:
    with config.ignore_type():   # e.g. a custom section profile (a tuple) where the default is "box"
      config.update_from_flattened_dict(dict(opts.config))
  if route.steps is not None:
    config.train.steps = int(route.steps)
  if route.kind == "fine_tune":   # a short schedule from trained weights: a tenth of it warming up, a lower peak
    config.optim.warmup_steps = min(int(config.optim.warmup_steps), max(1, int(route.steps) // 10))
    config.optim.lr = float(config.optim.lr) * FINE_TUNE_LR
    if float(config.train.get("ema", 0.0)) > 0:   # an average that can follow N steps (0.999 would stay at the start)
      config.train.ema = min(float(config.train.ema), 1.0 - FINE_TUNE_EMA_STEPS / max(int(route.steps), 1))
      if config.train.ema <= 0:
        config.train.ema = 0.0
  return config


@contextlib.contextmanager
def obtain(route: Route, opts: Options, method: methods.Method,
           training_config: Callable[[], runconfig.Frozen]) -> Iterator[tuple[LoadedModel | None, dict | None]]:
  """(the model, the training summary) of `route`; a fit or fine-tune trains `training_config()` in the workdir
  (kept) or a hidden temporary folder beside the output (removed on leaving, whatever happened)."""
  if route.kind == "none":
    yield None, None
    return
  if route.kind == "load":
    yield load_model(route.source), None
    return
  config = training_config()
  keep = opts.workdir is not None
  out = pathlib.Path(opts.output).absolute()
  run_dir = pathlib.Path(opts.workdir) if keep else _fit_folder(out)
  try:
    fit = train(config, run_dir, show_progress=opts.show_progress)
    summary = {k: fit.get(k) for k in ("steps", "resumed_from", "seconds", "samples_per_s", "eval_psnr",
                                       "eval_psnr_input", "batch_size")}
    summary["workdir"] = str(run_dir) if keep else None
    loaded = load_model(run_dir)
    mesh_lib.sync_processes("jax_iso model loaded")    # every process holds it before the folder may go
    yield loaded, summary
  finally:
    if not keep and jax.process_index() == 0:
      shutil.rmtree(run_dir, ignore_errors=True)


def _fit_folder(out: pathlib.Path) -> pathlib.Path:
  """A new hidden folder beside the output for a fit that keeps no workdir; across the processes of
  jax.distributed, which train in it together, one folder: process 0's name."""
  if jax.process_count() == 1:
    return pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.fit-", dir=out.parent))
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  token = int(multihost_utils.broadcast_one_to_all(np.asarray(secrets.randbits(31), np.int32)))
  folder = out.parent / f".{out.name}.fit-{token:08x}"
  folder.mkdir(exist_ok=True)
  return folder


def check_method(name: str, method: methods.Method, source: str) -> None:
  """The model at `source` (of method `name`) must be one of `method`, or of a sibling method with the same
  network, pairs, strategy and task (vemdiffuse_a starts from a vemdiffuse_i model: only the data differ)."""
  if name != method.name and not interchangeable(methods.get(name), method):
    other = methods.get(name)
    raise UserError(f"{source} holds a {other.name} model ({other.task}); this job needs a {method.name} model: "
                    f"run it with `jax-iso {methods.COMMANDS[other.task]}{other.name if other.task == 'isotropic' else ''}"
                    f"`, or pass a {method.name} model")


def interchangeable(a: methods.Method, b: methods.Method) -> bool:
  """Whether a model trained for method `a` serves method `b`: the same network, pair maker, inference strategy
  and task (the methods differ only by the volume they learn from)."""
  return (a.model, a.pairs, a.strategy, a.task) == (b.model, b.pairs, b.strategy, b.task)
