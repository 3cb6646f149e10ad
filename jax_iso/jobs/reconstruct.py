"""`jax-iso reconstruct`: an anisotropic volume onto the isotropic grid, by interpolation or by a model fitted
on the volume itself (self-supervised) and then applied to it."""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import jax

from jax_iso import io, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.io.factor import resolve_factor
from jax_iso.jobs.apply import apply_method, check_extras
from jax_iso.jobs.predict import predict
from jax_iso.jobs.train import train


def reconstruct(input: str, output: str, *, method: str = "cubic", factor: float | None = None,
                spacing: tuple[float, float, float] | None = None, channel: int | None = None,
                timepoint: int | None = None, workdir: str | None = None, steps: int | None = None,
                variant: str | None = None, overrides: Mapping[str, Any] | None = None,
                inpaint: str | None = None, uncertainty: str | None = None, flags: str | None = None,
                sampling: Mapping[str, Any] | None = None, train_iso: str | None = None, restore: bool | Mapping = False,
                show_progress: bool = True, part: io.Part | None = None) -> dict:
  """Reconstructs `input` (sections along Z) onto round(N*s) fine slices and writes `output`.

  The factor comes from --factor, or from the voxel size (--spacing, else the file's metadata); output slice j
  is fine slice j of the section grid (section k centred at (k + 0.5)*s - 0.5), with Z spacing z/s. A learned
  `method` (the registry, `jax_iso.methods`) first trains its config (`configs/<method>.py`) on `input` in
  `workdir` (kept), or in a temporary folder beside the output (removed when done), for `steps` steps (default:
  the config's); the config `variant` defaults to the method's for this backend (the "cpu" one on a CPU), and
  `overrides` ({"pairs.support": 0.5, ...}: dotted config fields) change it. `inpaint` ("auto" or section
  indices "I,J") fills lost sections first and `uncertainty` (a path) writes the test-time orientations'
  standard deviation (emformer) or the samples' (vemdiffuse), for a method whose strategy offers them; `flags`
  (a path) and `sampling` ({"samples": K, "steps": N, "sampler": ..., "threshold": T}) for the diffusion
  methods. `train_iso`: the isotropic volume a method that learns from one (vemdiffuse_i) trains on; the input's
  anisotropy is what it learns to undo. `restore`: the damaged sections are repaired first (`jobs.restore`, into
  a hidden file beside the output, removed after; a mapping gives its keyword arguments, e.g. {"train_steps":
  500}) and the restored volume is reconstructed. `part`: this process writes its rows of the OME-Zarr `output`
  (`io.Part`), for a method that does not learn (a learned one is fitted once, then `predict` splits).
  """
  entry = methods.get(method, task="isotropic")
  io.check_output_path(output, inputs=[input])
  if not entry.learned:
    given = [f"--{n}" for n, v in (("train_steps", steps), ("workdir", workdir), ("variant", variant),
                                   ("config", overrides)) if v is not None and v != {}]
    if given:
      raise UserError(f"{' and '.join(given)} {'sets' if len(given) == 1 else 'set'} how a model is trained; "
                      f"--method={entry.name} learns nothing: "
                      "drop them, or choose a learned method (" + ", ".join(methods.names(learned=True,
                                                                                       task="isotropic")) + ")")
  if entry.train_iso and not train_iso:
    raise UserError(f"--method={entry.name} learns from an isotropic volume of similar tissue: pass "
                    "--train_iso=ISO (e.g. a FIB-SEM volume), or use --method=vemdiffuse_a, which needs none")
  if train_iso and not entry.train_iso:
    learns = [m.name for m in methods.METHODS.values() if m.train_iso]
    raise UserError(f"--train_iso is for methods that learn from an isotropic volume ({', '.join(learns)}); "
                    f"--method={entry.name} learns from the input itself: drop --train_iso")
  extras = check_extras(entry, input, output, inpaint=inpaint, uncertainty=uncertainty, flags=flags,
                        sampling=sampling, channel=channel, timepoint=timepoint, log=show_progress)
  inpaint = extras.get("inpaint")          # "auto" resolved to the sections found (None: nothing to inpaint)
  if part is not None and part.count > 1:
    if entry.learned or restore:
      what = "fits a model" if entry.learned else "restores sections first"
      raise UserError(f"--method={entry.name}{' --restore' if restore else ''} {what} in one process; run it "
                      f"once with --workdir=W, then split the inference: jax-iso predict --model=W "
                      "--process_index=I --process_count=N ...")
    return apply_method(entry, input, output, options=dict(entry.options), factor=factor, spacing=spacing,
                        channel=channel, timepoint=timepoint, show_progress=show_progress, part=part)
  if restore:
    return _restore_first(input, output, {} if restore is True else dict(restore), method=method, factor=factor, spacing=spacing, channel=channel,
                          timepoint=timepoint, workdir=workdir, steps=steps, variant=variant, overrides=overrides,
                          inpaint=inpaint, uncertainty=uncertainty, flags=flags, sampling=sampling,
                          train_iso=train_iso, show_progress=show_progress)
  if entry.learned:
    return _fit_and_predict(entry, input, output, factor=factor, spacing=spacing, channel=channel,
                            timepoint=timepoint, workdir=workdir, steps=steps, variant=variant,
                            overrides=overrides, inpaint=inpaint, uncertainty=uncertainty, flags=flags,
                            sampling=sampling, train_iso=train_iso, show_progress=show_progress)
  return apply_method(entry, input, output, options=dict(entry.options), factor=factor, spacing=spacing,
                      channel=channel, timepoint=timepoint, show_progress=show_progress)


