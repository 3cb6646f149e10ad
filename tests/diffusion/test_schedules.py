"""Noise schedules: the reference's linear schedule exactly at its steps, continuous between them, monotone."""
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.diffusion import schedules

LINEAR = {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2}   # EMDiffuse's training schedule


def test_linear_matches_the_discrete_cumulative_product_at_its_steps():
  s = schedules.get(LINEAR)
  want = np.concatenate([[1.0], np.cumprod(1.0 - np.linspace(1e-6, 1e-2, 2000))])    # float64, as the reference
  n = np.array([0, 1, 2, 10, 500, 1000, 1999, 2000])
  got = np.exp(np.asarray(s.log_alpha_bar(jnp.asarray(n / 2000.0, jnp.float32)), np.float64))
  # the table is float32 log alpha_bar (|log| <= 10.0, relative error 6e-8) and t = n / 2000 in float32 lands within
  # 1e-4 of a step of n, where log alpha_bar moves by at most beta_end x 1e-4: |d log| <= 6e-7 + 1e-6
  np.testing.assert_allclose(got, want[n], rtol=2e-6, atol=0)


def test_linear_level_between_two_steps_is_between_them_log_linearly():
  s = schedules.get(LINEAR)
  n = np.arange(0, 2000, 37)
  lo, hi = (np.asarray(s.log_alpha_bar(jnp.asarray(x, jnp.float32))) for x in ((n + 0.0) / 2000, (n + 1.0) / 2000))
  for frac in (0.25, 0.5, 0.9):
    mid = np.asarray(s.log_alpha_bar(jnp.asarray((n + frac) / 2000, jnp.float32)))
    assert np.all(mid <= lo) and np.all(mid >= hi)
    np.testing.assert_allclose(mid, lo + frac * (hi - lo), rtol=1e-5, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("config", [LINEAR, {"name": "cosine"}], ids=["linear", "cosine"])
def test_monotone_with_clean_and_noisy_ends(config):
  s = schedules.get(config)
  t = jnp.linspace(0.0, 1.0, 4001)
  log_ab = np.asarray(s.log_alpha_bar(t))
  assert np.all(np.diff(log_ab) < 0), "alpha_bar must fall at every time"
  alpha, sigma = (np.asarray(a) for a in s.alpha_sigma(t))
  np.testing.assert_allclose(alpha ** 2 + sigma ** 2, 1.0, atol=1e-6)
  assert abs(alpha[0] - 1.0) < 1e-6 and sigma[0] < 1e-3 and alpha[-1] < 0.01
  snr = np.asarray(s.log_snr(t[1:]))
  assert np.all(np.diff(snr) < 0) and np.all(np.isfinite(snr))


def test_endpoints():
  linear = schedules.get(LINEAR)
  alpha, sigma = linear.alpha_sigma(jnp.asarray(0.0))
  assert float(alpha) == 1.0 and float(sigma) == 0.0 and float(linear.log_snr(jnp.asarray(0.0))) == np.inf
  np.testing.assert_allclose(float(jnp.exp(linear.log_alpha_bar(jnp.asarray(1.0)))),
                             np.prod(1.0 - np.linspace(1e-6, 1e-2, 2000)), rtol=2e-6)
  cosine = schedules.get({"name": "cosine", "min_alpha_bar": 1e-4})
  # cos near pi/2 in float32: an angle error of 1 ulp (1e-7) is 1e-5 of cos = 0.01, 2e-5 of its square
  np.testing.assert_allclose(float(jnp.exp(cosine.log_alpha_bar(jnp.asarray(1.0)))), 1e-4, rtol=1e-4)
  # Nichol & Dhariwal's closed form, its time axis ending where it reaches min_alpha_bar
  f = lambda t: np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2
  end = np.arccos(np.sqrt(1e-4 * f(0.0))) * 2 / np.pi * 1.008 - 0.008
  np.testing.assert_allclose(float(jnp.exp(cosine.log_alpha_bar(jnp.asarray(0.5)))), f(0.5 * end) / f(0.0),
                             rtol=1e-5)


@pytest.mark.parametrize("config, words", [
    ({"name": "sigmoid"}, "unknown noise schedule 'sigmoid'"),
    ({"name": "linear", "beta_stat": 1e-4}, "takes steps, beta_start, beta_end"),
    ({"name": "linear", "beta_start": 0.2, "beta_end": 0.1}, "beta_start <= beta_end"),
])
def test_bad_configs_name_the_problem(config, words):
  with pytest.raises(ValueError, match=words):
    schedules.get(config)
