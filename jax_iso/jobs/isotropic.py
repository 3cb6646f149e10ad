"""The isotropic task: sections onto the isotropic grid, the hooks `jobs/reconstruct.py` and `jobs/predict.py`
run through the job pipeline.

The sections (Z) are reconstructed onto round(N*s) fine slices, output slice j being fine slice j of the section
grid (section k centred at (k + 0.5)*s - 0.5), with Z spacing z/s. The factor s comes from `factor`, or from the
voxel size (`spacing`, else the file's metadata): they must agree. A learned method fits its config
(`configs/<method>.py`, the "cpu" variant on a CPU) on the input's own lateral planes (or on `train_iso`, an
isotropic volume of similar tissue, for vemdiffuse_i, whose shipped model needs none), with crops shrunk to what the
input holds; a model of every factor is fine-tuned at the input's factor alone; `inpaint`
("auto" or "I,J") fills lost sections first, `uncertainty`, `flags` and the sampling settings go to the methods
whose strategy offers them. `restore=True` (or a mapping of restore's settings) repairs damaged sections first.
`part` (io.Part) makes this process write its rows of an OME-Zarr output, for the methods whose inference splits
(interpolation, unet, a2i); a model fitted or fine-tuned on the input is trained by the processes together when
they run under jax.distributed (`model_route.obtain`), then each writes its rows with it.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

import jax

from jax_iso import io, methods
from jax_iso.degrade import grid as grid_lib
from jax_iso.degrade.pairs import factor_range
from jax_iso.detect import find_missing
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.io.factor import resolve_factor
from jax_iso.jobs import pipeline
from jax_iso.jobs.options import Options
from jax_iso.models.loader import LoadedModel


class Isotropic:
  """The isotropic task's hooks (`pipeline.Task`)."""
  name = "isotropic"
  default_init = "auto"          # the shipped model where one exists (and a short fine-tune), else a fit

  def check(self, opts: Options, method: methods.Method) -> None:
    fits = opts.init == "scratch" or opts.init is None and (opts.variant is not None or bool(opts.config)
                                                            or not _shipped(method))
    if method.train_iso and not opts.train_iso and fits:
      raise UserError(f"method={method.name} learns from an isotropic volume of similar tissue: pass "
                      "train_iso=ISO (e.g. a FIB-SEM volume), or use method=vemdiffuse_a, which needs none")
    if opts.train_iso and not method.train_iso:
      learns = [m.name for m in methods.METHODS.values() if m.train_iso]
      raise UserError(f"train_iso={opts.train_iso} is for methods that learn from an isotropic volume "
                      f"({', '.join(learns)}); method={method.name} learns from the input itself: drop train_iso={opts.train_iso}")
    if opts.part is not None and opts.part.count > 1:
      if not strategies.get(method.strategy).splits:
        splitting = [m.name for m in methods.METHODS.values() if strategies.get(m.strategy).splits]
        raise UserError(f"method={method.name} runs in one process; process_count > 1 is for "
                        f"{', '.join(splitting)}")
      loads = opts.train_steps == 0 or (opts.init not in (None, "scratch", "pretrained") and opts.train_steps is None)
      if method.learned and not loads and jax.process_count() != opts.part.count:
        # a fit or a fine-tune trains across the processes of jax.distributed (as `jax-iso train --distributed`);
        # processes started apart (a job array) could only each train their own
        raise UserError(f"method={method.name} fits a model, which {opts.part.count} processes train together only "
                        "when started under jax.distributed (jax-iso reconstruct --distributed ...); else run it "
                        "once with workdir=W, then split the inference: jax-iso predict --model=W "
                        "--process_index=I --process_count=N ..., or give train_steps=0 to split a trained model "
                        "as it is")

  @contextlib.contextmanager
  def open(self, opts: Options, method: methods.Method) -> Iterator[pipeline.Grid]:
    del method
    with pipeline.opened(opts) as src:
      factor, spacing = resolve_factor(opts.factor, opts.spacing, src.spacing, src.spacing_origin)
      if src.shape[0] < 2:
        raise UserError(f"{opts.input} has {src.shape[0]} section; reconstruction needs at least 2 along Z")
      n_z, n_y, n_x = (int(n) for n in src.shape)
      out_spacing = None if spacing is None else (spacing[0] / factor, spacing[1], spacing[2])
      yield pipeline.Grid(src, src, factor, spacing, (grid_lib.fine_count(n_z, factor), n_y, n_x), out_spacing)

  def plan(self, opts: Options, method: methods.Method, grid: pipeline.Grid, infer: Mapping) -> pipeline.Plan:
    extras = {**opts.sampling(), **{k: str(getattr(opts, k)) for k in ("uncertainty", "flags") if getattr(opts, k)}}
    if opts.fuse is not None:
      extras["fuse"] = opts.fuse
    if opts.inpaint:
      missing = find_missing(grid.src, str(opts.inpaint), log=opts.show_progress)
      if missing:
        extras["inpaint"] = ",".join(str(k) for k in missing)
    description = {"factor": grid.factor, **({"uncertainty": str(opts.uncertainty)} if opts.uncertainty else {})}
    return pipeline.Plan({**dict(infer), **extras}, description)

  def training_config(self, base, opts: Options, method: methods.Method, grid: pipeline.Grid, plan: pipeline.Plan):
    del plan
    config = base
    config.data.path = str(opts.input)
    config.data.factor = opts.factor
    config.data.spacing = None if opts.spacing is None else ",".join(f"{s:g}" for s in opts.spacing)
    config.data.channel, config.data.timepoint = opts.channel, opts.timepoint
    if opts.train_iso:                              # learn the input's anisotropy on the isotropic volume
      config.data.factor = _checked_iso(opts, grid)
      config.data.path, config.data.spacing = str(opts.train_iso), None
    else:                                           # crops of the input's own sections, shrunk to what it holds
      fit_crops(config, grid.src, str(opts.input))
    if factor_range(config.pairs) is not None:      # a model of every factor, fine-tuned on this input's
      config.pairs.factors = (grid.factor, grid.factor)
    # a pretrained model's mixture of volumes and their views: this volume only, its sections as they are
    for key, one_volume in (("weights", None), ("views", "lateral"), ("frame_spacing", 0.0)):
      if key in config.data:
        config.data[key] = one_volume
    return config

  def check_model(self, loaded: LoadedModel, grid: pipeline.Grid, opts: Options) -> None:
    check_model_factor(loaded, grid.factor, str(opts.input))

  def finish(self, opts: Options, grid: pipeline.Grid, out: dict) -> None:
    del opts, grid, out


