"""Linear and cubic resampling from sections back onto the fine grid, along any axis.

Used by the interpolation baselines (`jax_iso.infer`) and by the training-pair makers, so that training inputs
are interpolated exactly as volumes are at inference. Output slice j sits at fine-slice index j; section k's
centre sits at (k + 0.5)*s + p - 0.5 (see `jax_iso.degrade.grid`), so output slice j samples the section axis
at q = (j + 0.5 - p) / s - 0.5. Beyond the first and last section centres the edge section is repeated.
"cubic" is Keys' cubic convolution with a = -0.5 (the kernel of `jax.image.resize(..., "cubic")` and PIL's
bicubic), which reproduces quadratics exactly. With a concrete phase the weights are computed on the host in
float64; a traced phase (random per training example) computes them in jax.numpy.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso.degrade import grid
from jax_iso.degrade.axial import apply_weights

METHODS = ("linear", "cubic")


def keys_cubic(t, a: float = -0.5):
  """Keys' cubic convolution kernel at offsets `t` (in samples); numpy or jax arrays."""
  xp = jnp if isinstance(t, jax.Array) else np
  t = xp.abs(t)
  inner = (a + 2) * t**3 - (a + 3) * t**2 + 1
  outer = a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
  return xp.where(t <= 1, inner, xp.where(t < 2, outer, 0.0))


def interp_weights(n_sections: int, factor: float, method: str, *, phase=0.0,
                   n_out: int | None = None):
  """Gather indices and weights ([n_out, taps] each) that resample `n_sections` onto the fine grid.

  `n_out` defaults to round(n_sections * factor); pass it to resample onto a given length (e.g. the size of a
  training patch). Returns numpy arrays for a concrete `phase`, jax arrays for a traced one.
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  if n_sections < 1:
    raise ValueError("need at least one section")
  if n_out is None:
    n_out = grid.fine_count(n_sections, factor)
  xp, dtype = (jnp, jnp.float32) if isinstance(phase, jax.core.Tracer) else (np, np.float64)
  q = (xp.arange(n_out, dtype=dtype) + 0.5 - phase) / factor - 0.5   # section-index coordinate
  base = xp.floor(q)
  frac = q - base
  if method == "linear":
    offsets = xp.arange(0, 2)
    w = xp.stack([1.0 - frac, frac], axis=1)
  else:
    offsets = xp.arange(-1, 3)
    w = keys_cubic(frac[:, None] - offsets[None, :])
  idx = xp.clip(base[:, None].astype(xp.int32) + offsets[None, :], 0, n_sections - 1)
  return idx.astype(xp.int32), w.astype(xp.float32)


def resample(x: jax.Array, factor: float, method: str = "cubic", *, axis: int = 0, phase=0.0,
             n_out: int | None = None) -> jax.Array:
  """Resamples the section axis `axis` of float `x` onto `n_out` (default round(N*s)) fine slices.

  When `x` comes out of expensive elementwise work in the same jitted function (noise), pass it through
  `axial.materialize` first.
  """
  idx, w = interp_weights(x.shape[axis], factor, method, phase=phase, n_out=n_out)
  return apply_weights(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(w), axis)
