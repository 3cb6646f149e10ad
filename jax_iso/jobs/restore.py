"""`jax-iso restore`: ssTEM restoration of a volume's damaged sections (folds, precipitates, missing sections),
through the job pipeline.

    restore("stack.tif", "fixed.tif")                                 # find the damage, train, repair
    restore("stack.tif", "fixed.tif", sections="12,57", masks="m.tif")  # only these sections; write the masks
    restore("stack.tif", "fixed.tif", init="runs/restore")            # a trained sstem_restore model (or model=)
    restore("stack.tif", "fixed.tif", init="scratch")                 # a fit from nothing, also where a model ships

1. Detection (`detect.detect_damage`, `artifacts`: "auto" = every kind, or some of missing, fold, precipitate,
   defocus): damaged sections and their regions. With `sections`, only those sections are restored; each keeps
   the regions found in it, or the whole section when nothing was found there.
2. The model (`model_route`), trained on the volume's own clean sections (`data.exclude` = the damaged ones),
   crops and context shrunk to fit a small volume: by default (`init` not given) the model shipped for
   sstem_restore (`jax_iso/pretrained/`, pretrained by configs/pretrain/sstem_restore.py) fine-tuned for its
   card's `fine_tune_steps` (`train_steps=N` for more, 0 to use it as it is), where one ships and neither
   `variant` nor `config` describes a config to train; otherwise (`init="scratch"`) `configs/sstem_restore.py`
   (the "cpu" variant on a CPU) fitted from nothing. `init=PATH` loads a trained model (fine-tuned with
   `train_steps=N`).
3. Restoration (`infer/sections.py`): every damaged section repaired, every other one copied bit for bit;
   `masks` (a path) gets the detection as uint8 codes per voxel (MASK_CODES; 0 = clean).
Everything that can be wrong with the inputs and outputs (the model and the variant too) is checked before the
detection. A volume without damage is copied as it is. Each section found is printed with what was found.
"""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Mapping

import numpy as np

from jax_iso import io, methods
from jax_iso.detect import damage as damage_lib
from jax_iso.errors import UserError
from jax_iso.jobs import pipeline
from jax_iso.jobs.options import Options, make
from jax_iso.models.loader import LoadedModel

METHOD = "sstem_restore"
MASK_CODES = {"missing": 1, "fold": 2, "precipitate": 3, "defocus": 4, "named": 5}   # masks values
MIN_SECTIONS = 3


