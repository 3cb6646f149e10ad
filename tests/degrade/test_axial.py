"""Axial anisotropy simulation against independent numpy computations and its invariants."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import axial, grid


def _refined_box(x, factor, phase, m):
  """Independent box integration: repeat every fine slice m times so that s*m and phase*m are integers, then
  average consecutive runs of s*m sub-slices starting at sub-slice phase*m."""
  sub = np.repeat(np.asarray(x, np.float64), m, axis=0)
  run, start = int(round(factor * m)), int(round(phase * m))
  n = (sub.shape[0] - start) // run
  return sub[start:start + n * run].reshape((n, run) + sub.shape[1:]).mean(axis=1)


@pytest.mark.parametrize("factor,phase,m", [(4.0, 0.0, 1), (3.0, 0.0, 1), (2.5, 0.0, 2), (2.5, 1.5, 2),
                                            (3.25, 0.0, 4), (1.5, 0.5, 2), (7.0, 3.0, 1)])
def test_box_matches_refined_integration(factor, phase, m):
  x = np.random.default_rng(0).random((41, 3, 5)).astype(np.float32)
  got = axial.simulate_axial(x, factor, phase=phase)
  want = _refined_box(x, factor, phase, m)
  assert got.shape == want.shape == (grid.section_count(41, factor, phase), 3, 5)
  np.testing.assert_allclose(got, want, atol=2e-6)


def test_integer_box_is_reshape_mean():
  x = np.random.default_rng(1).random((40, 6, 7)).astype(np.float32)
  np.testing.assert_allclose(axial.simulate_axial(x, 4.0), x.reshape(10, 4, 6, 7).mean(1), atol=1e-6)


def test_factor_one_is_identity():
  x = np.random.default_rng(2).random((9, 4, 4)).astype(np.float32)
  np.testing.assert_array_equal(axial.simulate_axial(x, 1.0), x)


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2.5, 3.3, 4.0, 6.7])
def test_fractional_box_conserves_mean_intensity(factor):
  x = np.random.default_rng(3).random((100, 8)).astype(np.float32)
  sec = np.asarray(axial.simulate_axial(x, factor))
  covered = sec.shape[0] * factor                  # sections cover fine coordinates [0, n*s)
  whole = int(np.floor(covered))
  total = x[:whole].sum(0) + (covered - whole) * x[min(whole, len(x) - 1)]
  np.testing.assert_allclose(sec.sum(0) * factor, total, rtol=1e-5)


def test_gaussian_weights_centre_and_width():
  factor = 4.0
  idx, w = axial.section_weights(200, factor, profile="gaussian")
  idx, w = np.asarray(idx), np.asarray(w)
  np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
  k = 20  # interior section
  centre = (w[k] * idx[k]).sum()
  assert centre == pytest.approx(grid.section_centre(k, factor), abs=1e-4)
  sigma = np.sqrt((w[k] * (idx[k] - centre) ** 2).sum())
  assert sigma == pytest.approx(factor / axial.FWHM_PER_SIGMA, rel=0.03)  # FWHM = s (discretely sampled)


@pytest.mark.slow
def test_eager_equals_jit_and_traced_phase():
  x = np.random.default_rng(4).random((30, 5)).astype(np.float32)
  for profile in axial.PROFILES:
    eager = axial.simulate_axial(x, 2.5, profile=profile, phase=1.0)
    jitted = jax.jit(lambda v, p: axial.simulate_axial(v, 2.5, profile=profile, phase=p,
                                                       n_sections=11))(x, 1.0)
    # float32, two compilations: a section sums <= 9 taps w x (x in [0, 1]) with weights from exp and a 9-term
    # normalising sum; each of those ~20 operations may round differently (FMA, order) by <= 1.2e-7: 2.4e-6
    np.testing.assert_allclose(eager, jitted, atol=4e-6)


@pytest.mark.slow
def test_axis_and_batch_dims():
  x = np.random.default_rng(5).random((2, 3, 24, 5)).astype(np.float32)
  along = axial.simulate_axial(x, 3.0, axis=2)
  assert along.shape == (2, 3, 8, 5)
  np.testing.assert_allclose(along, x.reshape(2, 3, 8, 3, 5).mean(3), atol=1e-6)
  vm = jax.vmap(lambda v: axial.simulate_axial(v, 3.0, axis=1))(x)
  np.testing.assert_allclose(vm, along, atol=1e-6)   # two compilations: 4 taps w x <= 1 differ by <= 4 x 1.2e-7


def test_bad_arguments_raise_value_errors():
  with pytest.raises(ValueError, match="float"):
    axial.simulate_axial(np.zeros((8, 2), np.uint8), 2.0)
  with pytest.raises(ValueError, match="no complete section"):
    axial.simulate_axial(np.zeros((3, 2), np.float32), 4.0)
  with pytest.raises(ValueError, match="profile"):
    axial.simulate_axial(np.zeros((8, 2), np.float32), 2.0, profile="tent")
  with pytest.raises(ValueError, match="n_sections"):
    jax.jit(lambda p: axial.simulate_axial(jnp.zeros((8, 2)), 2.0, phase=p))(0.5)


def test_grid_counts():
  assert grid.section_count(160, 3.0) == 53 and grid.fine_count(53, 3.0) == 159
  assert grid.section_count(144, 2.5) == 57 and grid.fine_count(57, 2.5) == 143  # 142.5 rounds up
  assert grid.section_count(30, 0.1 * 3) == 100                                  # float error tolerated
  assert grid.section_centre(0, 4.0) == 1.5
