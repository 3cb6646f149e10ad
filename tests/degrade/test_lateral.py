"""The keyed axial op (random sub-section phase) and lateral undersampling for training pairs."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import axial, lateral


def _ramp(h=64, w=8):
  return jnp.broadcast_to((0.1 + 0.01 * jnp.arange(h, dtype=jnp.float32))[:, None], (h, w))


@pytest.mark.parametrize("factor", [2.0, 2.5, 4.0, 5.3])
@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_lateral_input_is_aligned_with_target_for_every_phase(factor, method):
  """A box section of a linear ramp equals the ramp at the section centre (exactly for integer factors; within
  a twentieth of a slice for fractional ones, where a section cuts fine slices), so if sections and resampling
  agree on the drawn phase the ramp comes back (away from the edges)."""
  x = _ramp()
  op = jax.jit(jax.vmap(lambda k: lateral.lateral_undersample(k, x, factor=factor, method=method)))
  ys, aux = op(jax.random.split(jax.random.key(0), 8))
  assert ys.shape == (8,) + x.shape and ys.dtype == x.dtype
  edge = int(2 * factor) + 2
  tol = 2e-5 if factor == int(factor) else 0.01 * 0.07      # slope 0.01 per slice
  inner = slice(edge, -edge - int(factor) - 2)
  np.testing.assert_allclose(ys[:, inner], jnp.broadcast_to(x[inner], ys[:, inner].shape), atol=tol)
  assert float(aux["phase"].min()) >= 0.0 and float(aux["phase"].max()) <= factor


@pytest.mark.slow
def test_factor_one_at_phase_zero_is_identity():
  x = jax.random.uniform(jax.random.key(0), (2, 16, 12))
  y, _ = lateral.lateral_undersample(jax.random.key(1), x, factor=1.0, phase=(0.0, 0.0))
  np.testing.assert_array_equal(y, x)
  s, _ = axial.axial_sections(jax.random.key(1), x, factor=1.0, phase=(0.0, 0.0))
  np.testing.assert_array_equal(s, x)


def test_axial_sections_draws_phase_in_range_and_fixes_the_count():
  x = jnp.ones((40, 4))
  fn = jax.vmap(lambda k: axial.axial_sections(k, x, factor=4.0, axis=0, phase=(0.25, 0.75)))
  sec, aux = fn(jax.random.split(jax.random.key(0), 2000))
  phases = np.asarray(aux["phase"])
  assert sec.shape == (2000, 9, 4)                       # floor(40/4 - 0.75)
  assert phases.min() >= 1.0 and phases.max() <= 3.0
  assert phases.min() < 1.05 and phases.max() > 2.95 and abs(phases.mean() - 2.0) < 0.05
  np.testing.assert_allclose(sec, 1.0, atol=1e-6)


def test_axial_sections_matches_simulate_axial_at_the_drawn_phase():
  x = jax.random.uniform(jax.random.key(2), (3, 50, 7))
  sec, aux = axial.axial_sections(jax.random.key(3), x, factor=3.3, axis=1)
  want = axial.simulate_axial(x, 3.3, axis=1, phase=float(aux["phase"]), n_sections=sec.shape[1])
  np.testing.assert_allclose(sec, want, atol=1e-6)


@pytest.mark.slow
def test_eager_equals_jit_and_keys_matter():
  x = jax.random.uniform(jax.random.key(4), (32, 16))
  op = lambda k, v: lateral.lateral_undersample(k, v, factor=2.5)  # noqa: E731
  eager, _ = op(jax.random.key(5), x)
  jitted, _ = jax.jit(op)(jax.random.key(5), x)
  # float32, two compilations: the phase p enters the box edges k s + p (<= 32 slices, ulp 3.8e-6) and the cubic
  # coordinates (j + 0.5 - p) / s - 0.5 (<= 13, ulp 9.5e-7), which may round differently; x in [0, 1] gives slopes
  # <= 1 per slice at a box edge and <= 2 per section through the 4 cubic taps: <= ~5e-6 with the sums' rounding
  np.testing.assert_allclose(eager, jitted, atol=2e-5)
  other, _ = op(jax.random.key(6), x)
  assert float(jnp.abs(other - eager).max()) > 1e-3


@pytest.mark.slow
def test_custom_profile_matches_box_when_flat_and_integer():
  x = jax.random.uniform(jax.random.key(7), (24, 5))
  flat = axial.simulate_axial(x, 4.0, profile=(1.0, 1.0), axis=0)
  np.testing.assert_allclose(flat, axial.simulate_axial(x, 4.0, axis=0), atol=1e-6)
  peaked = axial.simulate_axial(x, 3.0, profile=(0.0, 0.0, 1.0, 0.0, 0.0), axis=0)   # only the centre slice
  np.testing.assert_allclose(peaked, x[1::3], atol=1e-6)


def test_bad_arguments():
  with pytest.raises(ValueError, match="phase"):
    axial.axial_sections(jax.random.key(0), jnp.ones((8, 8)), factor=2.0, phase=(0.5, 1.5))
  with pytest.raises(ValueError, match="no complete section"):
    axial.axial_sections(jax.random.key(0), jnp.ones((3, 8)), factor=4.0)
  with pytest.raises(ValueError, match="float"):
    lateral.lateral_undersample(jax.random.key(0), jnp.ones((8, 8), jnp.int32), factor=2.0)
  with pytest.raises(ValueError, match="custom profile"):
    axial.simulate_axial(jnp.ones((8, 2)), 2.0, profile=(1.0, -1.0))
