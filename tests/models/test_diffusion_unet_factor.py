"""The vEMDiffuse U-Net told the factor (`factor_input`): a fourth condition channel, log s, embedded beside the
position; off, the parameters are those of the position-only network."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.models.diffusion_unet import DiffusionUNet, position_of

TINY = dict(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0, position=True)


def _input(images, p, log_s=None):
  """[below, above, position map, (log s map), noisy target] [1, 16, 16, C]."""
  maps = [jnp.full((1, 16, 16, 1), p)] + ([] if log_s is None else [jnp.full((1, 16, 16, 1), log_s)])
  return jnp.concatenate([images[..., :2], *maps, images[..., 2:]], axis=-1)


def _shapes(net, x):
  return jax.tree.map(lambda a: a.shape, jax.eval_shape(net.init, jax.random.key(0), x, jnp.zeros(1)))


def test_off_keeps_the_parameters_and_on_adds_the_factor_embedding():
  images = jnp.zeros((1, 16, 16, 3))
  plain = _shapes(DiffusionUNet(**TINY), _input(images, 0.3))
  assert _shapes(DiffusionUNet(**TINY, factor_input=False), _input(images, 0.3)) == plain
  told = _shapes(DiffusionUNet(**TINY, factor_input=True), _input(images, 0.3, 1.0))["params"]
  assert {"factor1", "factor2"} <= set(told) and "factor1" not in plain["params"]
  assert told["stem"]["kernel"] == (3, 3, 5, 8) and plain["params"]["stem"]["kernel"] == (3, 3, 4, 8)
  assert DiffusionUNet(**TINY, factor_input=True, factor_scale=0.0).problems() == ["factor_scale=0.0 must be > 0"]


@pytest.mark.slow      # a minute: the network's init and apply compiled on 2 CPU cores
def test_the_factor_changes_the_output_and_the_position_is_read_before_it():
  net = DiffusionUNet(**TINY, factor_input=True)
  images = jax.random.normal(jax.random.key(0), (1, 16, 16, 3))
  x = _input(images, 0.4, math.log(4.0))
  np.testing.assert_allclose(float(position_of(x, 1, after=1)[0]), 0.4, atol=1e-6)
  np.testing.assert_allclose(float(position_of(x, 1)[0]), math.log(4.0), atol=1e-6)
  params = jax.jit(net.init)(jax.random.key(1), x, jnp.zeros(1))
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  params = jax.tree.unflatten(tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
  apply = jax.jit(net.apply)
  out = {s: apply(params, _input(images, 0.4, math.log(s)), jnp.zeros(1)) for s in (4.0, 4.1, 8.0)}
  assert out[4.0].shape == (1, 16, 16, 1)
  far = float(jnp.abs(out[8.0] - out[4.0]).mean())
  assert far > 1e-3 and float(jnp.abs(out[4.1] - out[4.0]).mean()) < 0.5 * far
