"""Depthwise convolution, GLEN / LeFF, stochastic depth and the transformer block."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import signal

from jax_iso.models import layers


def test_depthwise_conv_equals_scipy_per_channel():
  x = np.asarray(jax.random.normal(jax.random.key(0), (2, 9, 7, 3)))
  k = np.asarray(jax.random.normal(jax.random.key(1), (3, 3, 3)))
  got = np.asarray(layers.depthwise3x3(jnp.asarray(x), jnp.asarray(k)))
  for b in range(2):
    for c in range(3):
      want = signal.correlate2d(x[b, :, :, c], k[:, :, c], mode="same", boundary="fill")
      # both float32, summing 9 products in their own orders, each within 10 u sum |x k| (<= 13.2 here) of the
      # exact value: <= 2 x 10 x 6e-8 x 13.2 = 1.6e-5 apart
      np.testing.assert_allclose(got[b, :, :, c], want, rtol=0, atol=2e-5)


@pytest.mark.slow
def test_depthwise_conv_gradient_equals_xla_grouped_convolution():
  x = jax.random.normal(jax.random.key(0), (2, 9, 7, 4))
  k = jax.random.normal(jax.random.key(1), (3, 3, 4))
  g = jax.random.normal(jax.random.key(2), (2, 9, 7, 4))

  def grouped(x, k):
    return jax.lax.conv_general_dilated(x, k[:, :, None, :], (1, 1), "SAME", feature_group_count=4,
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))

  want = jax.grad(lambda x, k: (grouped(x, k) * g).sum(), argnums=(0, 1))(x, k)
  got = jax.grad(lambda x, k: (layers.depthwise3x3(x, k) * g).sum(), argnums=(0, 1))(x, k)
  # float32, two implementations summing the same products in other orders, each within (n + 1) u sum |terms|: dx
  # sums 9 products k g (sum |k g| <= 12.8 here), dk 2 x 9 x 7 = 126 products x g (sum |x g| <= 89 here):
  # <= 2 x 10 x 6e-8 x 12.8 = 1.5e-5 and 2 x 127 x 6e-8 x 89 = 1.4e-3
  for a, b, atol in zip(got, want, (3e-5, 2e-3)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=atol)


@pytest.mark.slow
def test_glen_gate_closed_leaves_only_the_output_bias():
  ffn = layers.FeedForward(hidden=8, gated=True)
  x = jax.random.normal(jax.random.key(0), (1, 4, 4, 3))
  params = jax.tree.map(np.asarray, ffn.init(jax.random.key(1), x))
  params["params"]["project"]["bias"] = np.full(3, 0.5, np.float32)
  for leaf in ("gate", "gate_local"):        # gate path outputs 0: gelu(0) = 0 closes it
    params["params"][leaf] = jax.tree.map(np.zeros_like, params["params"][leaf])
  np.testing.assert_allclose(np.asarray(ffn.apply(params, x)), 0.5, atol=1e-6)


@pytest.mark.slow
def test_glen_is_local_with_a_3x3_reach():
  ffn = layers.FeedForward(hidden=8, gated=True)
  x = jax.random.normal(jax.random.key(0), (1, 9, 9, 3))
  params = ffn.init(jax.random.key(1), x)
  diff = np.abs(np.asarray(ffn.apply(params, x.at[0, 4, 4].add(5.0)) - ffn.apply(params, x))).sum(-1)[0]
  assert diff[3:6, 3:6].min() > 0
  diff[3:6, 3:6] = 0
  assert diff.max() == 0


@pytest.mark.slow
@pytest.mark.parametrize("gated", [True, False])
def test_feed_forward_keeps_shape(gated):
  ffn = layers.FeedForward(hidden=12, gated=gated)
  x = jnp.ones((2, 8, 8, 5))
  params = ffn.init(jax.random.key(0), x)
  assert ffn.apply(params, x).shape == x.shape
  names = set(params["params"])
  assert names == ({"value", "value_local", "gate", "gate_local", "project"} if gated
                   else {"expand", "local", "project"})


def test_drop_path_drops_whole_examples_and_rescales_the_rest():
  drop = layers.DropPath(rate=0.25)
  x = jnp.ones((4000, 3, 3, 2))
  np.testing.assert_array_equal(np.asarray(drop.apply({}, x, deterministic=True)), np.asarray(x))
  y = np.asarray(drop.apply({}, x, deterministic=False, rngs={"dropout": jax.random.key(0)}))
  per_example = y.reshape(4000, -1)
  assert set(np.unique(per_example)) <= {np.float32(0.0), np.float32(1 / 0.75)}
  assert (per_example == per_example[:, :1]).all()              # all or nothing per example
  assert abs((per_example[:, 0] == 0).mean() - 0.25) < 0.03
  assert abs(y.mean() - 1.0) < 0.05                               # unbiased


@pytest.mark.slow
def test_block_is_deterministic_at_inference_and_stochastic_while_training():
  block = layers.TransformerBlock(heads=2, window=4, shift=2, drop_path=0.5)
  x = jax.random.normal(jax.random.key(0), (8, 8, 8, 4))
  params = block.init(jax.random.key(1), x)
  a, b = block.apply(params, x), block.apply(params, x)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  t1 = block.apply(params, x, train=True, rngs={"dropout": jax.random.key(2)})
  t2 = block.apply(params, x, train=True, rngs={"dropout": jax.random.key(3)})
  assert np.abs(np.asarray(t1 - t2)).max() > 0
  assert a.shape == x.shape


@pytest.mark.slow
def test_block_in_bfloat16_keeps_layer_norm_in_float32():
  block = layers.TransformerBlock(heads=1, window=4, dtype=jnp.bfloat16)
  x = jax.random.normal(jax.random.key(0), (1, 8, 8, 4)).astype(jnp.bfloat16)
  params = block.init(jax.random.key(1), x)
  ref = layers.TransformerBlock(heads=1, window=4).apply(params, x.astype(jnp.float32))
  out = block.apply(params, x)
  assert out.dtype == jnp.bfloat16
  assert jax.tree.leaves(params)[0].dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref), atol=0.1)
