"""The A2I-3DEM network: shapes, configuration errors, residual start, determinism, stochastic depth."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import a2i_3dem
from jax_iso.errors import UserError
from jax_iso.models import build_model
from jax_iso.models.a2i import A2I, depth_to_space, space_to_depth

SMALL = {"name": "a2i", "width": 8, "depths": [1, 1, 1], "heads": [1, 2, 1], "window": 4}


@pytest.mark.slow
@pytest.mark.parametrize("resample", ["conv", "shuffle"])
def test_output_has_the_input_shape_and_is_float32(resample):
  model = build_model({**SMALL, "resample": resample})
  x = jax.random.uniform(jax.random.key(0), (2, 16, 24))
  params = model.init(jax.random.key(1), x)
  out = model.apply(params, x)
  assert out.shape == x.shape and out.dtype == jnp.float32
  assert model.multiple == 8


@pytest.mark.slow
def test_starts_as_the_identity_on_its_input():
  """The zero-initialised head makes the untrained network return its (interpolated) input."""
  model = build_model(SMALL)
  x = jax.random.uniform(jax.random.key(0), (1, 16, 16))
  params = model.init(jax.random.key(1), x)
  np.testing.assert_allclose(np.asarray(model.apply(params, x)), np.asarray(x), atol=1e-6)


@pytest.mark.slow
def test_same_key_same_network_and_output():
  model = build_model({**SMALL, "drop_path": 0.5})
  x = jax.random.uniform(jax.random.key(0), (8, 16, 16))
  a, b = model.init(jax.random.key(3), x), model.init(jax.random.key(3), x)
  for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
  a = jax.tree.map(lambda p: p + 0.01, a)     # a non-zero head, so the blocks matter
  run = lambda key: model.apply(a, x, train=True, rngs={"dropout": key})   # noqa: E731
  np.testing.assert_array_equal(np.asarray(run(jax.random.key(5))), np.asarray(run(jax.random.key(5))))
  assert np.abs(np.asarray(run(jax.random.key(5)) - run(jax.random.key(6)))).max() > 0


def test_stochastic_depth_rates_rise_through_the_encoder_and_mirror_in_the_decoder():
  model = A2I(width=8, depths=(1, 2, 2, 2, 1), heads=(1, 1, 1, 1, 1), drop_path=0.3)
  rates = model._rates()   # pylint: disable=protected-access
  assert len(rates) == 8
  np.testing.assert_allclose(rates[:5], np.linspace(0, 0.3, 5))
  np.testing.assert_allclose(rates[5:7], rates[1:3][::-1])      # decoder stage 3 mirrors encoder stage 1
  assert rates[7] == rates[0] == 0.0


def test_pixel_shuffle_round_trip():
  x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
  packed = space_to_depth(x)
  assert packed.shape == (2, 2, 3, 12)
  np.testing.assert_array_equal(np.asarray(packed[0, 1, 2, :3]), np.asarray(x[0, 2, 4]))
  np.testing.assert_array_equal(np.asarray(depth_to_space(packed)), np.asarray(x))


@pytest.mark.parametrize("field, value, match", [
    ("depths", [1, 1], "odd number"),
    ("heads", [1, 1], "one entry per stage"),
    ("heads", [3, 1, 1], "divide each stage"),
    ("resample", "bilinear", "must be one of conv, shuffle"),
    ("drop_path", 1.0, r"must be in \[0, 1\)"),
    ("window", 0, "window=0"),
])
def test_impossible_sizes_are_user_errors(field, value, match):
  with pytest.raises(UserError, match=match):
    build_model({**SMALL, field: value})


def test_sizes_off_the_multiple_are_refused():
  model = build_model(SMALL)
  with pytest.raises(ValueError, match="divisible by 8"):
    model.init(jax.random.key(0), jnp.zeros((1, 12, 16)))


@pytest.mark.parametrize("variant", [None, "cpu", "paper", "tiny"])
def test_every_variant_builds_a_consistent_model(variant):
  config = a2i_3dem.get_config(variant)
  model = build_model(config.model)
  assert not model.problems()
  assert config.data.crop % model.multiple == 0
  assert config.infer.margin % model.multiple == 0 or config.infer.margin >= model.window


@pytest.mark.slow
def test_paper_variant_is_uformer_b_sized():
  model = build_model(a2i_3dem.get_config("paper").model)
  params = jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 128, 128), jnp.float32))
  count = sum(np.prod(p.shape) for p in jax.tree.leaves(params))
  assert 20e6 < count < 60e6, count      # Uformer-B: 50.9 M (its decoder keeps the doubled skip width)
