"""`jax-iso denoise` and `jax-iso superres`: EMDiffuse-n and EMDiffuse-r on every section, through the pipeline.

    denoise("noisy.tif", "clean.tif", train_noisy="a_noisy.tif", train_clean="a_clean.tif", uncertainty="std.tif")
    denoise("noisy.tif", "clean.tif", train_clean="a_clean.tif", noise="gaussian:0.08")
    superres("lr.tif", "hr.tif", train_hr="b_hr.tif")        # pairs: b_hr at 2x coarser pixels, cubic back
    denoise("noisy.tif", "clean.tif", init="runs/den")       # a trained model (also `model=`)
    denoise("noisy.tif", "clean.tif")                        # the model shipped for the method, where one ships

Each section (or 2D image of a stack) is sampled K times by the method's conditional diffusion model: the mean
is the output, their standard deviation the uncertainty, the flags where it exceeds the threshold; superres
writes the sections 2x finer in Y and X (the condition is the input on that grid). A model trained with the mean
pass (the blind EMDiffuse-n, `configs/pretrain/emdiffuse_n.py`) writes its one-pass posterior mean instead and
samples only for `uncertainty` and `flags` (`mean`: "pass" or "samples"; `infer/diffusion.py`). The model is
the one shipped for the method when no training data is given (`jax_iso/pretrained/`; `init="pretrained"`,
fine-tuned on a pair with `train_steps=N`), else it trains on a registered pair (`train_noisy` + `train_clean`,
`train_lr` + `train_hr`) or on synthetic pairs from a clean volume (`train_clean` + `noise`, `train_hr` alone),
in the method's config (`configs/emdiffuse_n.py`, `configs/emdiffuse_r.py`; the "cpu" variant on a CPU).
`report` (.png) draws input | mean | uncertainty | flags of the middle section.
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping

import ml_collections
import numpy as np

from jax_iso import io, methods
from jax_iso.errors import UserError
from jax_iso.infer import diffusion as diffusion_strategy
from jax_iso.jobs import pipeline
from jax_iso.jobs.options import Options, make
from jax_iso.models.loader import LoadedModel

FEW_SECTIONS = 10   # training volumes with fewer Z sections hold none out for evaluation (data.holdout = 0)
NOISES = {"gaussian": "gaussian:SIGMA", "poisson_gaussian": "poisson_gaussian:DOSE[,READ_SIGMA]"}


class SectionTask:
  """The hooks (`pipeline.Task`) of a task that maps every section to a section: "denoise" (same grid) or
  "superres" (`scale` x finer in Y and X)."""
  default_init = "auto"      # the model shipped for the method when no training data is given, else a fit

  def __init__(self, name: str, scale: int, pair: tuple[str, str]):
    self.name, self.scale, self.pair = name, scale, pair     # pair: the (input, target) training settings

  def check(self, opts: Options, method: methods.Method) -> None:
    given = [f"{n}={getattr(opts, n)}" for n in self.pair + (("noise",) if self.name == "denoise" else ())
             if getattr(opts, n)]
    init = opts.init
    if init in (None, "auto") and not given and opts.variant is None and not opts.config and _shipped(method):
      init = "pretrained"                 # the default route (`model_route.choose`): the shipped model
    if init not in (None, "scratch", "auto") and not opts.train_steps:
      if given:
        raise UserError(f"pass either a trained model (model={init}) or training data ({' and '.join(given)}), "
                        "not both; or both with train_steps=N to fine-tune the model on the data")
      return
    if init not in (None, "scratch", "auto") and not given:
      raise UserError(f"train_steps={opts.train_steps} fine-tunes model={init} on training data, and none is "
                      f"given: add {' and '.join(f'{n}=...' for n in self.pair)}, or drop train_steps to use the "
                      "model as it is")
    self._training(opts, method)          # the training data, checked before anything is read

  def _training(self, opts: Options, method: methods.Method | None = None) -> dict:
    """The config fields the training data sets ("data.path", "data.target", "pairs")."""
    low, high = self.pair
    ships = "" if method is None or _shipped(method) else (
        f" (no pretrained {method.name} model ships yet{_recipe(method)})")
    if self.name == "denoise":
      if opts.train_clean is None:
        raise UserError("denoise needs training data: train_noisy=A train_clean=B (a registered pair), or "
                        "train_clean=B noise=gaussian:SIGMA (synthetic pairs), or a trained model=BUNDLE" + ships)
      if opts.train_noisy is not None and opts.noise is not None:
        raise UserError("noise=... makes synthetic pairs from train_clean; with a registered train_noisy it has no "
                        "use: drop one of them")
      if opts.train_noisy is None and opts.noise is None:
        raise UserError(f"train_clean={opts.train_clean} alone is not a pair: add train_noisy=A (its registered "
                        "noisy acquisition) or noise=gaussian:SIGMA (synthetic noise)")
      if opts.noise is not None:
        return {"data.path": opts.train_clean, "pairs": {"kind": "noise", "pipeline": parse_noise(opts.noise)}}
    elif opts.train_hr is None:
      raise UserError("superres needs training data: train_hr=B (synthetic low-resolution inputs from it), "
                      "train_lr=A train_hr=B (a registered pair), or a trained model=BUNDLE" + ships)
    elif opts.train_lr is None:
      return {"data.path": opts.train_hr}
    return {"data.path": getattr(opts, low), "data.target": getattr(opts, high), "pairs": {"kind": "registered"}}

  @contextlib.contextmanager
  def open(self, opts: Options, method: methods.Method) -> Iterator[pipeline.Grid]:
    del method
    with pipeline.opened(opts) as src:
      if getattr(opts, self.pair[0]) is not None and getattr(opts, self.pair[1]) is not None:
        self._check_pair(opts)
      view = src
      if self.scale > 1:
        from jax_iso.data.upsampled import UpsampledVolume  # pylint: disable=g-import-not-at-top
        view = UpsampledVolume(src, self.scale)
      sp = opts.spacing or src.spacing
      out_spacing = None if sp is None else (sp[0], sp[1] / self.scale, sp[2] / self.scale)
      yield pipeline.Grid(src, view, None, sp, tuple(int(n) for n in view.shape), out_spacing)

  def _check_pair(self, opts: Options) -> None:
    (low, high), scale = self.pair, self.scale
    a, b = _shape(getattr(opts, low), opts), _shape(getattr(opts, high), opts)
    want = (a[0], a[1] * scale, a[2] * scale)
    if b != want:
      what = "the same shape" if scale == 1 else f"{scale}x its Y and X: {want}"
      raise UserError(f"{high}={getattr(opts, high)} has shape {b} but {low}={getattr(opts, low)} has {a}; a "
                      f"registered pair needs {what}: crop or register them")

  def plan(self, opts: Options, method: methods.Method, grid: pipeline.Grid, infer: Mapping) -> pipeline.Plan:
    del method, grid
    outputs = {k: str(getattr(opts, k)) for k in ("uncertainty", "flags") if getattr(opts, k)}
    mean = {"mean": opts.mean} if opts.mean else {}
    return pipeline.Plan({**dict(infer), "sampler": None, "steps": None, **opts.sampling(), **mean, **outputs})

  def training_config(self, base, opts: Options, method: methods.Method, grid: pipeline.Grid, plan: pipeline.Plan):
    del method, grid
    config = base
    diffusion_strategy.check_mean(plan.options, config, samples_given=opts.samples is not None)   # before training
    training = self._training(opts)
    sections = _shape(training["data.path"], opts, check=False)[0]   # training scans it anyway
    with config.ignore_type():
      if sections < FEW_SECTIONS:        # a few images: evaluation crops from anywhere rather than none to train on
        config.data.holdout = 0.0
      for field, value in training.items():
        if field == "pairs":
          config.pairs = ml_collections.ConfigDict(dict(value))
        else:
          section, key = field.split(".")
          config[section][key] = value
    config.data.channel, config.data.timepoint = opts.channel, opts.timepoint
    for key, one_volume in (("weights", None), ("views", "lateral")):   # a pretrained model's mixture of volumes:
      if key in config.data:                                             # the given one only
        config.data[key] = one_volume
    return config

  def check_model(self, loaded: LoadedModel, grid: pipeline.Grid, opts: Options) -> None:
    del grid
    asked = {"mean": opts.mean, "samples": opts.samples, "uncertainty": opts.uncertainty, "flags": opts.flags}
    diffusion_strategy.check_mean(asked, loaded.config, samples_given=opts.samples is not None)

  def finish(self, opts: Options, grid: pipeline.Grid, out: dict) -> None:
    if opts.report:
      from jax_iso.metrics.uncertainty_plot import sample_figure  # pylint: disable=g-import-not-at-top
      out["report"] = str(sample_figure(opts.report, grid.view, io.intensity_of(grid.src), opts.output, out,
                                        scale=self.scale))


DENOISE = SectionTask("denoise", 1, ("train_noisy", "train_clean"))
SUPERRES = SectionTask("superres", 2, ("train_lr", "train_hr"))
_METHODS = {"denoise": "emdiffuse_n", "superres": "emdiffuse_r"}


def denoise(input: str, output: str, *, model: str | None = None, **settings) -> dict:
  """Denoises every section of `input` into `output` with EMDiffuse-n (module docstring); `model` is
  `init=model`; `settings`: see `jobs.options.COMMANDS["denoise"]`."""
  return _run(DENOISE, input, output, model, settings)


def superres(input: str, output: str, *, model: str | None = None, **settings) -> dict:
  """Super-resolves every section of `input` 2x in Y and X into `output` with EMDiffuse-r (module docstring)."""
  return _run(SUPERRES, input, output, model, settings)


def _run(task: SectionTask, input: str, output: str, model: str | None, settings: dict) -> dict:
  if model is not None:
    if settings.get("init") not in (None, model):
      raise UserError(f"model={model} and init={settings['init']} both name the model; pass one")
    settings["init"] = model
  opts = make(task.name, input=input, output=output, method=_METHODS[task.name], **settings)
  out = pipeline.run(opts, task)
  return {**out, "model": opts.init if opts.init not in (None, "scratch") else None}


def _shipped(method: methods.Method) -> bool:
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  return pretrained.for_method(method.name) is not None


def _recipe(method: methods.Method) -> str:
  """"; configs/pretrain/NAME.py trains one" where the method has a pretraining recipe, else nothing."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  found = importlib.util.find_spec(f"configs.pretrain.{method.name}") is not None
  return f"; configs/pretrain/{method.name}.py trains one" if found else ""


