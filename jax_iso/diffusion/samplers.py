"""Samplers of a trained denoiser: each one pure step, one `lax.fori_loop` driver, any number of steps.

    x = samplers.sample(denoise, schedule, z_init, key, sampler="dpm2m", steps=10)
    # denoise(z, log_snr [B]) -> network output (prediction "eps", "v" or "x0"); z_init ~ N(0, 1), [B, ...]

The steps run over a grid of times 1 = t_0 > t_1 > ... > t_N = 0 of the model's own schedule (uniform in t,
or with `spacing="log_snr"` uniform in log SNR between the ends). Each step evaluates the network once at t_i,
turns its output into an estimate of the clean image x0 (clipped to `clip`, the data range) and of the noise,
and moves z to t_{i+1}:
- `ddpm`: ancestral sampling from the posterior q(z_s | z_t, x0) (the reference's sampler);
- `ddim`: Song et al.'s step with `eta` (0: deterministic; 1: the same distribution as ddpm);
- `dpm2m`: DPM-Solver++(2M) (Lu et al. 2022), second-order multistep in the data prediction, deterministic;
  first order at the first and the last step.
The last step lands on t = 0, where z is the clean estimate. Fresh noise of the stochastic steps comes from
`noise_fn(i)` (default: normal draws from `key` folded with the step), so a caller can make the noise a function of
the global pixel position (seamless tiles).
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jax_iso.diffusion.losses import to_x0_eps
from jax_iso.diffusion.schedules import Schedule

SAMPLERS = ("ddpm", "ddim", "dpm2m")
SPACINGS = ("uniform", "log_snr")


def time_grid(schedule: Schedule, steps: int, spacing: str = "uniform") -> jax.Array:
  """[steps + 1] times from 1 down to 0."""
  if steps < 1:
    raise ValueError(f"a sampler needs at least 1 step, got {steps}")
  if spacing == "uniform":
    return jnp.linspace(1.0, 0.0, steps + 1)
  if spacing == "log_snr":   # uniform in log SNR from t = 1 to a nearly clean t, found by bisection
    ends = schedule.log_snr(jnp.asarray([1.0, 1e-4]))
    levels = jnp.linspace(ends[0], ends[1], steps)
    lo, hi = jnp.zeros_like(levels), jnp.ones_like(levels)
    for _ in range(40):        # log SNR decreases with t
      mid = 0.5 * (lo + hi)
      above = schedule.log_snr(mid) > levels
      lo, hi = jnp.where(above, mid, lo), jnp.where(above, hi, mid)
    return jnp.concatenate([0.5 * (lo + hi), jnp.zeros((1,))]).at[0].set(1.0)
  raise ValueError(f"unknown time spacing {spacing!r}; use one of {', '.join(SPACINGS)}")


def _levels(schedule: Schedule, t: jax.Array):
  log_ab = schedule.log_alpha_bar(t)
  alpha, sigma = schedule.alpha_sigma(t)
  return log_ab, alpha, sigma


def ddpm_step(z, x0, eps, t, s, noise, schedule: Schedule):
  """z_s ~ q(z_s | z_t, x0): the posterior mean plus its standard deviation times `noise`."""
  del eps
  log_ab_t, _, sigma_t = _levels(schedule, t)
  log_ab_s, alpha_s, sigma_s = _levels(schedule, s)
  beta = -jnp.expm1(log_ab_t - log_ab_s)                         # 1 - alpha_bar_t / alpha_bar_s
  alpha_ts = jnp.exp(0.5 * (log_ab_t - log_ab_s))
  var_t = jnp.maximum(sigma_t ** 2, 1e-20)
  mean = alpha_s * beta / var_t * x0 + alpha_ts * sigma_s ** 2 / var_t * z
  std = jnp.sqrt(beta * sigma_s ** 2 / var_t)
  return mean + std * noise


def ddim_step(z, x0, eps, t, s, noise, schedule: Schedule, eta: float = 0.0):
  """z_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c noise, c = eta x the posterior standard deviation."""
  del z
  log_ab_t, _, sigma_t = _levels(schedule, t)
  log_ab_s, alpha_s, sigma_s = _levels(schedule, s)
  c = eta * jnp.sqrt(sigma_s ** 2 / jnp.maximum(sigma_t ** 2, 1e-20) * -jnp.expm1(log_ab_t - log_ab_s))
  return alpha_s * x0 + jnp.sqrt(jnp.maximum(sigma_s ** 2 - c ** 2, 0.0)) * eps + c * noise


def dpm2m_step(z, x0, x0_prev, t, s, t_prev, lower, schedule: Schedule):
  """DPM-Solver++(2M) from t to s with the previous step's x0 estimate (at t_prev); first order when `lower`
  (the first and the last step) and wherever s is the clean end."""
  half = lambda u: 0.5 * schedule.log_snr(u)                     # lambda = log(alpha / sigma)
  _, _, sigma_t = _levels(schedule, t)
  _, alpha_s, sigma_s = _levels(schedule, s)
  lam_t, lam_s = half(t), half(s)
  h = lam_s - lam_t
  clean = sigma_s <= 0.0
  lower = lower | clean
  r = jnp.where(lower, 1.0, (lam_t - half(t_prev)) / jnp.where(lower, 1.0, h))
  d = jnp.where(lower, x0, (1.0 + 0.5 / r) * x0 - (0.5 / r) * x0_prev)
  moved = (sigma_s / sigma_t) * z - alpha_s * jnp.expm1(-h) * d
  return jnp.where(clean, x0, moved)


def estimate(denoise: Callable[[jax.Array, jax.Array], jax.Array], schedule: Schedule, z: jax.Array, t: jax.Array,
             *, prediction: str = "eps", clip: tuple[float, float] | None = (-1.0, 1.0)):
  """(x0, eps): the network's estimates at time t of the clean image (clipped to `clip`) and of the noise in z
  (consistent with the clipped estimate); one network evaluation, the first half of every sampler step."""
  b = z.shape[0]
  _, alpha_t, sigma_t = _levels(schedule, t)
  out = denoise(z, jnp.full((b,), schedule.log_snr(t), jnp.float32))
  x0, eps = to_x0_eps(prediction, out.astype(z.dtype), z, jnp.full((b,), alpha_t), jnp.full((b,), sigma_t))
  if clip is not None:
    x0 = jnp.clip(x0, *clip)
    eps = (z - alpha_t * x0) / sigma_t
  return x0, eps


def sample(denoise: Callable[[jax.Array, jax.Array], jax.Array], schedule: Schedule, z_init: jax.Array,
           key: jax.Array | None = None, *, sampler: str = "ddim", steps: int = 50, eta: float = 0.0,
           prediction: str = "eps", clip: tuple[float, float] | None = (-1.0, 1.0), spacing: str = "uniform",
           noise_fn: Callable[[jax.Array], jax.Array] | None = None) -> jax.Array:
  """x0 drawn by `steps` network evaluations from z_init (pure noise at t = 1)."""
  if sampler not in SAMPLERS:
    raise ValueError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}")
  stochastic = sampler == "ddpm" or (sampler == "ddim" and eta > 0)
  if noise_fn is None:
    if stochastic and key is None:
      raise ValueError(f"the {sampler} sampler with eta={eta} draws noise: it needs a key")
    noise_fn = lambda i: jax.random.normal(jax.random.fold_in(key, i), z_init.shape, z_init.dtype)
  ts = time_grid(schedule, steps, spacing)

  def body(i, carry):
    z, x0_prev = carry
    t, s = ts[i], ts[i + 1]
    t_prev = ts[jnp.maximum(i - 1, 0)]
    x0, eps = estimate(denoise, schedule, z, t, prediction=prediction, clip=clip)
    if sampler == "dpm2m":
      z = dpm2m_step(z, x0, x0_prev, t, s, t_prev, (i == 0) | (i == steps - 1), schedule)
    else:
      noise = noise_fn(i) if stochastic else jnp.zeros_like(z)
      z = ddpm_step(z, x0, eps, t, s, noise, schedule) if sampler == "ddpm" else \
          ddim_step(z, x0, eps, t, s, noise, schedule, eta)
    return z, x0

  z, _ = jax.lax.fori_loop(0, steps, body, (z_init, jnp.zeros_like(z_init)))
  return z
