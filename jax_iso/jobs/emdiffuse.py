"""`jax-iso denoise` and `jax-iso superres`: EMDiffuse-n and EMDiffuse-r on a volume (or a stack of 2D images,
one per Z section), trained on registered pairs or on synthetic ones made from a clean volume, or with a trained
model; K samples a voxel: the mean is the output, their spread the uncertainty, the flags where it is high.

    denoise("noisy.tif", "clean.tif", train_noisy="a_noisy.tif", train_clean="a_clean.tif", uncertainty="std.tif")
    denoise("noisy.tif", "clean.tif", train_clean="a_clean.tif", noise="gaussian:0.08")
    superres("lr.tif", "hr.tif", train_hr="b_hr.tif")        # pairs: b_hr at 2x coarser pixels, cubic back

Everything that can be wrong with the inputs, the outputs and the settings is checked before training starts.
The model trains in `workdir` (kept) or in a temporary folder beside the output (removed after), on the
method's config (`configs/emdiffuse_n.py`, `configs/emdiffuse_r.py`; the "cpu" variant on a CPU).
"""
from __future__ import annotations

import dataclasses
import math
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import jax
import ml_collections
import numpy as np

from jax_iso import io, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.jobs.train import train
from jax_iso.models.loader import load_model

TASKS = {"denoise": ("emdiffuse_n", 1), "superres": ("emdiffuse_r", 2)}   # task: (method, lateral scale)
FEW_SECTIONS = 10   # training volumes with fewer Z sections hold none out for evaluation (data.holdout = 0)
NOISES = {"gaussian": "gaussian:SIGMA", "poisson_gaussian": "poisson_gaussian:DOSE[,READ_SIGMA]"}


@dataclasses.dataclass(frozen=True)
class Sampling:
  """What the command asks of the sampling (None: the model config's `infer` / `diffusion` setting)."""
  samples: int | None = None
  steps: int | None = None
  sampler: str | None = None
  threshold: float | None = None
  uncertainty: str | None = None
  flags: str | None = None

  def options(self, infer: Mapping) -> runconfig.Frozen:
    """The strategy's options: the config's `infer` section with these settings over it."""
    given = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
    return runconfig.freeze({**runconfig.to_dict(infer), "sampler": None, "steps": None, **given})


def parse_noise(spec: str) -> ml_collections.ConfigDict:
  """The noise pipeline of synthetic pairs from "gaussian:SIGMA" or "poisson_gaussian:DOSE[,READ_SIGMA]"
  (intensities in [0, 1]; DOSE: expected counts at intensity 1)."""
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  kind, _, values = str(spec).partition(":")
  usage = f"write {' or '.join(NOISES.values())}, e.g. --noise=gaussian:0.08 (intensities in [0, 1])"
  try:
    numbers = [float(v) for v in values.split(",")] if values else []
  except ValueError:
    raise UserError(f"--noise={spec}: {values!r} is not a number; {usage}") from None
  if kind not in NOISES or not numbers or len(numbers) > (1 if kind == "gaussian" else 2) or min(numbers) < 0:
    raise UserError(f"--noise={spec} is not a noise model; {usage}")
  if not all(math.isfinite(v) for v in numbers):
    raise UserError(f"--noise={spec}: every value must be a finite number; {usage}")
  sigma = numbers[0] if kind == "gaussian" else (numbers[1] if len(numbers) > 1 else 0.0)
  if sigma > 1:
    raise UserError(f"--noise={spec}: a noise standard deviation of {sigma:g} is beyond the intensity range; give "
                    "one in [0, 1] (e.g. 0.08: strong noise)")
  if kind == "gaussian":
    cfg = degrade_config.pipeline_config(("gaussian_noise",))
    cfg.ops.gaussian_noise.update({"prob": 1.0, "sigma": (numbers[0], numbers[0])})
  else:
    if numbers[0] <= 0:
      raise UserError(f"--noise={spec}: the dose must be > 0; {usage}")
    read = numbers[1] if len(numbers) > 1 else 0.0
    cfg = degrade_config.pipeline_config(("poisson_gaussian_noise",))
    cfg.ops.poisson_gaussian_noise.update({"prob": 1.0, "dose": (numbers[0], numbers[0]), "read_sigma": (read, read)})
  return cfg


def _shape(path: str, channel, timepoint, *, check: bool = True) -> tuple[int, ...]:
  """(Z, Y, X) of the volume at `path`; with `check`, a float volume is also scanned for NaN / Inf."""
  with io.open_volume(path, channel=channel, timepoint=timepoint) as src:
    if check and src.dtype == np.float32:
      io.check_finite(src)
    return tuple(int(n) for n in src.shape)


def _check_outputs(input: str, output: str, sampling: Sampling) -> None:
  io.check_output_path(output, inputs=[input])
  seen = {os.path.realpath(output): "--output"}
  for flag in ("uncertainty", "flags"):
    path = getattr(sampling, flag)
    if path:
      other = seen.get(os.path.realpath(path))
      if other:
        raise UserError(f"--{flag}={path} is also {other}; give each output its own file (e.g. den_std.tif, "
                        "den_flags.tif)")
      io.check_output_path(path, inputs=[input])
      seen[os.path.realpath(path)] = f"--{flag}"