TASK = Isotropic()


def _shipped(method: methods.Method) -> bool:
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  return pretrained.for_method(method.name) is not None


def check_model_factor(model: LoadedModel, factor: float, input: str) -> None:
  """A model serves the anisotropy it was trained for, or any in the range it was trained on (`any_factor`
  pairs, or `between` pairs with `factors`); UserError otherwise."""
  drawn = factor_range(model.config.pairs)
  if drawn is not None:
    lo, hi = drawn
    if not lo * 0.99 <= factor <= hi * 1.01:
      raise UserError(f"the model in {model.source} serves anisotropies x{lo:g} to x{hi:g} but {input} is "
                      f"x{factor:g}; fit a model on this volume (init=scratch) or give the right factor or spacing")
    return
  trained = float(model.config.resolved.factor)
  if abs(factor - trained) > 0.01 * trained:
    raise UserError(f"the model in {model.source} was trained for anisotropy x{trained:g} but {input} is "
                    f"x{factor:g}; fit one on this volume (init=scratch) or give the right factor or spacing")


def fit_crops(config, src, input: str) -> None:
  """Lowers `data.crop` and `data.frames` to what the input holds, so that a small volume trains on smaller
  crops without a setting to change: the crop's edge within the sections' Y and X (along X only for the planes
  between sections, which span Y), a clip's frames within the sections kept for training; both in multiples of
  what the network needs. UserError when not even the smallest crop fits."""
  from jax_iso.data.holdout import held_out  # pylint: disable=g-import-not-at-top
  from jax_iso.models import build_model  # pylint: disable=g-import-not-at-top
  n, ny, nx = (int(s) for s in src.shape)
  multiple = int(getattr(build_model(config.model), "multiple", 1))
  kind = config.pairs.kind
  room = nx if kind == "between" else min(ny, nx)
  if int(config.data.crop) > room:
    if room < multiple:
      raise UserError(f"{input} has sections of {ny} x {nx} pixels; method={config.method} needs at least "
                      f"{multiple} x {multiple}")
    config.data.crop = room // multiple * multiple
  if kind in ("clip", "between"):
    keep = n - held_out(n, float(config.data.holdout))
    step = multiple if kind == "between" else 1       # between: frames are rows of the network's input
    frames = min(int(config.data.frames), keep // step * step)
    if frames < step:
      raise UserError(f"{input} has {n} sections; method={config.method} trains on runs of at least {step} "
                      f"consecutive sections besides the {n - keep} held out: it needs {step + n - keep} or more")
    config.data.frames = frames


def _checked_iso(opts: Options, grid: pipeline.Grid) -> float:
  """The input's anisotropy (what a model trained on `train_iso` must undo), with `train_iso` checked against
  the input: a volume of its dtype, not an anisotropic one."""
  with io.open_volume(opts.train_iso) as iso:
    if iso.dtype != grid.src.dtype:
      raise UserError(f"train_iso={opts.train_iso} is {iso.dtype} but {opts.input} is {grid.src.dtype}: the model "
                      f"learns intensities of one dtype range; convert it to {grid.src.dtype} first")
    if iso.spacing is not None and iso.spacing[0] > 1.2 * max(iso.spacing[1], iso.spacing[2]):
      raise UserError(f"train_iso={opts.train_iso} is anisotropic (voxel size "
                      f"{','.join(f'{v:g}' for v in iso.spacing)} nm, Z coarser than Y and X): vemdiffuse_i learns "
                      "from an isotropic volume such as a FIB-SEM; use method=vemdiffuse_a to learn from the input "
                      "itself")
  return grid.factor
