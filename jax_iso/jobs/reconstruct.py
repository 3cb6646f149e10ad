"""`jax-iso reconstruct`: an anisotropic volume onto the isotropic grid."""
from __future__ import annotations

import time

import numpy as np

from jax_iso import infer, io
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.jobs.factor import resolve_factor

METHODS = infer.INTERPOLATION_METHODS


def reconstruct(input: str, output: str, *, method: str = "cubic", factor: float | None = None,
                spacing: tuple[float, float, float] | None = None, channel: int | None = None,
                timepoint: int | None = None) -> dict:
  """Reconstructs `input` (sections along Z) onto round(N*s) fine slices and writes `output`.

  The factor comes from --factor, or from the voxel size (--spacing, else the file's metadata); output slice j
  is fine slice j of the section grid (section k centred at (k + 0.5)*s - 0.5), with Z spacing z/s.
  """
  if method not in METHODS:
    raise UserError(f"unknown --method={method}; choose one of {', '.join(METHODS)}")
  io.check_output_path(output, inputs=[input])
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
