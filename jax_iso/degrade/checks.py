"""The contract every degradation op keeps, and the small helpers that enforce it.

An op is a pure function `op(key, x, *, params) -> (y, aux)`:
- `key`: a `jax.random` key; all randomness comes from it (same key, same output).
- `x`: a float array (float32 or bfloat16) with intensities in [0, 1]; image ops act on the last two axes
  (..., H, W), stack ops on the last three (..., D, H, W); leading axes are batch axes. Scalar parameters are
  drawn once per call and shared by the leading axes; per-pixel randomness is independent everywhere. For
  independent parameters per example, vmap the op over split keys (the pipeline does).
- `params`: keyword-only, static (Python numbers / tuples), so `jax.jit(functools.partial(op, **params))`
  works. A strength range is a (lo, hi) tuple drawn uniformly; a range of zeros is exactly the identity.
- returns `y` (same shape and dtype as `x`) and `aux`, a dict of what was drawn: scalars (e.g. 'sigma'),
  masks ((..., H, W) float32 in [0, 1]), flows ((..., 2, H, W): dy, dx in pixels), shifts ((..., D, 2)).
- bad shapes, dtypes or ranges raise `ValueError` with a message naming the argument.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def check_float(x, *, min_ndim: int = 2, name: str = "x") -> jax.Array:
  """`x` as a jax array; ValueError unless it is floating point with at least `min_ndim` axes."""
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    raise ValueError(f"{name} must be a float array with intensities in [0, 1], got dtype {x.dtype}")
  if x.ndim < min_ndim:
    raise ValueError(f"{name} must have at least {min_ndim} axes, got shape {x.shape}")
  return x


def check_range(name: str, value, *, low: float | None = None, high: float | None = None) -> tuple[float, float]:
  """A (lo, hi) tuple of finite floats with lo <= hi inside [low, high]; ValueError otherwise."""
  try:
    lo, hi = (float(v) for v in value)
  except (TypeError, ValueError):
    raise ValueError(f"{name} must be a (lo, hi) pair of numbers, got {value!r}") from None
  if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
    raise ValueError(f"{name} must be a finite (lo, hi) pair with lo <= hi, got {value!r}")
  if (low is not None and lo < low) or (high is not None and hi > high):
    raise ValueError(f"{name}={value!r} must lie within [{low}, {high}]")
  return lo, hi


def uniform(key: jax.Array, value_range: tuple[float, float], shape=()) -> jax.Array:
  """Draws U[lo, hi] (float32); exactly lo when lo == hi."""
  lo, hi = value_range
  if lo == hi:
    return jnp.full(shape, lo, jnp.float32)
  return jax.random.uniform(key, shape, jnp.float32, lo, hi)


def log_uniform(key: jax.Array, value_range: tuple[float, float], shape=()) -> jax.Array:
  """Draws exp(U[log lo, log hi]) for 0 < lo <= hi (float32)."""
  lo, hi = value_range
  if lo <= 0:
    raise ValueError(f"a log-uniform range needs lo > 0, got {value_range}")
  return jnp.exp(uniform(key, (math.log(lo), math.log(hi)), shape))
