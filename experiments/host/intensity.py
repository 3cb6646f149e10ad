"""Host (numpy/scipy) versions of `jax_iso.degrade.intensity`: one image (H, W) or stack (D, H, W) a call.

Same parameters and models as the device ops, randomness from a `numpy.random.Generator`, written the way the
reference codes do it (scipy.ndimage for the blur). Each returns (y, aux) with y float32 (the dtype of x) and
aux the drawn values (scalars as Python floats, the illumination field as an [H, W] array).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.ndimage as ndi

from .noise import draw_log_uniform, draw_uniform


def gaussian_blur(rng: np.random.Generator, x: np.ndarray, *, sigma: tuple[float, float] = (0.0, 1.5),
                  axes: tuple[int, ...] = (-2, -1)) -> tuple[np.ndarray, dict]:
  """scipy.ndimage.gaussian_filter with s ~ U[sigma] on `axes`, mode 'reflect', truncate 4."""
  s = draw_uniform(rng, sigma)
  if s == 0.0:
    return x, {"sigma": s}
  sigmas = [0.0] * x.ndim
  for a in axes:
    sigmas[a] = s
  y = ndi.gaussian_filter(x, sigmas, mode="reflect", truncate=4.0)
  return y, {"sigma": s}


def intensity_jitter(rng: np.random.Generator, x: np.ndarray, *,
                     brightness: tuple[float, float] = (-0.05, 0.05),
                     contrast: tuple[float, float] = (0.85, 1.15),
                     gamma: tuple[float, float] = (0.8, 1.25)) -> tuple[np.ndarray, dict]:
  """y = m + c * (max(x, 0)^g - m) + b, m the mean of each image (last two axes); neutral steps skipped."""
  b = draw_uniform(rng, brightness)
  c = draw_uniform(rng, contrast)
  g = draw_log_uniform(rng, gamma)
  y = x
  if tuple(gamma) != (1.0, 1.0):
    y = np.power(np.maximum(y, 0.0), np.float32(g))
  if tuple(contrast) != (1.0, 1.0):
    m = y.mean(axis=(-2, -1), keepdims=True)
    y = m + np.float32(c) * (y - m)
  if tuple(brightness) != (0.0, 0.0):
    y = y + np.float32(b)
  return y.astype(x.dtype, copy=False), {"brightness": b, "contrast": c, "gamma": g}


def illumination_field(rng: np.random.Generator, shape: tuple[int, int], scale: float, *,
                       waves: int = 4) -> np.ndarray:
  """[H, W] sum of `waves` plane cosines (amplitude U[0.5, 1], frequency U[0.25, 1] / (scale * max(H, W)),
  direction and phase U[0, 2 pi)), zero mean, max |f| = 1: the device op's field, on the host."""
  h, w = shape
  size = max(h, w)
  yy, xx = np.meshgrid(np.arange(h) - 0.5 * (h - 1), np.arange(w) - 0.5 * (w - 1), indexing="ij")
  f = np.zeros(shape)
  for _ in range(waves):
    amp = rng.uniform(0.5, 1.0)
    nu = rng.uniform(0.25, 1.0) / (scale * size)
    theta, phase = rng.uniform(0.0, 2.0 * math.pi, 2)
    f += amp * np.cos(2.0 * math.pi * nu * (math.cos(theta) * yy + math.sin(theta) * xx) + phase)
  f -= f.mean()
  return (f / max(np.abs(f).max(), 1e-6)).astype(np.float32)


def illumination(rng: np.random.Generator, x: np.ndarray, *, strength: tuple[float, float] = (0.0, 0.2),
                 scale: tuple[float, float] = (0.3, 1.0), waves: int = 4) -> tuple[np.ndarray, dict]:
  """y = x * (1 + s * f), s ~ U[strength], f `illumination_field` at scale ~ U[scale], shared by a stack."""
  s = draw_uniform(rng, strength)
  sc = draw_uniform(rng, scale)
  f = illumination_field(rng, x.shape[-2:], sc, waves=waves)
  aux = {"strength": s, "scale": sc, "field": f}
  if s == 0.0:
    return x, aux
  return (x * (1.0 + np.float32(s) * f)).astype(x.dtype, copy=False), aux
