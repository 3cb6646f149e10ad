"""Interpolation baselines: linear and cubic resampling of Z from sections onto the fine grid.

Output slice j sits at fine-slice index j; section k's centre sits at (k + 0.5)*s + p - 0.5 (see
`jax_iso.degrade.grid`), so output slice j samples the section axis at q = (j + 0.5 - p) / s - 0.5. Beyond the
first and last section centres the edge section is repeated. "cubic" is Keys' cubic convolution with a = -0.5
(the kernel of `jax.image.resize(..., "cubic")` and PIL's bicubic), which reproduces quadratics exactly.
The weights are computed once on the host (factor and sizes are static) and applied as gathers in jax.numpy.
"""
from __future__ import annotations

import numpy as np
import jax

from jax_iso.degrade import grid
from jax_iso.degrade.axial import apply_weights

METHODS = ("linear", "cubic")


def keys_cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
  """Keys' cubic convolution kernel at offsets `t` (in samples)."""
  t = np.abs(t)
  inner = (a + 2) * t**3 - (a + 3) * t**2 + 1
  outer = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
  return np.where(t <= 1, inner, np.where(t < 2, outer, 0.0))


def interp_weights(n_sections: int, factor: float, method: str, *, phase: float = 0.0,
                   n_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Gather indices and weights ([n_out, taps] each) that resample `n_sections` onto the fine grid."""
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  if n_sections < 1:
    raise ValueError("need at least one section")
  if n_out is None:
    n_out = grid.fine_count(n_sections, factor)
  q = (np.arange(n_out, dtype=np.float64) + 0.5 - phase) / factor - 0.5   # section-index coordinate
  base = np.floor(q)
  frac = q - base
  if method == "linear":
    offsets = np.arange(0, 2)
    w = np.stack([1.0 - frac, frac], axis=1)
  else:
    offsets = np.arange(-1, 3)
    w = keys_cubic(frac[:, None] - offsets[None, :])
  idx = np.clip(base[:, None].astype(np.int64) + offsets[None, :], 0, n_sections - 1)
  return idx.astype(np.int32), w.astype(np.float32)


def resample_z(x: jax.Array, factor: float, method: str = "cubic", *, axis: int = 0,
               phase: float = 0.0) -> jax.Array:
  """Resamples the section axis `axis` of float `x` onto round(N*s) fine slices (linear or cubic)."""
  idx, w = interp_weights(x.shape[axis], factor, method, phase=phase)
  return apply_weights(x, idx, w, axis)