def _restore_first(input: str, output: str, options: dict, *, channel, timepoint, show_progress: bool,
                   **kwargs) -> dict:
  """`jobs.restore` of `input` into a hidden TIFF beside `output`, then `reconstruct` of that (see there)."""
  from jax_iso.jobs.restore import restore  # pylint: disable=g-import-not-at-top
  folder, name = os.path.split(os.path.abspath(output))
  restored = os.path.join(folder, f".{name}.restored-{os.getpid()}.tif")
  try:
    summary = restore(input, restored, channel=channel, timepoint=timepoint, show_progress=show_progress, **options)
    out = reconstruct(restored, output, show_progress=show_progress, **kwargs)
  finally:
    if os.path.exists(restored):
      os.remove(restored)
  return {**out, "input": str(input), "restore": {k: summary[k] for k in ("damaged", "restored", "copied")}}


def _fit_and_predict(method: methods.Method, input: str, output: str, *, factor, spacing, channel, timepoint,
                     workdir, steps, variant, overrides, inpaint, uncertainty, flags, sampling, train_iso,
                     show_progress: bool) -> dict:
  variant = variant or method.default_variant(jax.default_backend())
  config = method.default_config(variant)
  if overrides:
    with config.ignore_type():  # e.g. a custom section profile (a tuple) where the default is "box"
      config.update_from_flattened_dict(dict(overrides))
  config.data.path = str(input)
  config.data.factor = factor
  config.data.spacing = None if spacing is None else ",".join(f"{s:g}" for s in spacing)
  config.data.channel, config.data.timepoint = channel, timepoint
  if train_iso:                                   # learn the input's anisotropy on the isotropic volume
    config.data.factor = _input_factor(input, factor, spacing, channel, timepoint, train_iso)
    config.data.path, config.data.spacing = str(train_iso), None
  if steps is not None:
    if steps < 1:
      raise UserError(f"--steps={steps} must be >= 1")
    config.train.steps = int(steps)
  extras = {k: v for k, v in {**dict(sampling or {}), "uncertainty": uncertainty, "flags": flags}.items()
            if v is not None}
  strategies.get(method.strategy).check(runconfig.freeze({**runconfig.to_dict(config.infer), **extras}))
  if not train_iso:                        # crops of the input's own sections, shrunk to what it holds
    fit_crops(config, input, channel, timepoint)
  out = pathlib.Path(output).absolute()
  keep = workdir is not None
  run_dir = pathlib.Path(workdir) if keep else pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.fit-",
                                                                              dir=out.parent))
  try:
    fit = train(config, run_dir, show_progress=show_progress)
    started = time.perf_counter()
    result = predict(str(run_dir), input, output, factor=factor, spacing=spacing, channel=channel,
                     timepoint=timepoint, inpaint=inpaint, uncertainty=uncertainty, flags=flags, sampling=sampling,
                     show_progress=show_progress)
    result["predict_seconds"] = round(time.perf_counter() - started, 2)
  finally:
    if not keep:
      shutil.rmtree(run_dir, ignore_errors=True)
  result.update(fit={k: fit.get(k) for k in ("steps", "resumed_from", "seconds", "samples_per_s", "eval_psnr",
                                             "eval_psnr_input")}, workdir=str(run_dir) if keep else None,
                variant=variant)
  return result


def fit_crops(config, input: str, channel, timepoint) -> None:
  """Lowers `data.crop` and `data.frames` to what the input holds, so that a small volume trains on smaller
  crops without a setting to change: the crop's edge within the sections' Y and X (along X only for the planes
  between sections, which span Y), a clip's frames within the sections kept for training; both in multiples of
  what the network needs. UserError when not even the smallest crop fits."""
  from jax_iso.data.holdout import held_out  # pylint: disable=g-import-not-at-top
  from jax_iso.models import build_model  # pylint: disable=g-import-not-at-top
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    n, ny, nx = (int(s) for s in src.shape)
  multiple = int(getattr(build_model(config.model), "multiple", 1))
  kind = config.pairs.kind
  room = nx if kind == "between" else min(ny, nx)
  if int(config.data.crop) > room:
    if room < multiple:
      raise UserError(f"{input} has sections of {ny} x {nx} pixels; --method={config.method} needs at least "
                      f"{multiple} x {multiple}")
    config.data.crop = room // multiple * multiple
  if kind in ("clip", "between"):
    keep = n - held_out(n, float(config.data.holdout))
    step = multiple if kind == "between" else 1       # between: frames are rows of the network's input
    frames = min(int(config.data.frames), keep // step * step)
    if frames < step:
      raise UserError(f"{input} has {n} sections; --method={config.method} trains on runs of at least {step} "
                      f"consecutive sections besides the {n - keep} held out: it needs {step + n - keep} or more")
    config.data.frames = frames


def _input_factor(input: str, factor, spacing, channel, timepoint, train_iso: str) -> float:
  """The input's anisotropy (what a model trained on `train_iso` must undo), with `train_iso` checked against
  it: a volume of the input's dtype, not an anisotropic one. Reads metadata only (predict checks the values)."""
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    resolved, _ = resolve_factor(factor, spacing, src.spacing, src.spacing_origin)
    dtype = src.dtype
  with io.open_volume(train_iso) as iso:
    if iso.dtype != dtype:
      raise UserError(f"--train_iso={train_iso} is {iso.dtype} but {input} is {dtype}: the model learns "
                      f"intensities of one dtype range; convert it to {dtype} first")
    if iso.spacing is not None and iso.spacing[0] > 1.2 * max(iso.spacing[1], iso.spacing[2]):
      raise UserError(f"--train_iso={train_iso} is anisotropic (voxel size {','.join(f'{v:g}' for v in iso.spacing)}"
                      " nm, Z coarser than Y and X): vemdiffuse_i learns from an isotropic volume such as a "
                      "FIB-SEM; use --method=vemdiffuse_a to learn from the input itself")
  return resolved
