"""`between_pair` (vEMDiffuse): two neighbouring sections, a fine slice between them and its position."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import grid
from jax_iso.degrade import pairs


def _index_stack(span: int, depth: int = 4, width: int = 6) -> jnp.ndarray:
  """[depth, span, width]: every fine slice along Y holds its own index."""
  return jnp.broadcast_to(jnp.arange(span, dtype=jnp.float32)[None, :, None], (depth, span, width))


def _box_mean_index(lo: float, hi: float) -> float:
  """The mean index of fine slices [i, i + 1) over the box [lo, hi): slices cut by its ends count in part."""
  i = np.arange(int(np.floor(lo)), int(np.ceil(hi)))
  overlap = np.clip(np.minimum(i + 1, hi) - np.maximum(i, lo), 0, None)
  return float((i * overlap).sum() / overlap.sum())


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2.5, 4.0, 10.0, 3.3])
def test_sections_target_and_position_agree_with_the_section_grid(factor):
  span = pairs.between_span(factor)
  clip = _index_stack(span)
  seen = []
  for seed in range(40):
    inp, target, aux = pairs.between_pair(jax.random.key(seed), clip, factor=factor)
    assert inp.shape == (4, 6, 3) and target.shape == (4, 6)
    phase, p = float(aux["phase"]), float(aux["position"])
    j = float(target[0, 0])
    assert 0.0 <= phase < 1.0 and 0.0 <= p < 1.0 and j == round(j)
    c0 = grid.section_centre(0, factor, phase)
    c1 = grid.section_centre(1, factor, phase)
    # a box section of index slices holds the mean index of what it covers (its centre when its ends fall on
    # slice boundaries)
    np.testing.assert_allclose(np.asarray(inp[..., 0]), _box_mean_index(phase, phase + factor), atol=1e-4)
    np.testing.assert_allclose(np.asarray(inp[..., 1]), _box_mean_index(phase + factor, phase + 2 * factor),
                               atol=1e-4)
    np.testing.assert_allclose(np.asarray(inp[..., 2]), p, atol=1e-6)
    assert c0 - 1e-5 <= j < c1 and p == pytest.approx((j - c0) / factor, abs=1e-5)
    baseline = (1 - p) * np.asarray(inp[..., 0]) + p * np.asarray(inp[..., 1])
    np.testing.assert_allclose(np.asarray(aux["baseline"]), baseline, atol=1e-4)
    seen.append(p)
  assert np.ptp(seen) > 0.5 and len(set(np.round(seen, 3))) > 10     # real positions, not a fixed few


def test_too_short_a_stack_is_refused():
  with pytest.raises(ValueError, match="needs at least 9 slices"):
    pairs.between_pair(jax.random.key(0), jnp.zeros((4, 8, 6)), factor=4.0)
  assert pairs.between_span(4.0) == 9 and pairs.between_span(2.5) == 6 and pairs.between_span(10) == 21


def test_batch_fn_from_config():
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  cfg = degrade_config.between_pair(4.0)
  cfg.acquisition.order = ()
  fn = jax.jit(pairs.make_batch_fn(cfg))
  inp, target, aux = fn(jax.random.key(0), jnp.ones((3, 8, 9, 16)) * 0.5)
  assert inp.shape == (3, 8, 16, 3) and target.shape == (3, 8, 16) and aux["position"].shape == (3,)
  np.testing.assert_allclose(np.asarray(inp[..., :2]), 0.5, atol=1e-6)
