"""Noise schedules as small pure functions of a continuous time t in [0, 1] (vdm style).

    schedule = schedules.get({"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2})
    alpha, sigma = schedule.alpha_sigma(t)       # z_t = alpha * x0 + sigma * eps, alpha^2 + sigma^2 = 1
    level = schedule.log_snr(t)                   # what the network sees: log(alpha^2 / sigma^2)

A schedule is one function, `log_alpha_bar(t)` (log of alpha_bar = alpha^2), decreasing from 0 at t = 0 (clean)
to its most negative value at t = 1 (nearly pure noise); everything else is derived from it, so training and
every sampler use the same schedule (the EMDiffuse reference trains on one and samples on another).

- `linear`: the DDPM/EMDiffuse schedule, beta rising linearly over `steps` discrete steps; alpha_bar_n =
  prod_{i<=n} (1 - beta_i) at t = n / steps, and between two steps log alpha_bar is interpolated linearly (the
  continuous noise level drawn between neighbouring steps, as the reference trains).
- `cosine`: Nichol & Dhariwal's alpha_bar(t) = cos^2((t + s) / (1 + s) * pi / 2) / cos^2(s / (1 + s) * pi / 2),
  its time axis stretched so that it reaches `min_alpha_bar` (not 0) at t = 1.
The network never sees t or the schedule, only the noise level log SNR(t).
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

NAMES = ("linear", "cosine")


@dataclasses.dataclass(frozen=True)
class Schedule:
  """A noise schedule: `log_alpha_bar(t)` for t in [0, 1] (arrays of any shape, float32)."""
  name: str
  log_alpha_bar: Callable[[jax.Array], jax.Array]

  def alpha_sigma(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(alpha, sigma) at t: the scale of the signal and of the noise in z_t."""
    log_ab = self.log_alpha_bar(t)
    return jnp.exp(0.5 * log_ab), jnp.sqrt(jnp.maximum(-jnp.expm1(log_ab), 0.0))

  def log_snr(self, t: jax.Array) -> jax.Array:
    """log(alpha^2 / sigma^2) at t (+inf at t = 0 for `linear`)."""
    log_ab = self.log_alpha_bar(t)
    return log_ab - jnp.log(-jnp.expm1(log_ab))


def _linear(steps: int = 2000, beta_start: float = 1e-6, beta_end: float = 1e-2) -> Schedule:
  if steps < 1 or not 0.0 < beta_start <= beta_end < 1.0:
    raise ValueError(f"the linear schedule needs steps >= 1 and 0 < beta_start <= beta_end < 1, got steps={steps}, "
                     f"beta_start={beta_start}, beta_end={beta_end}")
  betas = np.linspace(beta_start, beta_end, steps, dtype=np.float64)
  grid = jnp.asarray(np.concatenate([[0.0], np.cumsum(np.log1p(-betas))]), jnp.float32)   # [steps + 1]

  def log_alpha_bar(t):
    pos = jnp.clip(jnp.asarray(t, jnp.float32), 0.0, 1.0) * steps
    lo = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, steps - 1)
    frac = pos - lo
    return grid[lo] * (1.0 - frac) + grid[lo + 1] * frac
  return Schedule("linear", log_alpha_bar)


def _cosine(offset: float = 0.008, min_alpha_bar: float = 1e-5) -> Schedule:
  if offset <= 0.0 or not 0.0 < min_alpha_bar < 1.0:
    raise ValueError(f"the cosine schedule needs offset > 0 and 0 < min_alpha_bar < 1, got offset={offset}, "
                     f"min_alpha_bar={min_alpha_bar}")
  cos_end = math.sqrt(min_alpha_bar) * math.cos(offset / (1.0 + offset) * math.pi / 2.0)
  # t in [0, 1] covers the curve up to where it reaches min_alpha_bar (strictly falling, no flat clamp)
  end = math.acos(cos_end) * 2.0 / math.pi * (1.0 + offset) - offset

  def log_cos(t):
    return jnp.log(jnp.cos((t * end + offset) / (1.0 + offset) * (math.pi / 2.0)))

  def log_alpha_bar(t):   # relative to t = 0 in the same float32 arithmetic: exactly 0 (clean) there
    t = jnp.clip(jnp.asarray(t, jnp.float32), 0.0, 1.0)
    return jnp.minimum(2.0 * (log_cos(t) - log_cos(jnp.zeros_like(t))), 0.0)
  return Schedule("cosine", log_alpha_bar)


_BUILDERS = {"linear": _linear, "cosine": _cosine}


def get(config: Mapping) -> Schedule:
  """The schedule a config names: {"name": "linear" | "cosine", ...its parameters}."""
  params = dict(config)
  name = params.pop("name", None)
  if name not in _BUILDERS:
    raise ValueError(f"unknown noise schedule {name!r}; use one of {', '.join(NAMES)}")
  try:
    return _BUILDERS[name](**params)
  except TypeError:
    known = ", ".join(inspect.signature(_BUILDERS[name]).parameters)
    raise ValueError(f"the {name} schedule takes {known}; got {', '.join(sorted(params)) or 'nothing'}") from None
