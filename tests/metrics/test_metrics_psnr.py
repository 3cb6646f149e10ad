"""PSNR against plain numpy float64."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jax_iso import metrics
from jax_iso.errors import UserError


def _psnr64(mse: np.ndarray) -> np.ndarray:
  return 10 * np.log10(1 / np.maximum(mse, 1e-10))


def _noisy(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  blurred = ndimage.gaussian_filter(crop, (1.5, 0, 0))  # a typical axial degradation
  return np.clip(blurred + rng.normal(0, 0.05, crop.shape), 0, 1).astype(np.float32)


def test_psnr_matches_numpy_float64(em_crop, rng):
  pred = _noisy(em_crop, rng)
  err2 = (pred.astype(np.float64) - em_crop.astype(np.float64)) ** 2
  assert metrics.psnr(pred, em_crop) == pytest.approx(float(_psnr64(err2.mean())), abs=1e-4)


def test_psnr_per_orientation_matches_numpy_float64(em_crop, rng):
  pred = _noisy(em_crop, rng)
  err2 = (pred.astype(np.float64) - em_crop.astype(np.float64)) ** 2
  expected = {"xy": _psnr64(err2.mean(axis=(1, 2))).mean(),  # planes z = const
              "xz": _psnr64(err2.mean(axis=(0, 2))).mean(),  # planes y = const
              "yz": _psnr64(err2.mean(axis=(0, 1))).mean()}  # planes x = const
  got = metrics.psnr_per_orientation(pred, em_crop)
  assert set(got) == {"xy", "xz", "yz"}
  for k, v in expected.items():
    assert got[k] == pytest.approx(float(v), abs=1e-4), k


def test_identical_volumes_hit_the_100_db_cap(em_crop):
  assert metrics.psnr(em_crop, em_crop) == pytest.approx(100.0)
  assert metrics.psnr_per_orientation(em_crop, em_crop) == pytest.approx({"xy": 100, "xz": 100, "yz": 100})


def test_one_perfect_plane_is_capped_not_infinite(em_crop, rng):
  pred = _noisy(em_crop, rng)
  pred[3] = em_crop[3]
  err2 = (pred.astype(np.float64) - em_crop.astype(np.float64)) ** 2
  got = metrics.psnr_per_orientation(pred, em_crop)["xy"]
  assert np.isfinite(got)
  assert got == pytest.approx(float(_psnr64(err2.mean(axis=(1, 2))).mean()), abs=1e-4)


def test_psnr_is_symmetric(em_crop, rng):
  pred = _noisy(em_crop, rng)
  assert metrics.psnr(pred, em_crop) == metrics.psnr(em_crop, pred)


def test_mismatched_shapes_raise_user_error(em_crop):
  with pytest.raises(UserError, match="differs"):
    metrics.psnr(em_crop, em_crop[:, :-1])
  with pytest.raises(UserError, match="not 3D"):
    metrics.psnr_per_orientation(em_crop[0], em_crop[0])
