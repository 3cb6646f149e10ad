"""Sections of any factor as matrices: the same numbers as the static-factor ops, for drawn factors and phases."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import any_factor, axial, resample
from jax_iso.metrics.noise_level import noise_sigma


@pytest.mark.parametrize("factor,phase", [(2.0, 0.0), (2.5, 1.3), (4.0, 3.9), (7.3, 0.2), (12.0, 5.0)])
@pytest.mark.parametrize("method", ["linear", "cubic"])
def test_matrices_equal_simulate_axial_and_resample(factor, phase, method):
  rng = np.random.default_rng(0)
  patch = rng.random((96, 20)).astype(np.float32)
  n_rows = any_factor.max_sections(96, 2.0)
  cut = jax.jit(any_factor.cut_matrix, static_argnums=(0, 1))(96, n_rows, jnp.float32(factor), jnp.float32(phase))
  back = jax.jit(any_factor.back_matrix, static_argnums=(0, 1, 4))(96, n_rows, jnp.float32(factor),
                                                                   jnp.float32(phase), method)
  sections = np.asarray(axial.simulate_axial(jnp.asarray(patch), factor, phase=phase, axis=0))
  n = len(sections)
  np.testing.assert_allclose((cut @ patch)[:n], sections, atol=2e-6)       # float32 sums of <= 13 terms
  assert not np.asarray(cut)[n:].any()                                      # rows beyond are zero
  expected = np.asarray(resample.resample(jnp.asarray(sections), factor, method, axis=0, phase=phase, n_out=96))
  # weights from float32 section coordinates (q < 48: float32 spacing 4e-6) against resample's float64 ones
  np.testing.assert_allclose(back @ (cut @ patch), expected, atol=1e-5)


def test_pair_draws_its_factor_and_matches_the_patch_noise():
  rng = np.random.default_rng(1)
  patch = jnp.asarray(0.5 + 0.05 * rng.standard_normal((128, 128)), jnp.float32)   # white noise alone
  keys = jax.random.split(jax.random.key(0), 64)
  pair = jax.jit(jax.vmap(lambda k, x: any_factor.any_factor_pair(k, x, factors=(2.0, 12.0))), )
  inp, target, aux = pair(keys, jnp.broadcast_to(patch, (64, 128, 128)))
  s = np.asarray(aux["factor"])
  assert inp.shape == target.shape == (64, 128, 128) and 2.0 <= s.min() and s.max() <= 12.0
  assert np.mean(s < np.sqrt(24.0)) == pytest.approx(0.5, abs=0.2)         # log-uniform: median sqrt(2 * 12)
  np.testing.assert_allclose(aux["added_sigma"], noise_sigma(np.asarray(patch)) * np.sqrt(1 - 1 / s), rtol=1e-4)
  same, _, _ = pair(keys, jnp.broadcast_to(patch, (64, 128, 128)))
  np.testing.assert_array_equal(inp, same)                                  # keyed: same key, same pair
