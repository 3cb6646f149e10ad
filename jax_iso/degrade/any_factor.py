"""Sections of any anisotropy, drawn per example: the degradation as two small matrices built from a traced factor.

`axial_pair` (pairs.py) cuts a patch into sections at one factor known when the step is traced: the number of
sections is a static shape. A model that serves every factor trains on pairs whose factor is drawn per example
(`any_factor_pair`), so the number of sections varies inside one batch. Here the cut and the interpolation back
are matrices over the patch's rows, with a static number of section rows (enough for the smallest factor) of
which those beyond the drawn factor's sections are zero and never read back:

    sections = cut(s, p) @ patch            # [K, W]: section k = mean of fine rows [k*s + p, (k+1)*s + p)
    input    = back(s, p) @ sections        # [H, W]: Keys cubic (or linear) from the section centres

They follow the section grid of `degrade.grid` and match `axial.simulate_axial` (box profile) and
`resample.resample` (edge sections repeated beyond the outer centres) for every s and p; a [H, H] patch costs
two [H, K] x [K, W] products, negligible beside a network.

The noise of a real section is that of one image; a synthetic one averages s rows and has sqrt(s) less white
noise. `match_noise` adds the difference per example, from the noise the patch itself carries (Donoho's robust
estimate on its finest diagonal Haar coefficients): `sigma * sqrt(1 - 1/s)`, so crops of many volumes, each with
its own noise, train one model.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jax_iso.degrade import checks
from jax_iso.degrade.pipeline import Pipeline
from jax_iso.degrade.resample import keys_cubic

MAD_TO_SIGMA = 0.6744897501960817   # median |N(0, 1)|
METHODS = ("linear", "cubic")


def max_sections(n_fine: int, smallest_factor: float) -> int:
  """Section rows the matrices hold: all the sections `n_fine` rows give at the smallest factor."""
  return max(1, int(math.floor(n_fine / smallest_factor)))


def cut_matrix(n_fine: int, n_rows: int, factor: jax.Array, phase: jax.Array) -> jax.Array:
  """[n_rows, n_fine]: row k averages fine rows [k*s + p, (k+1)*s + p) (partial rows by their overlap); rows
  beyond the complete sections, floor((n_fine - p) / s), are zero."""
  k = jnp.arange(n_rows, dtype=jnp.float32)[:, None]
  i = jnp.arange(n_fine, dtype=jnp.float32)[None, :]
  start = k * factor + phase
  overlap = jnp.clip(jnp.minimum(i + 1.0, start + factor) - jnp.maximum(i, start), 0.0, None)
  complete = k[:, 0] < section_count(n_fine, factor, phase)
  return jnp.where(complete[:, None], overlap / factor, 0.0)


def section_count(n_fine: int, factor: jax.Array, phase: jax.Array) -> jax.Array:
  """floor((n_fine - p) / s) as a traced int32 (the tolerance of `grid.section_count`)."""
  return jnp.floor((n_fine - phase) / factor + 1e-6).astype(jnp.int32)


def back_matrix(n_fine: int, n_rows: int, factor: jax.Array, phase: jax.Array, method: str = "cubic") -> jax.Array:
  """[n_fine, n_rows]: fine row j interpolated from the section centres (k + 0.5)*s + p - 0.5, reading only the
  complete sections (indices clipped to them: the edge sections are repeated beyond the outer centres)."""
  if method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")
  q = (jnp.arange(n_fine, dtype=jnp.float32) + 0.5 - phase) / factor - 0.5     # section coordinate of row j
  base = jnp.floor(q)
  frac = q - base
  if method == "linear":
    offsets = jnp.arange(0, 2, dtype=jnp.float32)
    w = jnp.stack([1.0 - frac, frac], axis=1)
  else:
    offsets = jnp.arange(-1, 3, dtype=jnp.float32)
    w = keys_cubic(frac[:, None] - offsets[None, :])
  last = section_count(n_fine, factor, phase) - 1
  idx = jnp.clip(base[:, None].astype(jnp.int32) + offsets.astype(jnp.int32)[None, :], 0, last)
  return jnp.sum(w[:, :, None] * jax.nn.one_hot(idx, n_rows, dtype=jnp.float32), axis=1)


def noise_sigma(image: jax.Array) -> jax.Array:
  """White-noise standard deviation of `image` [H, W] (`metrics.noise_level.noise_sigma`, in jax.numpy)."""
  h, w = image.shape[-2] // 2 * 2, image.shape[-1] // 2 * 2
  x = image[..., :h, :w]
  diag = (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2
  return jnp.median(jnp.abs(diag)) / MAD_TO_SIGMA


def draw_factor(key: jax.Array, factors: tuple[float, float]) -> jax.Array:
  """A factor log-uniform in [lo, hi]: as many examples between 2 and 4 as between 6 and 12."""
  lo, hi = factors
  return jnp.exp(jax.random.uniform(key, (), jnp.float32, math.log(lo), math.log(hi)))


def any_factor_pair(key: jax.Array, patch: jax.Array, *, factors: tuple[float, float] = (2.0, 12.0),
                    acquisition: Pipeline | None = None, match_noise: bool = True,
                    method: str = "cubic") -> tuple[jax.Array, jax.Array, dict]:
  """(input [H, W], target [H, W], aux): `patch` cut into sections along axis -2 at a factor s drawn log-uniform
  from `factors` and a phase uniform in [0, s), the sections degraded (`acquisition`; with `match_noise`, white
  noise restoring the patch's own noise level), interpolated back to [H, W]. aux: 'factor' s (what the network
  is told), 'phase', 'added_sigma', 'acquisition'."""
  patch = checks.check_float(patch, min_ndim=2)
  lo, hi = checks.check_range("factors", factors, low=1.0)
  n_fine = patch.shape[-2]
  if n_fine / hi < 2:
    raise ValueError(f"a patch of {n_fine} rows holds fewer than 2 sections at factor {hi:g}; use larger crops "
                     "or a smaller largest factor")
  k_factor, k_phase, k_acq, k_noise = jax.random.split(key, 4)
  s = draw_factor(k_factor, (lo, hi))
  p = jax.random.uniform(k_phase) * s
  n_rows = max_sections(n_fine, lo)
  sections = cut_matrix(n_fine, n_rows, s, p) @ patch                   # [K, W]
  aux = {"factor": s, "phase": p}
  if acquisition is not None:
    sections, aux["acquisition"] = acquisition(k_acq, sections)
  added = jnp.float32(0.0)
  if match_noise:
    added = noise_sigma(patch) * jnp.sqrt(jnp.maximum(0.0, 1.0 - 1.0 / s))
    sections = sections + added * jax.random.normal(k_noise, sections.shape, sections.dtype)
  aux["added_sigma"] = added
  inp = back_matrix(n_fine, n_rows, s, p, method) @ sections
  return inp.astype(patch.dtype), patch, aux
