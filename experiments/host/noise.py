"""Host (numpy) versions of `jax_iso.degrade.noise`: one image (H, W) or stack (D, H, W) a call.

Same parameters and models as the device ops, randomness from a `numpy.random.Generator`, written the way the
reference codes add noise on the host. Each returns (y, aux) with y float32 (the dtype of x) and aux the drawn
scalars as Python floats.
"""
from __future__ import annotations

import math

import numpy as np


def draw_uniform(rng: np.random.Generator, value_range: tuple[float, float]) -> float:
  """U[lo, hi]; exactly lo when lo == hi."""
  lo, hi = (float(v) for v in value_range)
  return lo if lo == hi else float(rng.uniform(lo, hi))


def draw_log_uniform(rng: np.random.Generator, value_range: tuple[float, float]) -> float:
  """exp(U[log lo, log hi]) for 0 < lo <= hi."""
  lo, hi = (float(v) for v in value_range)
  return lo if lo == hi else float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def gaussian_noise(rng: np.random.Generator, x: np.ndarray, *,
                   sigma: tuple[float, float] = (0.0, 0.05)) -> tuple[np.ndarray, dict]:
  """y = x + s * N(0, 1), s ~ U[sigma]."""
  s = draw_uniform(rng, sigma)
  if s == 0.0:
    return x, {"sigma": s}
  y = x + s * rng.standard_normal(x.shape, dtype=np.float32)
  return y.astype(x.dtype, copy=False), {"sigma": s}


def poisson_gaussian_noise(rng: np.random.Generator, x: np.ndarray, *,
                           dose: tuple[float, float] | None = (20.0, 200.0),
                           read_sigma: tuple[float, float] = (0.0, 0.02),
                           exact: bool = True) -> tuple[np.ndarray, dict]:
  """y = Poisson(d * max(x, 0)) / d + N(0, r^2), d ~ log-U[dose], r ~ U[read_sigma]; dose None: no shot noise.

  `exact` (default, as the reference codes do on the host) draws the Poisson counts with `rng.poisson`;
  `exact=False` uses the device op's Gaussian approximation y = x + sqrt(max(x, 0) / d + r^2) * N(0, 1).
  """
  r = draw_uniform(rng, read_sigma)
  d = math.inf if dose is None else draw_log_uniform(rng, dose)
  aux = {"dose": d, "read_sigma": r}
  if dose is None and r == 0.0:
    return x, aux
  if dose is None:
    y = x + r * rng.standard_normal(x.shape, dtype=np.float32)
  elif exact:
    y = rng.poisson(d * np.maximum(x, 0.0)) / d
    if r > 0.0:
      y = y + r * rng.standard_normal(x.shape, dtype=np.float32)
  else:
    y = x + np.sqrt(np.maximum(x, 0.0) / d + r * r) * rng.standard_normal(x.shape, dtype=np.float32)
  return y.astype(x.dtype, copy=False), aux


def scan_line_noise(rng: np.random.Generator, x: np.ndarray, *, sigma: tuple[float, float] = (0.0, 0.03),
                    gain_sigma: tuple[float, float] = (0.0, 0.02)) -> tuple[np.ndarray, dict]:
  """Per row (axis -2): y = (1 + g * a) * x + s * b, a, b ~ N(0, 1) a row; s ~ U[sigma], g ~ U[gain_sigma]."""
  s = draw_uniform(rng, sigma)
  g = draw_uniform(rng, gain_sigma)
  rows = x.shape[:-1] + (1,)
  y = x
  if g > 0.0:
    y = y * (1.0 + g * rng.standard_normal(rows, dtype=np.float32))
  if s > 0.0:
    y = y + s * rng.standard_normal(rows, dtype=np.float32)
  return y.astype(x.dtype, copy=False), {"sigma": s, "gain_sigma": g}
