"""Projected distribution loss on known distributions, against scipy's 1-D Wasserstein distance."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jax_iso.train.pdl import pdl

KEY = jax.random.key(0)


def test_pixel_pdl_is_scipys_wasserstein_distance():
  rng = np.random.default_rng(0)
  a = rng.normal(0.3, 0.1, (2, 16, 16)).astype(np.float32)
  b = rng.uniform(0.0, 1.0, (2, 16, 16)).astype(np.float32)
  got = np.asarray(pdl(jnp.asarray(a), jnp.asarray(b), KEY, patch=1))
  want = [stats.wasserstein_distance(a[i].ravel(), b[i].ravel()) for i in range(2)]
  np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.slow
def test_gaussians_of_shifted_mean_are_the_shift_apart():
  x = jax.random.normal(jax.random.key(1), (1, 64, 64))
  np.testing.assert_allclose(np.asarray(pdl(x, x + 0.7, KEY, patch=1)), [0.7], rtol=1e-5)
  # a projection onto a unit direction moves by 0.7 * sum(direction): still zero for the same image
  np.testing.assert_allclose(np.asarray(pdl(x, x, KEY, patch=3, projections=8)), [0.0], atol=1e-7)


def test_pixel_distribution_ignores_where_pixels_are_but_patches_do_not():
  x = jax.random.uniform(jax.random.key(1), (1, 32, 32))
  smooth = jnp.sort(x.ravel()).reshape(1, 32, 32)                # same histogram, no texture left
  assert float(pdl(x, smooth, KEY, patch=1)[0]) < 1e-6
  assert float(pdl(x, smooth, KEY, patch=3, projections=8)[0]) > 0.05


def test_a_blurred_image_is_penalised_though_its_mean_is_kept():
  x = jax.random.uniform(jax.random.key(1), (1, 32, 32))
  blurred = jax.scipy.signal.convolve2d(x[0], jnp.full((3, 3), 1 / 9), mode="same")[None]
  inner = (slice(None), slice(2, -2), slice(2, -2))
  assert abs(float(x[inner].mean() - blurred[inner].mean())) < 0.02
  assert float(pdl(x[inner], blurred[inner], KEY, patch=1)[0]) > 0.1   # narrower histogram


@pytest.mark.slow
def test_directions_come_from_the_key_and_the_loss_has_a_gradient():
  x = jax.random.uniform(jax.random.key(1), (2, 16, 16))
  y = jax.random.uniform(jax.random.key(2), (2, 16, 16))
  a = pdl(x, y, jax.random.key(3), projections=4)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(pdl(x, y, jax.random.key(3), projections=4)))
  assert not np.array_equal(np.asarray(a), np.asarray(pdl(x, y, jax.random.key(4), projections=4)))
  grad = jax.grad(lambda p: pdl(p, y, KEY).sum())(x)
  assert np.isfinite(np.asarray(grad)).all() and np.abs(np.asarray(grad)).max() > 0


def test_shapes_must_match():
  with pytest.raises(ValueError, match="one shape"):
    pdl(jnp.zeros((1, 8, 8)), jnp.zeros((1, 8, 9)), KEY)
