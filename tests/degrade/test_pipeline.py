"""Pipelines built from config: order, probabilities, aux, determinism, errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import config, pipeline


@pytest.fixture(scope="module")
def images():
  return jax.random.uniform(jax.random.key(0), (4, 32, 32), minval=0.2, maxval=0.8)


@pytest.mark.slow
def test_acquisition_pipeline_runs_eager_and_jitted_alike(images):
  pipe = pipeline.Pipeline.from_config(config.acquisition())
  eager, aux = pipe(jax.random.key(1), images)
  jitted, _ = jax.jit(pipe)(jax.random.key(1), images)
  # float32, two compilations (FMA, fusion, summation order) of what key 1 applies: the blur (2 x 13 multiply-adds
  # with exp-made, normalised taps, <= 5e-6), gamma (pow, a few ulp), contrast about a 1024-pixel mean (0.15 x
  # ~sqrt(1024) ulp) and shot noise (<= 1.1e-6): <= ~7e-6
  np.testing.assert_allclose(eager, jitted, atol=2e-5)
  assert eager.shape == images.shape and set(aux) == set(config.acquisition().order)
  assert float(eager.min()) >= 0.0 and float(eager.max()) <= 1.0          # clipped like a stored image


def test_probability_zero_everywhere_is_identity(images):
  cfg = config.acquisition()
  for name in cfg.order:
    cfg.ops[name].prob = 0.0
  y, aux = jax.jit(pipeline.Pipeline.from_config(cfg))(jax.random.key(2), images)
  np.testing.assert_array_equal(y, images)
  assert not any(bool(a["applied"]) for a in aux.values())


def test_ops_run_with_their_probability():
  cfg = config.pipeline_config(("gaussian_noise",))
  cfg.ops.gaussian_noise.prob = 0.3
  pipe = pipeline.Pipeline.from_config(cfg)
  _, aux = jax.jit(pipe.batched)(jax.random.key(3), jnp.full((4000, 4, 4), 0.5))
  assert abs(float(aux["gaussian_noise"]["applied"].mean()) - 0.3) < 0.03


def test_batched_draws_independently_and_is_deterministic(images):
  pipe = pipeline.Pipeline.from_config(config.pipeline_config(("gaussian_noise",)))
  same = jnp.broadcast_to(images[0], images.shape)
  a, aux = pipe.batched(jax.random.key(4), same)
  b, _ = pipe.batched(jax.random.key(4), same)
  np.testing.assert_array_equal(a, b)
  assert len(set(np.round(np.asarray(aux["gaussian_noise"]["sigma"]), 6))) == 4
  c, _ = pipe.batched(jax.random.key(5), same)
  assert float(jnp.abs(a - c).max()) > 0


def test_masks_of_ops_that_did_not_run_are_zero():
  cfg = config.pipeline_config(("fold",), clip=False)
  cfg.ops.fold.prob = 0.5
  x = jax.random.uniform(jax.random.key(6), (64, 64))
  pipe = pipeline.Pipeline.from_config(cfg)
  ys, aux = jax.jit(pipe.batched)(jax.random.key(7), jnp.broadcast_to(x, (16, 64, 64)))
  applied = np.asarray(aux["fold"]["applied"])
  assert 0 < applied.sum() < 16
  masks = np.asarray(aux["fold"]["mask"]).reshape(16, -1)
  assert np.all(masks[~applied] == 0) and np.all(masks[applied].max(axis=1) > 0)
  np.testing.assert_array_equal(np.asarray(ys)[~applied], np.broadcast_to(x, (16, 64, 64))[~applied])


@pytest.mark.parametrize("change, match", [
    (lambda c: setattr(c, "order", ("gaussian_noise", "teleport")), "unknown degradation 'teleport'"),
    (lambda c: setattr(c.ops.gaussian_noise, "prob", 1.5), "prob=1.5"),
    (lambda c: c.ops.gaussian_noise.__setitem__("sigmaa", (0.0, 0.1)), "unknown parameter.*sigmaa"),
    (lambda c: setattr(c, "order", ("axial_sections",)), "unknown degradation 'axial_sections'"),
])
def test_config_mistakes_are_value_errors(change, match):
  cfg = config.pipeline_config(("gaussian_noise",))
  change(cfg)
  with pytest.raises(ValueError, match=match):
    pipeline.Pipeline.from_config(cfg)


def test_every_registered_op_has_defaults_in_config():
  ops = config.ops()
  for name in pipeline.OPS:
    if name not in pipeline.SHAPE_CHANGING:
      assert name in ops, name
  assert ops.gaussian_blur.sigma == pipeline.op_params("gaussian_blur")["sigma"]


@pytest.mark.slow
def test_lateral_undersample_runs_in_a_pipeline(images):
  cfg = config.pipeline_config(("lateral_undersample", "gaussian_noise"))
  y, aux = pipeline.Pipeline.from_config(cfg)(jax.random.key(8), images)
  assert y.shape == images.shape and float(aux["lateral_undersample"]["phase"]) <= 4.0
