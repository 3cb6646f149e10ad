"""`between_pair` with `factors` (one vEMDiffuse model for every factor): the factor drawn per example, the two box
sections cut by a matrix of the traced factor, told to the network as a fourth channel."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import config as degrade_config
from jax_iso.degrade import grid, pairs


def _box_sections(clip: np.ndarray, factor: float, phase: float) -> np.ndarray:
  """[..., D, 2, W]: numpy, the two box sections [k s + p, (k + 1) s + p) of axis -2, fine slices cut by an edge
  weighted by their overlap."""
  out = []
  for k in range(2):
    lo, hi = k * factor + phase, (k + 1) * factor + phase
    i = np.arange(clip.shape[-2], dtype=np.float64)
    w = np.clip(np.minimum(i + 1, hi) - np.maximum(i, lo), 0, None)
    out.append(np.tensordot(clip.astype(np.float64), w / w.sum(), axes=([-2], [0])))
  return np.stack(out, axis=-2)


@pytest.mark.parametrize("jit", [False, True])
def test_a_fractional_factor_cuts_the_box_sections_numpy_computes(jit):
  """factors=(3.7, 3.7): the sections, the position channel, log s and the target agree with an independent numpy
  computation at the phase the pair drew; eagerly and under jit."""
  factor = 3.7
  clip = jax.random.uniform(jax.random.key(1), (5, pairs.between_span(factor) + 3, 7))
  make = lambda k: pairs.between_pair(k, clip, factors=(factor, factor))  # noqa: E731
  make = jax.jit(make) if jit else make
  for seed in range(6):
    inp, target, aux = make(jax.random.key(seed))
    assert inp.shape == (5, 7, 4) and target.shape == (5, 7)
    s, phase, p = float(aux["factor"]), float(aux["phase"]), float(aux["position"])
    assert s == pytest.approx(factor, rel=1e-6) and 0.0 <= phase < 1.0 and 0.0 <= p < 1.0
    sections = _box_sections(np.asarray(clip), s, phase)
    np.testing.assert_allclose(np.asarray(inp[..., 0]), sections[..., 0, :], atol=1e-5)
    np.testing.assert_allclose(np.asarray(inp[..., 1]), sections[..., 1, :], atol=1e-5)
    np.testing.assert_allclose(np.asarray(inp[..., 2]), p, atol=1e-6)
    np.testing.assert_allclose(np.asarray(inp[..., 3]), math.log(factor), atol=1e-6)
    c0 = grid.section_centre(0, s, phase)
    j = int(round(c0 + p * s))                      # the fine slice whose centre lies p sections past c0
    assert c0 - 1e-4 <= j < c0 + s
    np.testing.assert_array_equal(np.asarray(target), np.asarray(clip)[:, j, :])
    np.testing.assert_allclose(np.asarray(aux["baseline"]), (1 - p) * sections[..., 0, :] + p * sections[..., 1, :],
                               atol=1e-5)


def test_the_factor_is_drawn_per_example_across_the_range():
  clip = jnp.zeros((2, pairs.between_span(12.0), 4))
  fn = jax.jit(jax.vmap(lambda k: pairs.between_pair(k, clip, factors=(2.0, 12.0))[2]["factor"]))
  s = np.asarray(fn(jax.random.split(jax.random.key(0), 400)))
  assert s.min() >= 2.0 and s.max() <= 12.0
  assert 0.3 < np.mean(s < math.sqrt(24.0)) < 0.7       # log-uniform: half below the geometric mean
  assert np.mean(s < 4.0) == pytest.approx(np.mean(s > 6.0), abs=0.1)


def test_match_noise_restores_the_stacks_noise_level():
  """Sections of a flat stack with white noise of sigma 0.05 average it away; match_noise puts it back."""
  noisy = 0.5 + 0.05 * jax.random.normal(jax.random.key(2), (64, pairs.between_span(8.0), 64))
  inp, _, aux = pairs.between_pair(jax.random.key(3), noisy, factors=(8.0, 8.0), match_noise=True)
  assert float(aux["added_sigma"]) == pytest.approx(0.05 * math.sqrt(1 - 1 / 8), rel=0.15)
  assert float(jnp.std(inp[..., 0])) == pytest.approx(0.05, rel=0.15)
  plain, _, _ = pairs.between_pair(jax.random.key(3), noisy, factors=(8.0, 8.0))
  assert float(jnp.std(plain[..., 0])) < 0.03


def test_bad_settings_are_refused():
  with pytest.raises(ValueError, match="needs at least 25 slices"):
    pairs.between_pair(jax.random.key(0), jnp.zeros((4, 21, 6)), factors=(2.0, 12.0))
  with pytest.raises(ValueError, match="cuts box sections"):
    pairs.between_pair(jax.random.key(0), jnp.zeros((4, 25, 6)), factors=(2.0, 12.0), profile="gaussian")
  with pytest.raises(ValueError, match="factors"):
    pairs.between_pair(jax.random.key(0), jnp.zeros((4, 25, 6)), factors=(12.0, 2.0))


def test_batch_fn_and_factor_range_from_config():
  cfg = degrade_config.between_pair(4.0, (2.0, 12.0))
  cfg.acquisition.order = ()
  assert pairs.factor_range(cfg) == (2.0, 12.0) and cfg.match_noise
  assert pairs.factor_range(degrade_config.between_pair(4.0)) is None
  assert pairs.factor_range(degrade_config.any_factor_pair((2.0, 8.0))) == (2.0, 8.0)
  inp, target, aux = jax.jit(pairs.make_batch_fn(cfg))(jax.random.key(0), jnp.full((3, 8, 25, 16), 0.5))
  assert inp.shape == (3, 8, 16, 4) and target.shape == (3, 8, 16) and aux["factor"].shape == (3,)
  np.testing.assert_allclose(np.asarray(inp[..., :2]), 0.5, atol=1e-5)     # a flat stack: no noise to match
  np.testing.assert_allclose(np.asarray(inp[:, 0, 0, 3]), np.log(np.asarray(aux["factor"])), atol=1e-6)
