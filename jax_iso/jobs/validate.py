"""`jax-iso validate`: every method scored against real held-out sections of the user's own volume.

Every other section of the input is held out; the remaining ones (as thick as before, twice as far apart) are
reconstructed at twice the factor by each method, the learned ones fitted on the remaining sections alone with
training pairs of that section profile (thickness s in a period of 2s: `SECTION_PROFILE`). Each method's fine
slices are integrated over every held-out section's thickness (`metrics.heldout`) and scored against the real
section by PSNR, SSIM and FRC resolution. It measures the methods at twice the input's factor.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

from jax_iso import io, pretrained
from jax_iso import methods as registry
from jax_iso.errors import UserError
from jax_iso.io.factor import MAX_FACTOR
from jax_iso.jobs import isotropic
from jax_iso.jobs.reconstruct import reconstruct
from jax_iso.jobs.evaluate import check_report_dir
from jax_iso.jobs.options import make
from jax_iso.metrics import heldout

DEFAULT_METHODS = ("cubic", "unet", "a2i")
MIN_SECTIONS = 4  # two kept sections with one held out between them, and one more to hold out
MIN_LATERAL = 11  # the SSIM window
# Pairs for sections s thick and 2s apart: a flat profile over the middle half of each 2s period.
SECTION_PROFILE = {"pairs.profile": (1.0, 1.0), "pairs.support": 0.5}


def parse_methods(methods: str | Sequence[str]) -> tuple[str, ...]:
  """Method names from "cubic,unet" or a sequence; each must be in the registry (duplicates dropped)."""
  names = [m.strip() for m in (methods.split(",") if isinstance(methods, str) else methods) if m.strip()]
  if not names:
    raise UserError(f"methods={methods!r} names no method; pass e.g. methods={','.join(DEFAULT_METHODS)}")
  for name in names:
    registry.get(name, task="isotropic", flag="methods")
  return tuple(dict.fromkeys(names))


def default_out_dir(input: str) -> pathlib.Path:
  """`<input without its extension>_validate` beside the input (beside the file of an HDF5 dataset)."""
  return pathlib.Path(io.derived_path(input, "_validate"))


def validate(input: str, methods: str | Sequence[str] = DEFAULT_METHODS, **settings) -> dict:
  """Scores `methods` on the held-out sections of `input`; writes validate.json, validate.png and the held-out
  sections (heldout_real.tif, heldout_METHOD.tif, float32 in [0, 1]) into `out_dir` (default: INPUT_validate
  beside the input). Learned methods run as `reconstruct` runs them: from the model shipped for the method
  (briefly fine-tuned on the kept sections; `train_steps`: its fine-tune) where one ships, else fitted for
  `train_steps` steps (default: their config's) of config `variant`; `init` picks (scratch, "pretrained", or a
  trained model; `train_steps`: its fine-tune, 0: as it is); `settings`: see `jobs.options.COMMANDS["validate"]`. Returns the validate.json dict."""
  opts = make("validate", input=input, methods=methods, **settings)
  names = parse_methods(opts.methods)
  if opts.train_steps is not None and opts.train_steps < (0 if opts.init not in (None, "scratch") else 1):
    raise UserError(f"train_steps={opts.train_steps} must be >= 1 (or 0 with init=MODEL: the model as it is)")
  out = pathlib.Path(opts.out_dir) if opts.out_dir else default_out_dir(input)
  check_report_dir(out, "out_dir")
  start = time.perf_counter()
  with isotropic.TASK.open(opts, None) as grid:
    n = int(grid.src.shape[0])
    if n < MIN_SECTIONS:
      raise UserError(f"{input} has {n} sections; validate holds out every other one and needs at least "
                      f"{MIN_SECTIONS}")
    if min(grid.src.shape[1:]) < MIN_LATERAL:
      raise UserError(f"{input} has sections of {grid.src.shape[1]} x {grid.src.shape[2]} pixels; validate "
                      f"scores them by SSIM and needs at least {MIN_LATERAL} x {MIN_LATERAL}")
    s = grid.factor
    if 2 * s > MAX_FACTOR:
      raise UserError(f"validate reconstructs at twice the factor, x{2 * s:g}, beyond x{MAX_FACTOR:g}; it cannot "
                      "validate a volume this anisotropic")
    data = np.asarray(grid.src[:])
    to_unit, vol_spacing = io.intensity_of(grid.src).to_unit, grid.spacing
  kept = data[0::2]
  n_heldout = len(kept) - 1  # held-out sections with a kept one on each side
  real = np.asarray(to_unit(data[1:2 * n_heldout:2]), np.float32)
  kept_spacing = None if vol_spacing is None else (2 * vol_spacing[0], vol_spacing[1], vol_spacing[2])
  lateral = (1.0, 1.0) if vol_spacing is None else (vol_spacing[1], vol_spacing[2])
  created = not out.exists()
  out.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=".validate-", dir=out))
  try:
    kept_path = tmp / "kept.tif"
    io.write_volume(kept_path, kept, kept_spacing, description={"job": "validate", "source": str(input),
                                                                "kept": "sections 0, 2, 4, ..."})
    scores, predicted = {}, {}
    for name in names:
      method_start = time.perf_counter()
      entry = registry.get(name)
      print(f"validate: {name} on {len(kept)} kept sections at x{2 * s:g}", file=sys.stderr)
      learned = {"variant": opts.variant, "config": SECTION_PROFILE}     # a fit on the profile of kept sections
      if opts.init not in (None, "scratch"):    # a trained model: as it is, or fine-tuned with its own pairs
        learned = {"init": opts.init}
      elif opts.init is None and opts.variant is None and pretrained.for_method(name):
        learned = {}                            # as reconstruct runs it: the shipped model, briefly fine-tuned
      if opts.train_steps is not None:
        learned["train_steps"] = opts.train_steps
      pred_path = tmp / f"pred_{name}.tif"
      run = reconstruct(str(kept_path), str(pred_path), method=name, factor=None if kept_spacing else 2 * s,
                        show_progress=opts.show_progress, **(learned if entry.learned else {}))
      with io.open_volume(pred_path) as pred:
        predicted[name] = heldout.integrate_heldout(pred, s, n_heldout, to_unit)
      pred_path.unlink()
      scores[name] = heldout.section_scores(predicted[name], real, lateral)
      scores[name]["seconds"] = round(time.perf_counter() - method_start, 1)
      if run.get("fit"):
        scores[name]["fit"] = run["fit"]
      if entry.learned:
        scores[name]["model_route"] = run["route"] + (f" ({run['model_name']})" if run.get("model_name") else "")
    result = {"input": str(input), "factor": s, "validated_factor": 2 * s, "sections": n, "kept": len(kept),
              "heldout": [2 * j + 1 for j in range(n_heldout)], "spacing_nm": None if vol_spacing is None else
              list(vol_spacing), "resolution_units": "voxels" if vol_spacing is None else "nm",
              "methods": scores, "best": max(scores, key=lambda m: scores[m]["psnr"]), "out_dir": str(out)}
    _write_outputs(out, tmp, result, real, predicted, kept_spacing, start)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
    if created and not any(out.iterdir()):  # a failed run leaves no empty folder behind
      out.rmdir()
  return result


def _write_outputs(out: pathlib.Path, tmp: pathlib.Path, result: dict, real: np.ndarray,
                   predicted: dict[str, np.ndarray], spacing: tuple | None, start: float) -> None:
  """Writes every output into `tmp`, then moves each into `out` (no half-written file is ever in `out`)."""
  from jax_iso.metrics import heldout_plot  # pylint: disable=g-import-not-at-top  (matplotlib: only when needed)
  files = [heldout_plot.heldout_picture(tmp / "validate.png", real, predicted, result)]
  for name, sections in {"real": real, **predicted}.items():
    io.write_volume(tmp / f"heldout_{name}.tif", sections, spacing, description={"job": "validate"})  # 2s apart
    files.append(tmp / f"heldout_{name}.tif")
  result["pictures"] = [str(out / "validate.png")]
  result["seconds"] = round(time.perf_counter() - start, 1)
  (tmp / "validate.json").write_text(json.dumps(result, indent=1))
  for f in files + [tmp / "validate.json"]:
    os.replace(f, out / f.name)
