"""`jax-iso reconstruct`: an anisotropic volume onto the isotropic grid, by interpolation or by a model fitted
on the volume itself (self-supervised) and then applied to it."""
from __future__ import annotations

import pathlib
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import jax

from jax_iso import io, methods
from jax_iso.errors import UserError
from jax_iso.jobs.apply import apply_method, check_extras
from jax_iso.jobs.predict import predict
from jax_iso.jobs.train import train


def reconstruct(input: str, output: str, *, method: str = "cubic", factor: float | None = None,
                spacing: tuple[float, float, float] | None = None, channel: int | None = None,
                timepoint: int | None = None, workdir: str | None = None, steps: int | None = None,
                variant: str | None = None, overrides: Mapping[str, Any] | None = None,
                inpaint: str | None = None, uncertainty: str | None = None, show_progress: bool = True) -> dict:
  """Reconstructs `input` (sections along Z) onto round(N*s) fine slices and writes `output`.

  The factor comes from --factor, or from the voxel size (--spacing, else the file's metadata); output slice j
  is fine slice j of the section grid (section k centred at (k + 0.5)*s - 0.5), with Z spacing z/s. A learned
  `method` (the registry, `jax_iso.methods`) first trains its config (`configs/<method>.py`) on `input` in
  `workdir` (kept), or in a temporary folder beside the output (removed when done), for `steps` steps (default:
  the config's); the config `variant` defaults to the method's for this backend (the "cpu" one on a CPU), and
  `overrides` ({"pairs.support": 0.5, ...}: dotted config fields) change it. `inpaint` ("auto" or section
  indices "I,J") fills lost sections first and `uncertainty` (a path) writes the test-time orientations'
  standard deviation, for a method whose strategy offers them (emformer).
  """
  entry = methods.get(method, task="isotropic")
  io.check_output_path(output, inputs=[input])
  extras = check_extras(entry, input, output, inpaint=inpaint, uncertainty=uncertainty, channel=channel,
                        timepoint=timepoint, log=show_progress)
  inpaint = extras.get("inpaint")          # "auto" resolved to the sections found (None: nothing to inpaint)
  if entry.learned:
    return _fit_and_predict(entry, input, output, factor=factor, spacing=spacing, channel=channel,
                            timepoint=timepoint, workdir=workdir, steps=steps, variant=variant,
                            overrides=overrides, inpaint=inpaint, uncertainty=uncertainty,
                            show_progress=show_progress)
  return apply_method(entry, input, output, options=dict(entry.options), factor=factor, spacing=spacing,
                      channel=channel, timepoint=timepoint, show_progress=show_progress)


def _fit_and_predict(method: methods.Method, input: str, output: str, *, factor, spacing, channel, timepoint,
                     workdir, steps, variant, overrides, inpaint, uncertainty, show_progress: bool) -> dict:
  variant = variant or method.default_variant(jax.default_backend())
  config = method.default_config(variant)
  if overrides:
    with config.ignore_type():  # e.g. a custom section profile (a tuple) where the default is "box"
      config.update_from_flattened_dict(dict(overrides))
  config.data.path = str(input)
  config.data.factor = factor
  config.data.spacing = None if spacing is None else ",".join(f"{s:g}" for s in spacing)
  config.data.channel, config.data.timepoint = channel, timepoint
  if steps is not None:
    if steps < 1:
      raise UserError(f"--steps={steps} must be >= 1")
    config.train.steps = int(steps)
  out = pathlib.Path(output).absolute()
  keep = workdir is not None
  run_dir = pathlib.Path(workdir) if keep else pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.fit-",
                                                                              dir=out.parent))
  try:
    fit = train(config, run_dir, show_progress=show_progress)
    started = time.perf_counter()
    result = predict(str(run_dir), input, output, factor=factor, spacing=spacing, channel=channel,
                     timepoint=timepoint, inpaint=inpaint, uncertainty=uncertainty, show_progress=show_progress)
    result["predict_seconds"] = round(time.perf_counter() - started, 2)
  finally:
    if not keep:
      shutil.rmtree(run_dir, ignore_errors=True)
  result.update(fit={k: fit.get(k) for k in ("steps", "resumed_from", "seconds", "samples_per_s", "eval_psnr",
                                             "eval_psnr_input")}, workdir=str(run_dir) if keep else None,
                variant=variant)
  return result
