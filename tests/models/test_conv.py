"""`Conv3x3`: nn.Conv's values and parameters, and a hand-written gradient equal to XLA's own."""
import jax
import pytest
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jax_iso.models.conv import Conv3x3, conv3x3


def _lax_conv(x, k):
  return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.slow
def test_values_and_gradients_match_the_convolution():
  x = jax.random.normal(jax.random.key(0), (2, 11, 13, 5))
  k = jax.random.normal(jax.random.key(1), (3, 3, 5, 7))
  g = jax.random.normal(jax.random.key(2), (2, 11, 13, 7))
  np.testing.assert_allclose(conv3x3(x, k), _lax_conv(x, k), rtol=1e-6, atol=1e-5)
  ours = jax.vjp(conv3x3, x, k)[1](g)
  theirs = jax.vjp(_lax_conv, x, k)[1](g)
  # float32 sums of up to 2 * 11 * 13 products of unit normals, in different orders: a relative bound of 1e-5
  for a, b in zip(ours, theirs):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * float(jnp.abs(b).max()))


def test_same_parameters_and_outputs_as_nn_conv():
  x = jax.random.normal(jax.random.key(3), (1, 8, 8, 4))
  params = nn.Conv(6, (3, 3)).init(jax.random.key(4), x)
  assert jax.tree.map(jnp.shape, Conv3x3(6).init(jax.random.key(4), x)) == jax.tree.map(jnp.shape, params)
  np.testing.assert_allclose(Conv3x3(6).apply(params, x), nn.Conv(6, (3, 3)).apply(params, x), rtol=1e-6, atol=1e-6)