def _log(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


class Restore:
  """The restoration task's hooks (`pipeline.Task`)."""
  name = "restore"
  default_init = "auto"      # the model shipped for sstem_restore, fine-tuned, where one ships; else a fit

  def check(self, opts: Options, method: methods.Method) -> None:
    del method
    damage_lib.parse_kinds(opts.artifacts)

  @contextlib.contextmanager
  def open(self, opts: Options, method: methods.Method) -> Iterator[pipeline.Grid]:
    del method
    with pipeline.opened(opts) as src:
      n = int(src.shape[0])
      if n < MIN_SECTIONS:
        raise UserError(f"{opts.input} has {n} section(s); restoration repairs a section from its neighbours and "
                        f"needs at least {MIN_SECTIONS}")
      shape = tuple(int(s) for s in src.shape)
      yield pipeline.Grid(src, src, None, src.spacing, shape, src.spacing)

  def plan(self, opts: Options, method: methods.Method, grid: pipeline.Grid, infer: Mapping) -> pipeline.Plan:
    del method
    n, ny, nx = grid.out_shape
    named = None if opts.sections is None else _parse_named(opts.sections, n)
    started = time.perf_counter()
    found, regions = damage_lib.detect_damage(grid.src, kinds=damage_lib.parse_kinds(opts.artifacts))
    report = _select(found, regions, named, (ny, nx))
    if len(report) == n:
      raise UserError(f"every one of the {n} sections of {opts.input} is marked damaged: nothing clean is left to "
                      "learn from or to restore them from; name the damaged ones with sections=I,J")
    for line in _describe(report, n, named):
      _log(line)
    if opts.masks:
      _write_masks(opts.masks, opts.input, report, grid.out_shape, grid.spacing)
    # every section found damaged is left out of training and not used as a neighbour, also those `sections` skips
    avoid = sorted(set(report) | {d.index for d in found})
    damaged = [{"section": k, "kinds": list(r["kinds"]), "fraction": r["fraction"], "detail": r["detail"]}
               for k, r in sorted(report.items())]
    options = {**dict(infer), "damage": {k: r["mask"] for k, r in report.items()}, "avoid": avoid}
    return pipeline.Plan(options, {"restored": sorted(report)}, copy=not report, training={"avoid": avoid},
                         summary={"damaged": damaged, "detect_seconds": round(time.perf_counter() - started, 2)})

  def training_config(self, base, opts: Options, method: methods.Method, grid: pipeline.Grid, plan: pipeline.Plan):
    del method
    volume_config(base, opts.input, plan.training["avoid"], min(grid.out_shape[1:]))
    base.data.channel, base.data.timepoint = opts.channel, opts.timepoint
    return base

  def check_model(self, loaded: LoadedModel, grid: pipeline.Grid, opts: Options) -> None:
    del loaded, grid, opts

  def finish(self, opts: Options, grid: pipeline.Grid, out: dict) -> None:
    del grid
    strategy = out.get("strategy") or {}
    out["restored"] = strategy.get("restored", [])
    out["copied"] = strategy.get("copied", out["input_shape"][0])
    _log(f"restore: {len(out['restored'])} section(s) restored, {out['copied']} copied unchanged -> {opts.output}")


TASK = Restore()


def restore(input: str, output: str, *, model: str | None = None, **settings) -> dict:
  """Finds and repairs the damaged sections of `input` into `output` (module docstring); `model` is
  `init=model`; `settings`: see `jobs.options.COMMANDS["restore"]`. Returns a summary with each damaged
  section's kinds and what was done."""
  if model is not None:
    if settings.get("init") not in (None, model):
      raise UserError(f"model={model} and init={settings['init']} both name the model; pass one")
    settings["init"] = model
  opts = make("restore", input=input, output=output, method=METHOD, **settings)
  out = pipeline.run(opts, TASK)
  return {**out, "sections": out["input_shape"][0], "artifacts": list(damage_lib.parse_kinds(opts.artifacts)),
          "masks": str(opts.masks) if opts.masks else None,
          "model": out.get("model") or (opts.init if opts.init not in (None, "scratch", "auto") else None)}


def _parse_named(spec: str, n: int) -> list[int]:
  from jax_iso.data.sections import parse_sections  # pylint: disable=g-import-not-at-top
  named = parse_sections(spec, n, flag="sections")
  if not named:
    raise UserError(f"sections={spec} names no section; write indices like sections=12,57")
  return named


def _select(found, regions, named, shape) -> dict:
  """{section: {"kinds", "fraction", "detail", "mask"}} of the sections to restore."""
  report = {d.index: {"kinds": tuple(d.kinds), "fraction": float(d.fraction), "detail": d.detail,
                      "mask": regions[d.index]} for d in found}
  if named is None:
    return report
  whole = np.ones(shape, bool)
  return {k: report.get(k) or {"kinds": ("named",), "fraction": 1.0, "detail": "named by sections, nothing found: "
                               "the whole section is replaced", "mask": whole} for k in named}


def _describe(report: dict, n: int, named) -> list[str]:
  lines = []
  for k, r in sorted(report.items()):
    lines.append(f"restore: section {k}: {', '.join(r['kinds'])} ({r['detail']}; {100 * r['fraction']:.1f} % of "
                 "the section) -> restored")
  clean = n - len(report)
  what = "not named by sections" if named is not None else "found clean"
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


def volume_config(config, path, avoid, edge: int) -> None:
  """`config` (unlocked; a fit's or a pretrained model's) set to train on the sections of the one volume `path`
  but `avoid` (damaged or held out), whose sections are `edge` px wide at their narrowest."""
  config.data.path = str(path)
  config.data.exclude = ",".join(str(k) for k in avoid)
  # a pretrained model's mixture of volumes, their views and frame spacing: this volume, its sections as they are
  for key, one_volume in (("weights", None), ("views", "lateral"), ("frame_spacing", 0.0)):
    if key in config.data:
      config.data[key] = one_volume
  fit_crop(config, edge)


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
