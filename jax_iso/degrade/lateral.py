"""Lateral undersampling: degrade one in-plane axis of an xy patch exactly as Z is degraded, then interpolate it
back to full size, so a training input has the shape of its clean target.

This is how self-supervised isotropic reconstruction makes pairs from the user's own volume (A2I-3DEM, CARE,
EMDiffuse-a): lateral planes are isotropic, so sections simulated along Y and interpolated back look like the
axial (xz / yz) planes of the anisotropic volume after the same interpolation at inference.
"""
from __future__ import annotations

import jax

from jax_iso.degrade import axial, checks
from jax_iso.degrade.resample import resample


def lateral_undersample(key: jax.Array, x: jax.Array, *, factor: float, axis: int = -2,
                        profile: str | tuple[float, ...] = "box", sigma: float | None = None,
                        phase: tuple[float, float] = (0.0, 1.0), method: str = "cubic",
                        support: float = 1.0) -> tuple[jax.Array, dict]:
  """Keyed op: sections of `factor` slices along `axis` at a random phase, interpolated back to the same size.

  Output sample j sits at fine index j of the drawn section grid (`jax_iso.degrade.grid`), so input and target
  are aligned; `method` ("cubic" or "linear") is the interpolation used at inference. aux {'phase'}.
  """
  x = checks.check_float(x, min_ndim=1)
  sections, aux = axial.axial_sections(key, axial.materialize(x), factor=factor, axis=axis, profile=profile, sigma=sigma,
                                       phase=phase, support=support)
  y = resample(sections, factor, method, axis=axis, phase=aux["phase"], n_out=x.shape[axis])
  return y.astype(x.dtype), aux
