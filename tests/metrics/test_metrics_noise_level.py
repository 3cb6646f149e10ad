"""noise_sigma: Donoho's Haar-MAD estimate against known noise and an independent loop."""
import numpy as np
import pytest

from jax_iso.metrics.noise_level import haar_diagonal, noise_sigma


def test_haar_diagonal_matches_an_explicit_loop():
  x = np.random.default_rng(0).normal(size=(3, 7, 9))
  hh = haar_diagonal(x)
  assert hh.shape == (3, 3, 4)
  for b in range(3):
    for i in range(3):
      for j in range(4):
        a, c = x[b, 2 * i, 2 * j], x[b, 2 * i, 2 * j + 1]
        d, e = x[b, 2 * i + 1, 2 * j], x[b, 2 * i + 1, 2 * j + 1]
        assert hh[b, i, j] == pytest.approx((a - c - d + e) / 2)


def test_smooth_images_have_no_noise_and_known_noise_is_found():
  yy, xx = np.mgrid[:256, :256] / 256.0
  smooth = 0.3 + 0.2 * xx + 0.1 * yy        # a plane: every 2x2 diagonal difference is 0
  assert noise_sigma(smooth) == pytest.approx(0.0, abs=1e-12)
  textured = 0.5 + 0.2 * np.sin(2 * np.pi * 3 * xx) * np.cos(2 * np.pi * 2 * yy)
  rng = np.random.default_rng(1)
  for sigma in (0.01, 0.05):
    noisy = textured + rng.normal(0, sigma, (4,) + textured.shape)
    assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.05)


def test_averaging_four_slices_halves_the_estimate():
  noise = np.random.default_rng(2).normal(0, 0.04, (4, 8, 128, 128))
  assert noise_sigma(noise.mean(axis=0)) == pytest.approx(noise_sigma(noise[0]) / 2, rel=0.05)


def test_images_must_be_2d():
  with pytest.raises(ValueError, match="H, W >= 2"):
    noise_sigma(np.zeros(5))
