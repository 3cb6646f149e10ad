"""Diffusion training loss, per example (the caller reduces; vdm style).

    terms = losses.diffusion_loss(denoise, schedule, x0, key, prediction="eps")    # [B]
    # denoise(z_t, log_snr) -> the network's output for z_t at the noise levels log_snr [B]

For each example a time t ~ U(0, 1) (one per example; the `linear` schedule then sits at a continuous level
between two of its discrete steps, as the reference draws it), noise eps ~ N(0, 1), z_t = alpha x0 + sigma eps;
the network predicts the `prediction` target from (z_t, log SNR) and the term is the mean squared error over
the example's pixels:
- "eps": the noise (EMDiffuse, DDPM);
- "v": v = alpha eps - sigma x0 (Salimans & Ho 2022; well scaled at both ends of the schedule);
- "x0": the clean image.
`to_x0_eps` turns any of them back into (x0, eps) for the samplers.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jax_iso.diffusion.schedules import Schedule

PREDICTIONS = ("eps", "v", "x0")


def _bcast(v: jax.Array, like: jax.Array) -> jax.Array:
  """[B] -> [B, 1, ..., 1] against `like`."""
  return jnp.reshape(v, v.shape + (1,) * (like.ndim - v.ndim))


def q_sample(schedule: Schedule, x0: jax.Array, t: jax.Array, noise: jax.Array) -> jax.Array:
  """z_t = alpha(t) x0 + sigma(t) eps, with t [B] and x0, noise [B, ...]."""
  alpha, sigma = schedule.alpha_sigma(t)
  return _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * noise


def target(prediction: str, x0: jax.Array, noise: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
  """What the network is trained to output (alpha, sigma [B])."""
  if prediction == "eps":
    return noise
  if prediction == "v":
    return _bcast(alpha, x0) * noise - _bcast(sigma, x0) * x0
  if prediction == "x0":
    return x0
  raise ValueError(f"unknown diffusion prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")


def to_x0_eps(prediction: str, out: jax.Array, z: jax.Array, alpha: jax.Array,
              sigma: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(x0, eps) implied by the network output `out` for z = alpha x0 + sigma eps (alpha, sigma [B])."""
  a, s = _bcast(alpha, z), _bcast(sigma, z)
  if prediction == "eps":
    return (z - s * out) / a, out
  if prediction == "v":     # alpha^2 + sigma^2 = 1
    return a * z - s * out, s * z + a * out
  if prediction == "x0":
    return out, (z - a * out) / jnp.maximum(s, 1e-12)
  raise ValueError(f"unknown diffusion prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")


def diffusion_loss(denoise: Callable[[jax.Array, jax.Array], jax.Array], schedule: Schedule, x0: jax.Array,
                   key: jax.Array, *, prediction: str = "eps", t_min: float = 0.0) -> jax.Array:
  """[B] mean squared error of the network's `prediction` at a random noise level per example.

  `t_min` > 0 keeps t away from the clean end (where a schedule with alpha_bar(0) = 1 has an infinite log SNR)."""
  if prediction not in PREDICTIONS:
    raise ValueError(f"unknown diffusion prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")
  k_t, k_eps = jax.random.split(key)
  b = x0.shape[0]
  t = jax.random.uniform(k_t, (b,), jnp.float32, minval=t_min, maxval=1.0)
  t = jnp.maximum(t, 1e-6)   # log SNR finite for every schedule
  noise = jax.random.normal(k_eps, x0.shape, jnp.float32).astype(x0.dtype)
  alpha, sigma = schedule.alpha_sigma(t)
  z = _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * noise
  out = denoise(z, schedule.log_snr(t))
  err = (out.astype(jnp.float32) - target(prediction, x0, noise, alpha, sigma).astype(jnp.float32)) ** 2
  return err.reshape(b, -1).mean(axis=1)
