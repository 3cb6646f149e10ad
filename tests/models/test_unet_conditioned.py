"""The U-Net told the anisotropy factor (FiLM on log s): one model for every factor."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.models import build_model
from jax_iso.models.registry import init_params


def _models():
  base = {"name": "unet", "depth": 2, "width": 8, "kernel": 3}
  return build_model(base), build_model({**base, "conditioned": True})


@pytest.mark.slow
def test_conditioning_adds_modules_and_keeps_the_unconditioned_parameter_paths():
  plain, cond = _models()
  p_plain = init_params(plain, jax.random.key(0), (2, 32, 32))
  p_cond = init_params(cond, jax.random.key(0), (2, 32, 32))
  paths = lambda p: {jax.tree_util.keystr(k) for k, _ in jax.tree_util.tree_flatten_with_path(p)[0]}
  assert paths(p_plain) < paths(p_cond)                       # the same layers, plus the FiLM ones
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32))
  # FiLM starts at zero: before training, a conditioned network computes what the plain one does
  shared = jax.tree_util.tree_map_with_path(
      lambda k, v: v, {"params": {k: v for k, v in p_cond["params"].items() if k in p_plain["params"]}})
  np.testing.assert_allclose(cond.apply(p_cond, x, factor=4.0), plain.apply(shared, x), atol=1e-6)


@pytest.mark.slow
def test_the_factor_changes_the_output_once_trained():
  _, cond = _models()
  params = init_params(cond, jax.random.key(0), (2, 32, 32))
  params = jax.tree.map(lambda v: v + 0.05 * jax.random.normal(jax.random.key(2), v.shape), params)
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32))
  a, b = cond.apply(params, x, factor=3.0), cond.apply(params, x, factor=8.0)
  assert float(jnp.abs(a - b).mean()) > 1e-3
  per_image = cond.apply(params, x, factor=jnp.array([3.0, 8.0]))
  np.testing.assert_allclose(per_image[0], a[0], atol=1e-5)
  np.testing.assert_allclose(per_image[1], b[1], atol=1e-5)


def test_calling_without_the_factor_or_with_one_it_does_not_take_is_an_error():
  plain, cond = _models()
  x = jnp.zeros((1, 32, 32))
  with pytest.raises(ValueError, match="needs the factor"):
    cond.init(jax.random.key(0), x)
  with pytest.raises(ValueError, match="not conditioned"):
    plain.init(jax.random.key(0), x, factor=4.0)