def denoise(input: str, output: str, *, train_noisy: str | None = None, train_clean: str | None = None,
            noise: str | None = None, model: str | None = None, **kwargs) -> dict:
  """Denoises every section of `input` into `output` with EMDiffuse-n: trained on the registered pair
  (`train_noisy`, `train_clean`: equal shapes), or on `train_clean` with synthetic `noise`, or loaded from
  `model`. Other keyword arguments: see `restore`."""
  if model is not None and (train_noisy or train_clean or noise):
    raise UserError("pass either --model=BUNDLE or training data (--train_noisy/--train_clean/--noise), not both")
  training, pair = None, None
  if model is None:
    if train_clean is None:
      raise UserError("denoise needs training data: --train_noisy=A --train_clean=B (a registered pair), or "
                      "--train_clean=B --noise=gaussian:SIGMA (synthetic pairs), or a trained --model=BUNDLE")
    if train_noisy is not None and noise is not None:
      raise UserError("--noise makes synthetic pairs from --train_clean; with a registered --train_noisy it has no "
                      "use: drop one of them")
    if train_noisy is None and noise is None:
      raise UserError(f"--train_clean={train_clean} alone is not a pair: add --train_noisy=A (its registered noisy "
                      "acquisition) or --noise=gaussian:SIGMA (synthetic noise)")
    if train_noisy is not None:
      training = {"data.path": train_noisy, "data.target": train_clean, "pairs": {"kind": "registered"}}
      pair = ((train_noisy, "--train_noisy"), (train_clean, "--train_clean"))
    else:
      training = {"data.path": train_clean, "pairs": {"kind": "noise", "pipeline": parse_noise(noise)}}
  return restore("denoise", input, output, training=training, pair=pair, model=model, **kwargs)


def superres(input: str, output: str, *, train_lr: str | None = None, train_hr: str | None = None,
             model: str | None = None, **kwargs) -> dict:
  """Super-resolves every section of `input` 2x in Y and X into `output` with EMDiffuse-r: trained on the
  registered pair (`train_lr` (Z, Y, X), `train_hr` (Z, 2Y, 2X)), or on `train_hr` alone (its images at 2x
  coarser pixels as inputs), or loaded from `model`. Other keyword arguments: see `restore`."""
  if model is not None and (train_lr or train_hr):
    raise UserError("pass either --model=BUNDLE or training data (--train_lr/--train_hr), not both")
  training, pair = None, None
  if model is None:
    if train_hr is None:
      raise UserError("superres needs training data: --train_hr=B (synthetic low-resolution inputs from it), "
                      "--train_lr=A --train_hr=B (a registered pair), or a trained --model=BUNDLE")
    training = {"data.path": train_hr}
    if train_lr is not None:
      training = {"data.path": train_lr, "data.target": train_hr, "pairs": {"kind": "registered"}}
      pair = ((train_lr, "--train_lr"), (train_hr, "--train_hr"))
  return restore("superres", input, output, training=training, pair=pair, model=model, **kwargs)


def _check_pair(pair, scale: int, channel, timepoint) -> None:
  (low, low_flag), (high, high_flag) = pair
  a, b = _shape(low, channel, timepoint), _shape(high, channel, timepoint)
  want = (a[0], a[1] * scale, a[2] * scale)
  if b != want:
    what = "the same shape" if scale == 1 else f"{scale}x its Y and X: {want}"
    raise UserError(f"{high_flag}={high} has shape {b} but {low_flag}={low} has {a}; a registered pair needs "
                    f"{what}: crop or register them")


