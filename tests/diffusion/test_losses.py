"""The diffusion loss and the conversions between what a network predicts and (x0, noise)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.diffusion import losses, schedules

LINEAR = schedules.get({"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2})


@pytest.mark.slow
@pytest.mark.parametrize("prediction", losses.PREDICTIONS)
def test_targets_convert_back_to_x0_and_noise(prediction):
  k1, k2 = jax.random.split(jax.random.key(0))
  x0 = jax.random.uniform(k1, (3, 8, 8), minval=-1, maxval=1)
  eps = jax.random.normal(k2, (3, 8, 8))
  t = jnp.asarray([0.05, 0.5, 0.95])
  alpha, sigma = LINEAR.alpha_sigma(t)
  z = losses.q_sample(LINEAR, x0, t, eps)
  np.testing.assert_allclose(np.asarray(z), np.asarray(alpha[:, None, None] * x0 + sigma[:, None, None] * eps),
                             atol=1e-6)
  got_x0, got_eps = losses.to_x0_eps(prediction, losses.target(prediction, x0, eps, alpha, sigma), z, alpha, sigma)
  # dividing by alpha (>= 0.007 at t = 0.95) or sigma (>= 0.03 at t = 0.05) scales float32 rounding by <= 150
  np.testing.assert_allclose(np.asarray(got_x0), np.asarray(x0), atol=1e-4)
  np.testing.assert_allclose(np.asarray(got_eps), np.asarray(eps), atol=1e-4)


@pytest.mark.slow
def test_loss_is_per_example_zero_for_the_exact_network_and_one_for_a_blind_one():
  point = jnp.full((1, 16, 16), 0.25)
  x0 = jnp.broadcast_to(point, (64, 16, 16))

  def exact(z, log_snr):   # all data is `point`: the noise is (z - alpha p) / sigma
    a = jnp.sqrt(jax.nn.sigmoid(log_snr))[:, None, None]
    s = jnp.sqrt(jax.nn.sigmoid(-log_snr))[:, None, None]
    return (z - a * point) / s
  terms = losses.diffusion_loss(exact, LINEAR, x0, jax.random.key(1), prediction="eps")
  assert terms.shape == (64,)
  assert float(terms.max()) < 1e-6
  blind = losses.diffusion_loss(lambda z, level: jnp.zeros_like(z), LINEAR, x0, jax.random.key(1))
  # E[eps^2] = 1 per pixel; the mean of 64 x 256 squared normals is within 4 standard errors (4 x 0.011) of 1
  assert abs(float(blind.mean()) - 1.0) < 0.045


@pytest.mark.slow
def test_noise_levels_are_drawn_per_example():
  seen = []
  losses.diffusion_loss(lambda z, level: seen.append(level) or z, LINEAR, jnp.zeros((32, 4)), jax.random.key(2))
  level = np.asarray(seen[0])
  assert level.shape == (32,) and len(np.unique(level)) == 32 and np.all(np.isfinite(level))


def test_unknown_prediction():
  with pytest.raises(ValueError, match="unknown diffusion prediction 'score'"):
    losses.diffusion_loss(lambda z, l: z, LINEAR, jnp.zeros((2, 4)), jax.random.key(0), prediction="score")
