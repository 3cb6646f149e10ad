"""`jax-iso restore`: ssTEM restoration of a volume's damaged sections (folds, precipitates, missing sections).

    restore("stack.tif", "fixed.tif")                                 # find the damage, train, repair
    restore("stack.tif", "fixed.tif", sections="12,57", masks="m.tif")  # only these sections; write the masks
    restore("stack.tif", "fixed.tif", model="runs/restore")           # a trained sstem_restore model

1. Detection (`infer.damage.detect_damage`, `artifacts`: "auto" = every kind, or some of missing, fold,
   precipitate, defocus): damaged sections and their regions. With `sections`, only those sections are
   restored; each keeps the regions found in it, or the whole section when nothing was found there.
2. Training (unless `model`): `configs/sstem_restore.py` (the "cpu" variant on a CPU) on the volume's own
   clean sections (`data.exclude` = the damaged ones), crops and context shrunk to fit a small volume.
3. Restoration (`infer/sections_strategy.py`): every damaged section repaired, every other one copied bit for
   bit; `masks` (a path) gets the detection as uint8 codes per voxel (MASK_CODES; 0 = clean).
Everything that can be wrong with the inputs and outputs is checked before any training. A volume without
damage is copied as it is. Each section found is printed with what was found and done.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile
import time

import jax
import numpy as np

from jax_iso import io, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.infer import damage as damage_lib
from jax_iso.infer import strategies
from jax_iso.infer.sections_strategy import copy_sections
from jax_iso.jobs.train import train
from jax_iso.models.loader import load_model

METHOD = "sstem_restore"
MASK_CODES = {"missing": 1, "fold": 2, "precipitate": 3, "defocus": 4, "named": 5}   # --masks values
MIN_SECTIONS = 3


def restore(input: str, output: str, *, artifacts: str = "auto", sections: str | None = None,
            masks: str | None = None, model: str | None = None, workdir: str | None = None,
            train_steps: int | None = None, variant: str | None = None, channel: int | None = None,
            timepoint: int | None = None, show_progress: bool = True, log=None) -> dict:
  """Finds and repairs the damaged sections of `input` into `output` (see the module docstring); returns a
  summary with each damaged section's kinds and what was done."""
  log = log or (lambda line: print(line, file=sys.stderr, flush=True))
  method = methods.get(METHOD)
  _check_paths(input, output, masks)
  kinds = damage_lib.parse_kinds(artifacts)
  if model is not None:
    given = [f"--{n}" for n, v in (("variant", variant), ("train_steps", train_steps), ("workdir", workdir)) if v]
    if given:
      raise UserError(f"{' and '.join(given)} set how a model is trained; with --model={model} none is: drop them")
  if train_steps is not None and train_steps < 1:
    raise UserError(f"--train_steps={train_steps} must be >= 1")
  loaded = None if model is None else _load(model)     # the model and the variant before any detection
  variant = None if model is not None else _variant(method, variant)
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    n, ny, nx = (int(s) for s in src.shape)
    spacing = src.spacing
    if n < MIN_SECTIONS:
      raise UserError(f"{input} has {n} section(s); restoration repairs a section from its neighbours and needs "
                      f"at least {MIN_SECTIONS}")
    io.check_finite(src)
    named = None if sections is None else _parse_named(sections, n)
    started = time.perf_counter()
    found, regions = damage_lib.detect_damage(src, kinds=kinds)
    detect_seconds = time.perf_counter() - started
  report = _select(found, regions, named, (ny, nx))
  if len(report) == n:
    raise UserError(f"every one of the {n} sections of {input} is marked damaged: nothing clean is left to learn "
                    "from or to restore them from; name the damaged ones with --sections=I,J")
  for line in _describe(report, n, named):
    log(line)
  summary = {"input": str(input), "output": str(output), "sections": n, "artifacts": list(kinds),
             "detect_seconds": round(detect_seconds, 2),
             "damaged": [{"section": k, "kinds": list(r["kinds"]), "fraction": r["fraction"], "detail": r["detail"]}
                         for k, r in sorted(report.items())]}
  if masks:
    _write_masks(masks, input, report, (n, ny, nx), spacing)
    summary["masks"] = str(masks)
  if not report:
    _copy(input, output, channel, timepoint)
    summary.update(restored=[], copied=n, seconds=round(time.perf_counter() - started, 2))
    return summary
  fit, run_dir = None, None
  keep = workdir is not None
  strategy = strategies.get(method.strategy)
  if loaded is not None:
    config = loaded.config
  # every section found damaged is left out of training and not used as a neighbour, also those --sections skips
  avoid = sorted(set(report) | {d.index for d in found})
  if model is None:
    config = _training_config(method, input, avoid, (ny, nx), variant=variant, train_steps=train_steps,
                              channel=channel, timepoint=timepoint)
  options = {**runconfig.to_dict(config.infer), "damage": {k: r["mask"] for k, r in report.items()}, "avoid": avoid}
  strategy.check(options)
  try:
    if loaded is None:
      out = pathlib.Path(output).absolute()
      run_dir = pathlib.Path(workdir) if keep else pathlib.Path(
          tempfile.mkdtemp(prefix=f".{out.name}.fit-", dir=out.parent))
      fit = train(config, run_dir, show_progress=show_progress)
      loaded = load_model(run_dir)
    with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
      intensity = io.intensity_of(src, mode=loaded.config.data.get("normalize", "dtype"))
      description = {"job": "restore", "method": METHOD, "source": str(input), "model_step": loaded.step,
                     "restored": sorted(report)}
      with io.create_volume(output, (n, ny, nx), src.dtype, src.spacing, description=description) as sink:
        result = strategy.run(src, sink, strategies.Job(None, intensity, options, loaded, show_progress))
  finally:
    if run_dir is not None and not keep:
      shutil.rmtree(run_dir, ignore_errors=True)
  summary.update(restored=result["restored"], copied=result["copied"],
                 seconds=round(time.perf_counter() - started, 2), model=str(model) if model else None)
  if fit is not None:
    summary["fit"] = {k: fit.get(k) for k in ("steps", "seconds", "samples_per_s", "eval_psnr", "eval_psnr_input")}
    summary["workdir"] = str(run_dir) if keep else None
  log(f"restore: {len(result['restored'])} section(s) restored, {result['copied']} copied unchanged -> {output}")
  return summary


