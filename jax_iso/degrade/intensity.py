"""Image formation in the microscope: defocus blur, intensity transfer (gamma, contrast, brightness) and uneven
illumination.

Image ops on the last two axes (..., H, W) that keep the contract of `jax_iso.degrade.checks`: pure and keyed,
`op(key, x, *, params) -> (y, aux)`, jit- and vmap-able. Parameters are drawn once per call and shared by the
leading axes. Math in float32 (the field's matmul at HIGHEST precision, so accelerators do not drop to TF32),
`y` cast back to the dtype of `x`. None of these ops clips to [0, 1] (the pipeline clips at the end).
A2I-3DEM degrades its inputs with "noise, artifacts, distortions" (METHODS.md); the default ranges are set for
EM intensities in [0, 1].
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jax_iso.degrade.checks import check_float, check_range, log_uniform, uniform

TRUNCATE = 4.0  # Gaussian kernels reach int(TRUNCATE * sigma + 0.5) pixels, as scipy.ndimage.gaussian_filter
_HIGHEST = jax.lax.Precision.HIGHEST


def gaussian_kernel(sigma: jax.Array, radius: int) -> jax.Array:
  """[2 * radius + 1] float32 taps of scipy's Gaussian (truncate 4) for a traced sigma >= 0 with static
  `radius` >= its reach: exp(-d^2 / (2 sigma^2)) for |d| <= int(4 sigma + 0.5), zero beyond, sum 1.
  sigma = 0 gives the unit tap."""
  sigma = jnp.asarray(sigma, jnp.float32)
  d = jnp.arange(-radius, radius + 1, dtype=jnp.float32)
  reach = jnp.floor(TRUNCATE * sigma + 0.5)
  w = jnp.exp(-0.5 * d * d / jnp.maximum(sigma * sigma, 1e-30))
  w = jnp.where(jnp.abs(d) <= reach, w, 0.0)
  return w / jnp.sum(w)


def filter_axis(x: jax.Array, w: jax.Array, axis: int) -> jax.Array:
  """Correlates `x` with the odd taps `w` [2r + 1] along `axis`, boundary 'reflect' as scipy.ndimage
  (half-sample symmetric, d c b a | a b c d | d c b a, repeated when r exceeds the axis length)."""
  radius = (w.shape[0] - 1) // 2
  n = x.shape[axis]
  pad = [(0, 0)] * x.ndim
  pad[axis] = (radius, radius)
  xp = jnp.pad(x, pad, mode="symmetric")                     # [..., n + 2r, ...]
  y = w[0] * jax.lax.slice_in_dim(xp, 0, n, axis=axis)
  for t in range(1, w.shape[0]):
    y = y + w[t] * jax.lax.slice_in_dim(xp, t, t + n, axis=axis)
  return y


def gaussian_blur(key: jax.Array, x: jax.Array, *, sigma: tuple[float, float] = (0.0, 1.5),
                  axes: tuple[int, ...] = (-2, -1)) -> tuple[jax.Array, dict]:
  """In-plane Gaussian blur (defocus): s ~ U[sigma] pixels (default (0, 1.5)), applied separably along `axes`.

  The taps are built from the traced s inside a static radius int(4 * sigma_hi + 0.5) (taps beyond
  int(4 s + 0.5) are zero) and applied as 2r + 1 shifted multiply-adds of a reflect-padded copy, so the result
  equals `scipy.ndimage.gaussian_filter(x, s on axes, mode='reflect', truncate=4.0)` (to float32 rounding).
  Measured on this CPU for 32 x 256 x 256 float32, both axes, sigma_hi 1.5: 4.5 ms, against 25 ms for a
  [n, n] banded-matrix matmul per axis (and 23 ms for the shifted taps if axis -1 goes first, so axes run
  major to minor). `axes` is static: (-1,) blurs along X only (axial training pairs, where axis -2 stands for
  Z). s = 0 gives the unit tap (identity); sigma (0, 0) returns `x` itself. aux: {'sigma': s}.
  """
  x = check_float(x)
  sigma = check_range("sigma", sigma, low=0.0)
  try:
    axes = tuple(int(a) for a in axes)
  except (TypeError, ValueError):
    raise ValueError(f"axes must be a tuple of ints, got {axes!r}") from None
  if not axes or any(not -x.ndim <= a < x.ndim for a in axes):
    raise ValueError(f"axes={axes!r} must name axes of x (shape {x.shape})")
  if len({a % x.ndim for a in axes}) != len(axes):
    raise ValueError(f"axes={axes!r} repeats an axis")
  s = uniform(key, sigma)
  if sigma == (0.0, 0.0):
    return x, {"sigma": s}
  w = gaussian_kernel(s, int(TRUNCATE * sigma[1] + 0.5))    # [taps]
  y = x.astype(jnp.float32)
  for a in sorted(a % x.ndim for a in axes):                 # major to minor: see the timing above
    y = filter_axis(y, w, a)
  return y.astype(x.dtype), {"sigma": s}


def intensity_jitter(key: jax.Array, x: jax.Array, *, brightness: tuple[float, float] = (-0.05, 0.05),
                     contrast: tuple[float, float] = (0.85, 1.15),
                     gamma: tuple[float, float] = (0.8, 1.25)) -> tuple[jax.Array, dict]:
  """Intensity transfer jitter: y = m + c * (max(x, 0)^g - m) + b.

  g ~ log-U[gamma] (default (0.8, 1.25)) applied to max(x, 0); then the contrast c ~ U[contrast] (default
  (0.85, 1.15)) scales about m, the mean of the gamma-corrected image over the last two axes (per leading
  index); then the brightness b ~ U[brightness] (default (-0.05, 0.05)) is added. Each neutral range (gamma
  (1, 1), contrast (1, 1), brightness (0, 0)) skips its step, so all three neutral return `x` exactly (negative
  values are clipped only by a gamma step). aux: {'brightness': b, 'contrast': c, 'gamma': g}.
  """
  x = check_float(x)
  brightness = check_range("brightness", brightness)
  contrast = check_range("contrast", contrast, low=0.0)
  gamma = check_range("gamma", gamma, low=0.0)
  if gamma[0] <= 0.0:
    raise ValueError(f"gamma must be > 0, got {gamma!r}")
  k_b, k_c, k_g = jax.random.split(key, 3)
  b = uniform(k_b, brightness)
  c = uniform(k_c, contrast)
  g = log_uniform(k_g, gamma)
  aux = {"brightness": b, "contrast": c, "gamma": g}
  y = x.astype(jnp.float32)                                  # [..., H, W]
  if gamma != (1.0, 1.0):
    y = jnp.power(jnp.maximum(y, 0.0), g)
  if contrast != (1.0, 1.0):
    m = jnp.mean(y, axis=(-2, -1), keepdims=True)            # [..., 1, 1]
    y = m + c * (y - m)
  if brightness != (0.0, 0.0):
    y = y + b
  return y.astype(x.dtype), aux


def illumination_field(key: jax.Array, shape: tuple[int, int], scale: jax.Array, *,
                       waves: int = 4) -> jax.Array:
  """[H, W] float32 smooth field f, zero mean, max |f| = 1: a sum of `waves` plane cosines.

  Wave k has amplitude ~ U[0.5, 1], direction and phase ~ U[0, 2 pi) and spatial frequency
  nu ~ U[0.25, 1] / (scale * L) cycles per pixel, L = max(H, W): every wavelength lies in [1, 4] * scale * L.
  cos(A_i + B_j) = cos A_i cos B_j - sin A_i sin B_j makes f one rank-2K matmul.
  """
  h, w = shape
  size = float(max(h, w))
  k_a, k_n, k_t, k_p = jax.random.split(key, 4)
  amp = jax.random.uniform(k_a, (waves,), jnp.float32, 0.5, 1.0)
  nu = jax.random.uniform(k_n, (waves,), jnp.float32, 0.25, 1.0) / (scale * size)
  theta = jax.random.uniform(k_t, (waves,), jnp.float32, 0.0, 2.0 * math.pi)
  phase = jax.random.uniform(k_p, (waves,), jnp.float32, 0.0, 2.0 * math.pi)
  yy = jnp.arange(h, dtype=jnp.float32) - 0.5 * (h - 1)      # [H] pixel centres about the image centre
  xx = jnp.arange(w, dtype=jnp.float32) - 0.5 * (w - 1)      # [W]
  a = 2.0 * math.pi * yy[:, None] * (nu * jnp.cos(theta)) + phase       # [H, K]
  b = 2.0 * math.pi * xx[:, None] * (nu * jnp.sin(theta))               # [W, K]
  u = jnp.concatenate([amp * jnp.cos(a), -amp * jnp.sin(a)], axis=1)    # [H, 2K]
  v = jnp.concatenate([jnp.cos(b), jnp.sin(b)], axis=1)                 # [W, 2K]
  f = jnp.matmul(u, v.T, precision=_HIGHEST)                            # [H, W]
  f = f - jnp.mean(f)
  return f / jnp.maximum(jnp.max(jnp.abs(f)), 1e-6)


def illumination(key: jax.Array, x: jax.Array, *, strength: tuple[float, float] = (0.0, 0.2),
                 scale: tuple[float, float] = (0.3, 1.0), waves: int = 4) -> tuple[jax.Array, dict]:
  """Smooth multiplicative non-uniformity (uneven section thickness or beam): y = x * (1 + s * f).

  s ~ U[strength] (default (0, 0.2), at most 1 so that 1 + s f >= 0); f is `illumination_field`: zero mean,
  max |f| = 1, `waves` (static, default 4) random plane cosines whose wavelengths are at least scale * max(H, W),
  scale ~ U[scale] (default (0.3, 1.0)). The field is shared by the leading axes. strength (0, 0) returns `x`
  itself. aux: {'strength': s, 'scale': scale, 'field': f [H, W]}.
  """
  x = check_float(x)
  strength = check_range("strength", strength, low=0.0, high=1.0)
  scale = check_range("scale", scale, low=0.0)
  if scale[0] <= 0.0:
    raise ValueError(f"scale must be > 0 (wavelength in image sizes), got {scale!r}")
  if not isinstance(waves, int) or waves < 1:
    raise ValueError(f"waves must be a positive int, got {waves!r}")
  k_s, k_l, k_f = jax.random.split(key, 3)
  s = uniform(k_s, strength)
  sc = uniform(k_l, scale)
  f = illumination_field(k_f, x.shape[-2:], sc, waves=waves)            # [H, W]
  aux = {"strength": s, "scale": sc, "field": f}
  if strength == (0.0, 0.0):
    return x, aux
  y = x.astype(jnp.float32) * (1.0 + s * f)
  return y.astype(x.dtype), aux
