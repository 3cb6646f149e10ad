"""K samples in one batch, and their mean, spread and flags."""
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.diffusion import uncertainty


def test_identical_samples_have_zero_uncertainty_and_no_flags():
  x = jnp.asarray(np.random.default_rng(0).random((2, 8, 8)), jnp.float32)
  mean, std, flags = uncertainty.summarize(jnp.stack([x] * 5), threshold=0.0)
  np.testing.assert_array_equal(np.asarray(mean), np.asarray(x))
  assert float(jnp.abs(std).max()) == 0.0 and not bool(flags.any())


def test_mean_std_and_flags_against_numpy():
  s = np.random.default_rng(1).random((6, 3, 16, 16)).astype(np.float32) * 0.5
  mean, std, flags = (np.asarray(a) for a in uncertainty.summarize(jnp.asarray(s), threshold=0.12))
  np.testing.assert_allclose(mean, s.mean(0), atol=1e-6)
  np.testing.assert_allclose(std, s.std(0), atol=1e-6)            # numpy's std (ddof=0), as the paper
  np.testing.assert_array_equal(flags, s.std(0) > 0.12)
  assert 0 < flags.mean() < 1


def test_repeat_then_unrepeat_lays_out_k_copies():
  x = jnp.arange(12.0).reshape(3, 4)
  r = uncertainty.repeat(x, 4)
  assert r.shape == (12, 4)
  np.testing.assert_array_equal(np.asarray(uncertainty.unrepeat(r, 4)), np.stack([np.asarray(x)] * 4))
  assert uncertainty.repeat(x, 1) is x


def test_fewer_than_two_samples_is_an_error():
  with pytest.raises(ValueError, match="at least 2 samples"):
    uncertainty.summarize(jnp.zeros((1, 4, 4)))
  with pytest.raises(ValueError, match="not 3 samples"):
    uncertainty.unrepeat(jnp.zeros((4, 2)), 3)
