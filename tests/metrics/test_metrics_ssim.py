"""SSIM against an independent scipy implementation (Wang et al. 2004, Gaussian window, valid region)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jax_iso import metrics
from jax_iso.errors import UserError

AXES = {"xy": 0, "xz": 1, "yz": 2}  # the axis that is constant within a plane


def _ssim_scipy(pred: np.ndarray, ref: np.ndarray, orientation: str) -> float:
  """Mean over all planes of the valid SSIM map; each plane blurred on its own (sigma 0 on the plane axis)."""
  sigma = [1.5, 1.5, 1.5]
  sigma[AXES[orientation]] = 0.0
  p, r = pred.astype(np.float64), ref.astype(np.float64)

  def blur(a: np.ndarray) -> np.ndarray:
    out = ndimage.gaussian_filter(a, sigma, truncate=3.5, mode="reflect")
    valid = [slice(None) if s == 0 else slice(5, -5) for s in sigma]  # drop the padded 5-pixel borders
    return out[tuple(valid)]

  mu_p, mu_r = blur(p), blur(r)
  var_p, var_r, cov = blur(p * p) - mu_p**2, blur(r * r) - mu_r**2, blur(p * r) - mu_p * mu_r
  c1, c2 = 0.01**2, 0.03**2
  ssim_map = ((2 * mu_p * mu_r + c1) * (2 * cov + c2)) / ((mu_p**2 + mu_r**2 + c1) * (var_p + var_r + c2))
  return float(ssim_map.mean())


def _degradations(crop: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
  noisy = np.clip(crop + rng.normal(0, 0.08, crop.shape), 0, 1)
  z_blur = ndimage.gaussian_filter(crop, (2.0, 0, 0))
  blur_noise = np.clip(ndimage.gaussian_filter(crop, 1.0) + rng.normal(0, 0.03, crop.shape), 0, 1)
  return {k: v.astype(np.float32) for k, v in
          {"noise": noisy, "z_blur": z_blur, "blur_noise": blur_noise}.items()}


def test_ssim_matches_scipy_on_real_em(em_crop, rng):
  for name, pred in _degradations(em_crop, rng).items():
    got = metrics.ssim_per_orientation(pred, em_crop)
    assert set(got) == {"xy", "xz", "yz"}
    for orientation in AXES:
      expected = _ssim_scipy(pred, em_crop, orientation)
      assert got[orientation] == pytest.approx(expected, abs=1e-3), (name, orientation)


def test_axial_blur_lowers_xz_and_yz_more_than_xy(em_crop, rng):
  got = metrics.ssim_per_orientation(_degradations(em_crop, rng)["z_blur"], em_crop)
  assert got["xz"] < got["xy"] - 0.01 and got["yz"] < got["xy"] - 0.01


def test_identical_volumes_give_ssim_one(em_crop):
  ones = {"xy": 1, "xz": 1, "yz": 1}
  assert metrics.ssim_per_orientation(em_crop, em_crop) == pytest.approx(ones, abs=1e-5)


def test_ssim_is_symmetric(em_crop, rng):
  pred = _degradations(em_crop, rng)["noise"]
  a, b = metrics.ssim_per_orientation(pred, em_crop), metrics.ssim_per_orientation(em_crop, pred)
  assert a == pytest.approx(b, abs=1e-6)


def test_bad_shapes_raise_user_error(em_crop):
  with pytest.raises(UserError, match="differs"):
    metrics.ssim_per_orientation(em_crop, em_crop[1:])
  with pytest.raises(UserError, match="not 3D"):
    metrics.ssim_per_orientation(em_crop[None], em_crop[None])
  with pytest.raises(UserError, match="too small for SSIM"):
    metrics.ssim_per_orientation(em_crop[:10], em_crop[:10])
