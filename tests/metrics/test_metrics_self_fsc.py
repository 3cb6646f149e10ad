"""Reference-free directional resolution from the odd/even Y rows of one volume."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from jax_iso import metrics
from jax_iso.errors import UserError


def test_white_noise_gives_fsc_near_zero(rng):
  res = metrics.self_fsc(rng.random((48, 64, 40), dtype=np.float32))
  for name in ("all", "z", "x"):
    curve, count = res.curves[name][2:], res.counts[name][2:]
    keep = np.isfinite(curve)
    assert np.all(np.abs(curve[keep]) < 5 / np.sqrt(count[keep])), name  # a few sigma of pure chance
    assert abs(np.nanmean(curve)) < 0.05


def test_band_limited_volume_gives_fsc_near_one(rng):
  shape = (48, 64, 40)
  freqs = np.meshgrid(*(np.fft.fftfreq(n) for n in shape), indexing="ij")
  band = np.sqrt(sum(f**2 for f in freqs)) < 0.2  # cycles per voxel
  smooth = np.fft.ifftn(np.fft.fftn(rng.normal(size=shape)) * band).real.astype(np.float32)
  res = metrics.self_fsc(smooth)
  for name in ("all", "z", "x"):
    inside = (res.freq > 0) & (res.freq < 0.15) & np.isfinite(res.curves[name])
    assert np.all(res.curves[name][inside] > 0.95), name


def test_half_voxel_shift_is_compensated(rng):
  """Without undoing the Y offset of the odd rows, a smooth volume decorrelates at high frequency."""
  shape = (32, 64, 32)
  freqs = np.meshgrid(*(np.fft.fftfreq(n) for n in shape), indexing="ij")
  smooth = np.fft.ifftn(np.fft.fftn(rng.normal(size=shape)) * (np.sqrt(sum(f**2 for f in freqs)) < 0.2)).real
  vol = smooth.astype(np.float32)
  plain = metrics.fsc(vol[:, 0::2], vol[:, 1::2], (1.0, 2.0, 1.0))
  shifted = metrics.self_fsc(vol)
  band = (shifted.freq > 0.08) & (shifted.freq < 0.15)
  assert np.nanmean(shifted.curves["all"][band]) > 0.99
  assert np.nanmean(plain.curves["all"][band]) < 0.95


def test_real_isotropic_volume_has_matching_z_and_x_resolution(em_uint8):
  res = metrics.self_fsc(em_uint8.astype(np.float32) / 255, (10, 10, 10))
  for criterion in ("1/7", "halfbit"):
    z, x = res.resolution("z", criterion), res.resolution("x", criterion)
    assert z.resolution == pytest.approx(x.resolution, rel=0.15), criterion
    assert z.resolution < 30 and x.resolution < 30


def test_axial_blur_with_noise_after_it_worsens_z_only(em_uint8):
  """Blur along Z, then 8-bit quantisation (noise added after the blur, as in acquisition)."""
  blurred = ndimage.gaussian_filter(em_uint8.astype(np.float32), (3.0, 0, 0))
  vol = np.round(blurred) / 255
  res = metrics.self_fsc(vol, (10, 10, 10))
  z, x = res.resolution("z"), res.resolution("x")
  assert not z.limited
  assert z.resolution > 1.8 * x.resolution


def test_self_fsc_needs_rows(em_crop):
  with pytest.raises(UserError, match="Y rows"):
    metrics.self_fsc(em_crop[:, :3])