def parse_noise(spec: str) -> ml_collections.ConfigDict:
  """The noise pipeline of synthetic pairs from "gaussian:SIGMA" or "poisson_gaussian:DOSE[,READ_SIGMA]"
  (intensities in [0, 1]; DOSE: expected counts at intensity 1)."""
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  kind, _, values = str(spec).partition(":")
  usage = f"write {' or '.join(NOISES.values())}, e.g. noise=gaussian:0.08 (intensities in [0, 1])"
  try:
    numbers = [float(v) for v in values.split(",")] if values else []
  except ValueError:
    raise UserError(f"noise={spec}: {values!r} is not a number; {usage}") from None
  if kind not in NOISES or not numbers or len(numbers) > (1 if kind == "gaussian" else 2) or min(numbers) < 0:
    raise UserError(f"noise={spec} is not a noise model; {usage}")
  if not all(math.isfinite(v) for v in numbers):
    raise UserError(f"noise={spec}: every value must be a finite number; {usage}")
  sigma = numbers[0] if kind == "gaussian" else (numbers[1] if len(numbers) > 1 else 0.0)
  if sigma > 1:
    raise UserError(f"noise={spec}: a noise standard deviation of {sigma:g} is beyond the intensity range; give "
                    "one in [0, 1] (e.g. 0.08: strong noise)")
  if kind == "gaussian":
    cfg = degrade_config.pipeline_config(("gaussian_noise",))
    cfg.ops.gaussian_noise.update({"prob": 1.0, "sigma": (numbers[0], numbers[0])})
  else:
    if numbers[0] <= 0:
      raise UserError(f"noise={spec}: the dose must be > 0; {usage}")
    read = numbers[1] if len(numbers) > 1 else 0.0
    cfg = degrade_config.pipeline_config(("poisson_gaussian_noise",))
    cfg.ops.poisson_gaussian_noise.update({"prob": 1.0, "dose": (numbers[0], numbers[0]), "read_sigma": (read, read)})
  return cfg


def _shape(path: str, opts: Options, *, check: bool = True) -> tuple[int, ...]:
  """(Z, Y, X) of the volume at `path`; with `check`, a float volume is also scanned for NaN / Inf."""
  with io.open_volume(path, channel=opts.channel, timepoint=opts.timepoint) as src:
    if check and src.dtype == np.float32:
      io.check_finite(src)
    return tuple(int(n) for n in src.shape)