def _load(model: str):
  """The trained restoration model `model` names; UserError for a model of another method."""
  loaded = load_model(model)
  if loaded.config.method != METHOD:
    raise UserError(f"--model={model} holds a {loaded.config.method} model; `jax-iso restore` needs a {METHOD} "
                    "model: drop --model to train one on the volume itself")
  return loaded


def _variant(method, variant: str | None) -> str | None:
  """The config variant to train (`variant`, else the backend's default), checked."""
  variant = variant or method.default_variant(jax.default_backend())
  if variant is not None and variant != "default" and variant not in method.variants():
    raise UserError(f"--variant={variant} is not a variant of {method.name}; choose one of "
                    f"{', '.join(('default',) + method.variants())}")
  return variant


def _check_paths(input: str, output: str, masks: str | None) -> None:
  io.check_output_path(output, inputs=[input])
  if masks:
    if os.path.realpath(masks) == os.path.realpath(output):
      raise UserError(f"--masks={masks} is also --output; give the masks their own file (e.g. masks.tif)")
    io.check_output_path(masks, inputs=[input])


def _parse_named(spec: str, n: int) -> list[int]:
  from jax_iso.data.sections import parse_sections  # pylint: disable=g-import-not-at-top
  named = parse_sections(spec, n, flag="--sections")
  if not named:
    raise UserError(f"--sections={spec} names no section; write indices like --sections=12,57")
  return named


def _select(found, regions, named, shape) -> dict:
  """{section: {"kinds", "fraction", "detail", "mask"}} of the sections to restore."""
  report = {d.index: {"kinds": tuple(d.kinds), "fraction": float(d.fraction), "detail": d.detail,
                      "mask": regions[d.index]} for d in found}
  if named is None:
    return report
  whole = np.ones(shape, bool)
  return {k: report.get(k) or {"kinds": ("named",), "fraction": 1.0, "detail": "named by --sections, nothing found: "
                               "the whole section is replaced", "mask": whole} for k in named}


def _describe(report: dict, n: int, named) -> list[str]:
  lines = []
  for k, r in sorted(report.items()):
    lines.append(f"restore: section {k}: {', '.join(r['kinds'])} ({r['detail']}; {100 * r['fraction']:.1f} % of "
                 "the section) -> restored")
  clean = n - len(report)
  what = "not named by --sections" if named is not None else "found clean"
  lines.append(f"restore: {clean} of {n} sections {what}: copied unchanged")
  return lines


def _write_masks(path: str, input: str, report: dict, shape, spacing) -> None:
  description = {"job": "restore masks", "source": str(input), "codes": MASK_CODES}
  with io.create_volume(path, tuple(shape), np.uint8, spacing, description=description) as sink:
    for z in range(shape[0]):
      plane = np.zeros(shape[1:], np.uint8)
      if z in report:
        plane[np.asarray(report[z]["mask"], bool)] = MASK_CODES[report[z]["kinds"][0]]
      sink[z:z + 1] = plane[None]


def _copy(input: str, output: str, channel, timepoint) -> None:
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    description = {"job": "restore", "method": METHOD, "source": str(input), "restored": []}
    with io.create_volume(output, tuple(src.shape), src.dtype, src.spacing, description=description) as sink:
      copy_sections(src, sink, 0, int(src.shape[0]))


def _training_config(method, input: str, damaged: list[int], shape, *, variant, train_steps, channel, timepoint):
  """The method's config (`variant`, checked by `_variant`) on `input`'s clean sections, crops fitted to its
  size."""
  config = method.default_config(None if variant == "default" else variant)
  with config.unlocked():
    config.data.path = str(input)
    config.data.channel, config.data.timepoint = channel, timepoint
    config.data.exclude = ",".join(str(k) for k in damaged)
    if train_steps is not None:
      config.train.steps = int(train_steps)
    fit_crop(config, min(shape))
  return runconfig.freeze(config)


def fit_crop(config, edge: int) -> None:
  """Crop and context lowered so that a crop with its context fits a section `edge` px wide (the model's size
  multiple kept)."""
  from jax_iso.models import build_model  # pylint: disable=g-import-not-at-top
  multiple = int(getattr(build_model(config.model), "multiple", 1))
  crop, context = int(config.data.crop), int(config.pairs.context)
  if crop + 2 * context <= edge:
    return
  context = min(context, edge // 4)
  crop = (edge - 2 * context) // multiple * multiple
  if crop < multiple:
    raise UserError(f"sections of {edge} px are too small for the restoration network (crops of at least "
                    f"{multiple} px plus context); restore a larger volume")
  config.data.crop, config.pairs.context = crop, context
