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

The mean pass (`mean_fraction` > 0): the first round(B * mean_fraction) examples of the batch are evaluated
instead at the schedule's last time t = 1 (`MEAN_T`) with the noisy target z = 0, and their term is the mean
squared error of the clean-image estimate the output implies (`mean_estimate`). At t = 1 alpha is about 0 (the
`linear` schedule's alpha(1) = 0.0067), so z tells the network next to nothing about x0, and the MSE-optimal
estimate there is the posterior mean E[x0 | condition]: one network pass gives what the mean of many samples
approximates. z = 0 rather than a fixed noise field: the diffusion examples never show the network an all-zero
z, so the mean pass is an input of its own that cannot collide with sampling, and the output is a function of
the condition alone (a noise field would leave the pass a function of that field too).
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jax_iso.diffusion.schedules import Schedule

PREDICTIONS = ("eps", "v", "x0")
MEAN_T = 1.0             # the mean pass's time: the schedule's noisiest end
MEAN_PREDICTIONS = ("v", "x0")   # eps at t = 1 would give x0 = -sigma eps / alpha: the error amplified 150 times


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


def mean_count(batch: int, mean_fraction: float) -> int:
  """How many examples of a batch of `batch` the mean pass takes (the first ones): round(batch x fraction)."""
  return int(round(batch * float(mean_fraction)))


def mean_estimate(denoise: Callable[[jax.Array, jax.Array], jax.Array], schedule: Schedule, shape: tuple[int, ...],
                  *, prediction: str) -> jax.Array:
  """The mean pass: the clean-image estimate of one network evaluation at t = `MEAN_T` with z = 0, [*shape]
  (unclipped; the posterior mean when the network was trained with `mean_fraction` > 0)."""
  b = shape[0]
  t = jnp.full((b,), MEAN_T, jnp.float32)
  alpha, sigma = schedule.alpha_sigma(t)
  z = jnp.zeros(shape, jnp.float32)
  out = denoise(z, schedule.log_snr(t))
  return to_x0_eps(prediction, out.astype(jnp.float32), z, alpha, sigma)[0]


def diffusion_loss(denoise: Callable[[jax.Array, jax.Array], jax.Array], schedule: Schedule, x0: jax.Array,
                   key: jax.Array, *, prediction: str = "eps", t_min: float = 0.0,
                   mean_fraction: float = 0.0) -> jax.Array:
  """[B] mean squared error of the network's `prediction` at a random noise level per example; with
  `mean_fraction` > 0, the first `mean_count(B, mean_fraction)` examples are the mean pass's instead (module
  docstring): the squared error of the clean-image estimate at t = 1 from z = 0. One network evaluation for the
  whole batch either way.

  `t_min` > 0 keeps t away from the clean end (where a schedule with alpha_bar(0) = 1 has an infinite log SNR)."""
  if prediction not in PREDICTIONS:
    raise ValueError(f"unknown diffusion prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")
  if mean_fraction > 0 and prediction not in MEAN_PREDICTIONS:
    raise ValueError(f"the mean pass needs prediction {' or '.join(MEAN_PREDICTIONS)}, got {prediction!r}")
  k_t, k_eps = jax.random.split(key)
  b = x0.shape[0]
  t = jax.random.uniform(k_t, (b,), jnp.float32, minval=t_min, maxval=1.0)
  t = jnp.maximum(t, 1e-6)   # log SNR finite for every schedule
  noise = jax.random.normal(k_eps, x0.shape, jnp.float32).astype(x0.dtype)
  is_mean = jnp.arange(b) < mean_count(b, mean_fraction)              # [B]
  t = jnp.where(is_mean, MEAN_T, t)
  alpha, sigma = schedule.alpha_sigma(t)
  z = _bcast(alpha, x0) * x0 + _bcast(sigma, x0) * noise
  z = jnp.where(_bcast(is_mean, z), jnp.zeros_like(z), z)
  out = denoise(z, schedule.log_snr(t)).astype(jnp.float32)
  err = (out - target(prediction, x0, noise, alpha, sigma).astype(jnp.float32)) ** 2
  terms = err.reshape(b, -1).mean(axis=1)
  if mean_count(b, mean_fraction) == 0:
    return terms
  x0_hat = to_x0_eps(prediction, out, z.astype(jnp.float32), alpha, sigma)[0]
  mean_terms = ((x0_hat - x0.astype(jnp.float32)) ** 2).reshape(b, -1).mean(axis=1)
  return jnp.where(is_mean, mean_terms, terms)