def restore(task: str, input: str, output: str, *, training: Mapping | None = None, pair: tuple | None = None,
            model: str | None = None,
            sampling: Sampling = Sampling(), spacing: tuple[float, float, float] | None = None,
            channel: int | None = None, timepoint: int | None = None, workdir: str | None = None,
            train_steps: int | None = None, variant: str | None = None, overrides: Mapping[str, Any] | None = None,
            report: str | None = None, show_progress: bool = True) -> dict:
  """Runs `task` ("denoise" or "superres") on `input` into `output`: fits the task's method on `training`
  (config fields to set: "data.path", "data.target", "pairs"; `pair`: ((path, flag), (path, flag)) of a
  registered pair, whose shapes are checked first) or loads `model`, then samples every section
  (`sampling`); `report` (a .png path) draws input | mean | uncertainty | flags of the middle section."""
  name, scale = TASKS[task]
  method = methods.get(name)
  _check_outputs(input, output, sampling)
  if report and not str(report).endswith(".png"):
    raise UserError(f"--report={report} must be a .png path")
  if report and not os.path.isdir(os.path.dirname(os.path.abspath(report))):
    raise UserError(f"the folder of --report={report} does not exist; create it or choose another path")
  _shape(input, channel, timepoint)                     # opens, and finite, before any training
  if pair is not None:
    _check_pair(pair, scale, channel, timepoint)
  loaded = None
  if model is not None:
    given = [f"--{n}" for n, v in (("variant", variant), ("train_steps", train_steps), ("workdir", workdir)) if v]
    if given:
      raise UserError(f"{' and '.join(given)} set how a model is trained; with --model={model} none is: drop them")
    loaded = load_model(model)
    if loaded.config.method != name:
      raise UserError(f"--model={model} holds a {loaded.config.method} model "
                      f"({methods.get(loaded.config.method).task}); `jax-iso {task}` needs a {name} model: train "
                      f"one with `jax-iso {task} --train_...`")
    config = loaded.config
  else:
    config = _training_config(method, training, variant=variant, overrides=overrides, train_steps=train_steps,
                              channel=channel, timepoint=timepoint)
  strategy = strategies.get(method.strategy)
  options = sampling.options(config.infer)
  strategy.check(options)
  out = pathlib.Path(output).absolute()
  keep = workdir is not None
  run_dir = None
  fit = None
  try:
    if loaded is None:
      run_dir = pathlib.Path(workdir) if keep else pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.fit-",
                                                                                  dir=out.parent))
      fit = train(config, run_dir, show_progress=show_progress)
      loaded = load_model(run_dir)
    result = _apply(task, method, loaded, input, output, options, scale=scale, spacing=spacing, channel=channel,
                    timepoint=timepoint, show_progress=show_progress)
  finally:
    if run_dir is not None and not keep:
      shutil.rmtree(run_dir, ignore_errors=True)
  if report:
    result["report"] = _report(report, input, output, result, scale=scale, channel=channel, timepoint=timepoint)
  if fit is not None:
    result["fit"] = {k: fit.get(k) for k in ("steps", "seconds", "samples_per_s", "eval_psnr", "eval_psnr_input")}
    result["workdir"] = str(run_dir) if keep else None
  result["model"] = str(model) if model is not None else None
  return result


def _report(path: str, input: str, output: str, summary: dict, *, scale: int, channel, timepoint) -> str:
  """The picture input | mean | uncertainty | flags of the middle section (`metrics.uncertainty_plot`)."""
  from jax_iso.data.upsampled import UpsampledVolume  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics.uncertainty_plot import restore_figure  # pylint: disable=g-import-not-at-top
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    view = UpsampledVolume(src, scale) if scale > 1 else src
    return str(restore_figure(path, view, io.intensity_of(src), output, summary, scale=scale))


def _training_config(method: methods.Method, training: Mapping, *, variant, overrides, train_steps, channel,
                     timepoint) -> runconfig.Frozen:
  variant = variant or method.default_variant(jax.default_backend())
  if variant is not None and variant != "default" and variant not in method.variants():
    raise UserError(f"--variant={variant} is not a variant of {method.name}; choose one of "
                    f"{', '.join(('default',) + method.variants())}")
  config = method.default_config(None if variant == "default" else variant)
  sections = _shape(training["data.path"], channel, timepoint, check=False)[0]   # training scans it anyway
  with config.ignore_type(), config.unlocked():
    if sections < FEW_SECTIONS:        # a few images: evaluation crops from anywhere rather than none to train on
      config.data.holdout = 0.0
    for field, value in training.items():
      if field == "pairs":
        config.pairs = ml_collections.ConfigDict(dict(value))
      else:
        section, key = field.split(".")
        config[section][key] = value
    if overrides:
      config.update_from_flattened_dict(dict(overrides))
  config.data.channel, config.data.timepoint = channel, timepoint
  if train_steps is not None:
    if train_steps < 1:
      raise UserError(f"--train_steps={train_steps} must be >= 1")
    config.train.steps = int(train_steps)
  return runconfig.freeze(config)


def _apply(task: str, method: methods.Method, loaded, input: str, output: str, options, *, scale: int, spacing,
           channel, timepoint, show_progress: bool) -> dict:
  # jax_iso.data's package brings grain, which inference does without (`jax-iso predict` imports this module)
  from jax_iso.data.upsampled import UpsampledVolume  # pylint: disable=g-import-not-at-top
  strategy = strategies.get(method.strategy)
  start = time.perf_counter()
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    intensity = io.intensity_of(src, mode=loaded.config.data.get("normalize", "dtype"))
    condition = UpsampledVolume(src, scale) if scale > 1 else src
    sp = spacing or src.spacing
    out_spacing = None if sp is None else (sp[0], sp[1] / scale, sp[2] / scale)
    description = {"job": task, "method": method.name, "source": str(input), "model_step": loaded.step}
    with io.create_volume(output, tuple(condition.shape), src.dtype, out_spacing, description=description) as sink:
      summary = strategy.run(condition, sink, strategies.Job(None, intensity, options, loaded, show_progress))
    in_shape = list(src.shape)
  return {"input": str(input), "output": str(output), "method": method.name, "task": task,
          "input_shape": in_shape, "output_shape": list(condition.shape),
          "spacing_nm": None if out_spacing is None else list(out_spacing),
          "seconds": round(time.perf_counter() - start, 2), "strategy": summary}
