"""`jax-iso reconstruct`: an anisotropic volume onto the isotropic grid, by interpolation or by a model fitted
on the volume itself (self-supervised) and then applied to it."""
from __future__ import annotations

import pathlib
import shutil
import tempfile
import time

import numpy as np

from jax_iso import infer, io
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.io.factor import resolve_factor
from jax_iso.jobs.methods import LEARNED, METHODS, default_config, default_variant


def reconstruct(input: str, output: str, *, method: str = "cubic", factor: float | None = None,
                spacing: tuple[float, float, float] | None = None, channel: int | None = None,
                timepoint: int | None = None, workdir: str | None = None, steps: int | None = None,
                variant: str | None = None, show_progress: bool = True) -> dict:
  """Reconstructs `input` (sections along Z) onto round(N*s) fine slices and writes `output`.

  The factor comes from --factor, or from the voxel size (--spacing, else the file's metadata); output slice j
  is fine slice j of the section grid (section k centred at (k + 0.5)*s - 0.5), with Z spacing z/s. A learned
  `method` first trains its default config (`configs/<method>.py`) on `input` in `workdir` (kept), or in a
  temporary folder beside the output (removed when done), for `steps` steps (default: the config's); the
  config `variant` defaults to `methods.default_variant` (the "cpu" one on a CPU).
  """
  if method not in METHODS:
    raise UserError(f"unknown --method={method}; choose one of {', '.join(METHODS)}")
  io.check_output_path(output, inputs=[input])
  if method in LEARNED:
    return _fit_and_predict(input, output, method=method, factor=factor, spacing=spacing, channel=channel,
                            timepoint=timepoint, workdir=workdir, steps=steps, variant=variant,
                            show_progress=show_progress)
  start = time.perf_counter()
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    factor, spacing = resolve_factor(factor, spacing, src.spacing, src.spacing_origin)
    n_z, n_y, n_x = src.shape
    if n_z < 2:
      raise UserError(f"{input} has {n_z} section; reconstruction needs at least 2 along Z")
    if src.dtype == np.float32:
      io.check_finite(src)
    n_out = grid.fine_count(n_z, factor)
    out_spacing = None if spacing is None else (spacing[0] / factor, spacing[1], spacing[2])
    description = {"job": "reconstruct", "method": method, "factor": factor, "source": str(input)}
    with io.create_volume(output, (n_out, n_y, n_x), src.dtype, out_spacing, description=description) as sink:
      infer.interpolate_volume(src, sink, factor=factor, method=method, intensity=io.intensity_of(src))
  return {"input": str(input), "output": str(output), "method": method, "factor": factor,
          "input_shape": [n_z, n_y, n_x], "output_shape": [n_out, n_y, n_x],
          "spacing_nm": None if out_spacing is None else list(out_spacing),
          "seconds": round(time.perf_counter() - start, 2)}


def _fit_and_predict(input: str, output: str, *, method: str, factor, spacing, channel, timepoint, workdir,
                     steps, variant, show_progress: bool) -> dict:
  from jax_iso.jobs.predict import predict  # pylint: disable=g-import-not-at-top  (jax-heavy; learned only)
  from jax_iso.train import train_and_evaluate  # pylint: disable=g-import-not-at-top
  variant = variant or default_variant(method)
  config = default_config(method, variant)
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
    fit = train_and_evaluate(config, run_dir, show_progress=show_progress)
    started = time.perf_counter()
    result = predict(str(run_dir), input, output, factor=factor, spacing=spacing, channel=channel,
                     timepoint=timepoint)
    result["predict_seconds"] = round(time.perf_counter() - started, 2)
  finally:
    if not keep:
      shutil.rmtree(run_dir, ignore_errors=True)
  result.update(fit={k: fit.get(k) for k in ("steps", "resumed_from", "seconds", "samples_per_s", "eval_psnr",
                                             "eval_psnr_input")}, workdir=str(run_dir) if keep else None,
                variant=variant)
  return result
