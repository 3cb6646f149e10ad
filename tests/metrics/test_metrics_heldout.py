"""validate's scoring: held-out sections integrated from the fine grid, and their PSNR / SSIM / FRC."""
from __future__ import annotations

import numpy as np
import pytest

from jax_iso.metrics import heldout
from jax_iso.metrics.signal_to_noise import psnr_db


def _heldout_numpy(fine: np.ndarray, factor: float, n: int) -> np.ndarray:
  """Held-out section j (between kept j and j + 1 at factor 2s) = mean of the fine slices over
  [(j + 1) 2s - s/2, (j + 1) 2s + s/2), each slice i = [i, i + 1) weighted by its overlap with that interval."""
  out = []
  for j in range(n):
    lo = (j + 1) * 2 * factor - factor / 2
    hi = lo + factor
    acc = np.zeros(fine.shape[1:])
    for i in range(fine.shape[0]):
      overlap = max(0.0, min(hi, i + 1) - max(lo, i))
      acc += overlap * fine[i]
    out.append(acc / factor)
  return np.stack(out)


@pytest.mark.parametrize("factor,n_kept", [(2.0, 4), (2.5, 5), (4.3, 3), (10.0, 3)])
def test_integration_matches_numpy(rng, factor, n_kept):
  n_fine = int(np.floor(n_kept * 2 * factor + 0.5 + 1e-9))   # the section grid's round(N * 2s)
  fine = rng.random((n_fine, 5, 6), dtype=np.float32)
  got = heldout.integrate_heldout(fine, factor, n_kept - 1)
  np.testing.assert_allclose(got, _heldout_numpy(fine.astype(np.float64), factor, n_kept - 1), atol=1e-5)


def test_integration_reads_through_to_unit_and_lazily(rng):
  fine = rng.integers(0, 256, (30, 4, 4), dtype=np.uint8)
  got = heldout.integrate_heldout(fine, 3.0, 4, to_unit=lambda b: b.astype(np.float32) / 255)
  np.testing.assert_allclose(got, _heldout_numpy(fine / 255.0, 3.0, 4), atol=1e-6)
  with pytest.raises(ValueError, match="hold"):
    heldout.integrate_heldout(fine[:20], 3.0, 4)


def test_scores_against_numpy(rng):
  real = rng.random((3, 40, 48), dtype=np.float32)
  pred = np.clip(real + 0.05 * rng.standard_normal(real.shape), 0, 1).astype(np.float32)
  out = heldout.section_scores(pred, real, (4.0, 4.0))
  assert out["psnr"] == pytest.approx(float(psnr_db(np.mean((pred.astype(np.float64) - real) ** 2))), abs=1e-4)
  assert 0 < out["ssim"] < 1
  same = heldout.section_scores(real, real, (4.0, 4.0))
  assert same["psnr"] == 100.0 and same["ssim"] == pytest.approx(1.0, abs=1e-6)
  assert same["frc_limited"] and same["frc_resolution"] == pytest.approx(8.0)   # Nyquist: 2 x 4 nm


def test_frc_curve_matches_numpy(rng):
  a = rng.random((2, 32, 36), dtype=np.float32)
  b = (a + 0.5 * rng.random(a.shape)).astype(np.float32)
  freq, curve, nyquist = heldout.frc(a, b, (1.0, 1.0), taper=0.0)
  fa = np.fft.fft2(a - a.mean(axis=(1, 2), keepdims=True))
  fb = np.fft.fft2(b - b.mean(axis=(1, 2), keepdims=True))
  fy, fx = np.meshgrid(np.fft.fftfreq(32), np.fft.fftfreq(36), indexing="ij")
  ring = np.floor(np.hypot(fy, fx) / (1 / 32) + 0.5).astype(int)
  for k in range(2, len(freq)):
    m = np.broadcast_to(ring == k, fa.shape)
    expected = np.sum((fa * fb.conj()).real[m]) / np.sqrt(np.sum(np.abs(fa[m]) ** 2) * np.sum(np.abs(fb[m]) ** 2))
    assert curve[k] == pytest.approx(expected, abs=1e-4)
  assert nyquist == 0.5


def test_blurrier_prediction_has_coarser_frc(rng):
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  real = ndimage.gaussian_filter(rng.random((4, 64, 64)), (0, 1, 1)).astype(np.float32)
  sharp = heldout.section_scores(real + 0.02 * rng.standard_normal(real.shape).astype(np.float32), real)
  blurred = heldout.section_scores(ndimage.gaussian_filter(real, (0, 3, 3)), real)
  assert blurred["frc_resolution"] > sharp["frc_resolution"] and blurred["psnr"] < sharp["psnr"]
