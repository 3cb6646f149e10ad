"""Axial anisotropy simulation: what a microscope cutting thicker sections would record.

`simulate_axial` integrates an isotropic volume over sections of thickness `factor` fine slices along one axis,
following the section grid of `jax_iso.degrade.grid` (section k integrates fine slices [k*s + p, (k+1)*s + p)).
`axial_sections` is the keyed op (checks.py contract) that draws the sub-section phase p at random, as training
pairs need. Everything is `jax.numpy`, pure and jit-able (the phase may be traced; factor and shapes are static).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jax_iso.degrade import checks, grid

PROFILES = ("box", "gaussian")  # or a tuple of samples: a custom profile
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def section_weights(n_fine: int, factor: float, *, profile: str | tuple[float, ...] = "box", phase=0.0,
                    sigma: float | None = None, n_sections: int | None = None,
                    support: float = 1.0) -> tuple[jax.Array, jax.Array]:
  """Sparse weights that turn `n_fine` fine slices into sections.

  Args:
    n_fine: number of fine slices along the axis.
    factor: section thickness s in fine slices (>= 1, may be fractional).
    profile: "box": section k is the mean over [k*s + p, (k+1)*s + p), fine slices cut by an edge counted by the
      overlapping fraction (the physical section thickness; conserves mean intensity). "gaussian": a Gaussian
      centred on the section centre, FWHM = s unless `sigma` (in fine slices) is given, truncated at 3 sigma and
      renormalised inside the volume. A tuple of K >= 2 non-negative numbers: a custom profile, the section's
      sensitivity sampled at K equally spaced depths across `support` section thicknesses centred on the
      section centre (linearly interpolated at each fine slice's centre, renormalised).
    phase: sub-section offset p of the grid in fine slices, 0 <= p < s (may be traced).
    sigma: Gaussian width in fine slices (profile "gaussian" only).
    n_sections: number of sections to make; default floor((n_fine - phase) / s). Required when `phase` is
      traced (shapes must be static), e.g. floor(n_fine / s) - 1 for any phase in [0, s).
    support: extent of a custom profile in section thicknesses (1 = the section itself).

  Returns:
    (idx [n_sections, taps] int32, w [n_sections, taps] float32): section k = sum_t w[k, t] * x[idx[k, t]];
    each row of w sums to 1.
  """
  if factor < 1:
    raise ValueError(f"factor must be >= 1, got {factor}")
  custom = isinstance(profile, (tuple, list))
  if custom:
    profile = tuple(float(v) for v in profile)
    if len(profile) < 2 or min(profile) < 0 or sum(profile) <= 0 or not support > 0:
      raise ValueError(f"a custom profile needs >= 2 non-negative samples with a positive sum and support > 0, "
                       f"got {profile} with support {support}")
  elif profile not in PROFILES:
    raise ValueError(f"profile must be one of {PROFILES} or a tuple of samples, got {profile!r}")
  if n_sections is None:
    if isinstance(phase, jax.core.Tracer):
      raise ValueError("pass n_sections when phase is traced (shapes must be static)")
    n_sections = grid.section_count(n_fine, factor, float(phase))
  n_sec = n_sections
  if n_sec < 1:
    raise ValueError(f"{n_fine} slices hold no complete section of {factor} slices")
  k = jnp.arange(n_sec, dtype=jnp.float32)[:, None]
  phase = jnp.asarray(phase, jnp.float32)
  if profile == "box":
    taps = int(math.ceil(factor)) + 1
    start = k * factor + phase                                   # [n_sec, 1]
    idx = jnp.floor(start + 1e-6).astype(jnp.int32) + jnp.arange(taps, dtype=jnp.int32)
    lo, hi = idx.astype(jnp.float32), idx.astype(jnp.float32) + 1.0
    w = jnp.clip(jnp.minimum(hi, start + factor) - jnp.maximum(lo, start), 0.0, None)
  elif custom:
    reach = 0.5 * support * factor
    taps = int(math.ceil(2 * reach)) + 2
    centre = grid.section_centre(k, factor, phase)
    idx = jnp.floor(centre - reach).astype(jnp.int32) + jnp.arange(taps, dtype=jnp.int32)
    u = (idx.astype(jnp.float32) - centre) / (2 * reach) + 0.5           # 0..1 across the support
    w = jnp.where((u >= 0) & (u <= 1), jnp.interp(u, jnp.linspace(0.0, 1.0, len(profile)),
                                                  jnp.asarray(profile, jnp.float32)), 0.0)
  else:
    if sigma is None:
      sigma = factor / FWHM_PER_SIGMA
    if sigma <= 0:
      raise ValueError(f"sigma must be > 0, got {sigma}")
    reach = 3.0 * sigma
    taps = int(math.ceil(2 * reach)) + 2
    centre = grid.section_centre(k, factor, phase)
    idx = jnp.floor(centre - reach).astype(jnp.int32) + jnp.arange(taps, dtype=jnp.int32)
    d = idx.astype(jnp.float32) - centre
    w = jnp.where(jnp.abs(d) <= reach, jnp.exp(-0.5 * (d / sigma) ** 2), 0.0)
  inside = (idx >= 0) & (idx < n_fine)
  w = jnp.where(inside, w, 0.0)
  w = w / jnp.sum(w, axis=1, keepdims=True)
  return jnp.clip(idx, 0, n_fine - 1), w.astype(jnp.float32)


def apply_weights(x: jax.Array, idx: jax.Array, w: jax.Array, axis: int = 0) -> jax.Array:
  """out[..., k, ...] = sum_t w[k, t] * x[..., idx[k, t], ...] along `axis` (a banded matrix, as gathers)."""
  axis = axis % x.ndim
  shape = [1] * x.ndim
  shape[axis] = idx.shape[0]
  out = None
  for t in range(idx.shape[1]):
    term = jnp.take(x, idx[:, t], axis=axis) * w[:, t].reshape(shape).astype(x.dtype)
    out = term if out is None else out + term
  return out


def materialize(x: jax.Array) -> jax.Array:
  """`x` unchanged, but computed into memory before its consumers run.

  XLA on CPU drops `lax.optimization_barrier` and fuses expensive elementwise producers (the normal samples of
  the noise ops, powers) into gathers, recomputing them for every tap: a 256^2 axial pair took 13 ms per 32
  instead of 5. A matmul reads its operand from memory, so multiplying pairs of elements by a 2x2 identity
  (2 multiply-adds per element; a 1x1 identity is simplified away) keeps the producer out of the gather.
  """
  n = x.shape[-1]
  if n % 2:
    return jnp.matmul(x, jnp.eye(n, dtype=x.dtype))
  pairs = x.reshape(x.shape[:-1] + (n // 2, 2))
  return jnp.matmul(pairs, jnp.eye(2, dtype=x.dtype)).reshape(x.shape)


def simulate_axial(x: jax.Array, factor: float, *, profile: str | tuple[float, ...] = "box", phase=0.0,
                   sigma: float | None = None, axis: int = 0, n_sections: int | None = None,
                   support: float = 1.0) -> jax.Array:
  """Integrates `x` (float, any shape) into sections of `factor` fine slices along `axis`.

  Section k integrates the fine slices [k*s + p, (k+1)*s + p) (box profile) or a Gaussian centred at
  (k + 0.5)*s + p - 0.5 (see `section_weights`); the result has floor((n - p) / s) slices along `axis`.
  With factor 1, phase 0 and the box profile it is the identity.
  """
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"simulate_axial needs a float array, got {x.dtype}")
  idx, w = section_weights(x.shape[axis], factor, profile=profile, phase=phase, sigma=sigma,
                           n_sections=n_sections, support=support)
  return apply_weights(x, idx, w, axis)


def random_phase_sections(n_fine: int, factor: float, phase: tuple[float, float]) -> int:
  """Sections that fit `n_fine` slices for every phase in `phase` (a fraction-of-s range): floor(n/s - hi)."""
  return grid.section_count(n_fine, factor, phase[1] * factor)


def axial_sections(key: jax.Array, x: jax.Array, *, factor: float, axis: int = -2,
                   profile: str | tuple[float, ...] = "box", sigma: float | None = None,
                   phase: tuple[float, float] = (0.0, 1.0), support: float = 1.0) -> tuple[jax.Array, dict]:
  """Keyed op: integrates axis `axis` of `x` into sections of `factor` slices at a random sub-section phase.

  The phase p = u * s with u ~ U[phase] (a fraction of the section thickness; default any phase) shifts the
  section grid (section k integrates [k*s + p, (k+1)*s + p)). The number of sections is static:
  floor(n/s - phase[1]), so every drawn phase fits. aux {'phase': p in fine slices}.
  """
  x = checks.check_float(x, min_ndim=1)
  lo, hi = checks.check_range("phase", phase, low=0.0, high=1.0)
  n_sec = random_phase_sections(x.shape[axis], factor, (lo, hi))
  if n_sec < 1:
    raise ValueError(f"axis {axis} of shape {x.shape} holds no complete section of {factor} slices at phase "
                     f"fraction {hi}")
  p = checks.uniform(key, (lo, hi)) * factor
  sections = simulate_axial(x, factor, profile=profile, phase=p, sigma=sigma, axis=axis, n_sections=n_sec,
                            support=support)
  return sections, {"phase": p}
