"""FSC against a plain numpy full-spectrum implementation; half-bit values; reading a resolution."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.signal import windows

from jax_iso import metrics
from jax_iso.errors import UserError
from jax_iso.metrics.fourier_shells import FSCResult, tukey_window


def _fsc_numpy(a, b, spacing, cone_deg=30.0, taper=0.25):
  """Full complex FFT, explicit shell and cone masks, float64: (freq, curves, counts)."""
  a, b = a.astype(np.float64), b.astype(np.float64)
  win = np.einsum("i,j,k->ijk", *(windows.tukey(n, taper) for n in a.shape))
  fa, fb = np.fft.fftn((a - a.mean()) * win), np.fft.fftn((b - b.mean()) * win)
  fz, fy, fx = np.meshgrid(*(np.fft.fftfreq(n, s) for n, s in zip(a.shape, spacing)), indexing="ij")
  r = np.sqrt(fz**2 + fy**2 + fx**2)
  width = max(1 / (n * s) for n, s in zip(a.shape, spacing))
  n_shells = int(math.floor(max(1 / (2 * s) for s in spacing) / width + 0.5)) + 1
  shell = np.floor(r / width + 0.5)
  cos = math.cos(math.radians(cone_deg))
  cones = {"all": np.ones(r.shape, bool), "z": np.abs(fz) >= cos * r, "x": np.abs(fx) >= cos * r}
  curves, counts = {}, {}
  for name, cone in cones.items():
    curve, count = np.full(n_shells, np.nan), np.zeros(n_shells, int)
    for i in range(n_shells):
      m = cone & (shell == i)
      count[i] = m.sum()
      den = np.sqrt(np.sum(np.abs(fa[m]) ** 2) * np.sum(np.abs(fb[m]) ** 2))
      if count[i] and den > 0:
        curve[i] = np.sum((fa[m] * np.conj(fb[m])).real) / den
    curves[name], counts[name] = curve, count
  return np.arange(n_shells) * width, curves, counts


@pytest.mark.parametrize("shape,spacing", [((24, 30, 27), (10.0, 10.0, 10.0)),
                                           ((16, 40, 33), (30.0, 8.0, 8.0)),
                                           ((21, 18, 26), (1.0, 1.0, 1.0))])
def test_fsc_matches_full_fft_numpy(em_uint8, rng, shape, spacing):
  a = em_uint8[50:50 + shape[0], 70:70 + shape[1], 20:20 + shape[2]].astype(np.float32) / 255
  b = np.clip(ndimage.gaussian_filter(a, (1.0, 0, 0)) + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
  got = metrics.fsc(a, b, spacing)
  freq, curves, counts = _fsc_numpy(a, b, spacing)
  np.testing.assert_allclose(got.freq, freq, rtol=1e-12)
  for name in ("all", "z", "x"):
    np.testing.assert_array_equal(got.counts[name], counts[name], err_msg=name)
    np.testing.assert_allclose(got.curves[name], curves[name], atol=1e-3, equal_nan=True, err_msg=name)
  assert got.counts["all"].sum() <= a.size and got.counts["all"].sum() > 0.5 * a.size


def test_tukey_window_matches_scipy():
  for n, taper in ((33, 0.25), (40, 0.5), (7, 1.0), (10, 0.0)):
    np.testing.assert_allclose(tukey_window(n, taper), windows.tukey(n, taper), atol=1e-6)


def test_fsc_of_a_volume_with_itself_is_one(em_crop):
  res = metrics.fsc(em_crop, em_crop, (10, 10, 10))
  for name in ("all", "z", "x"):
    finite = np.isfinite(res.curves[name])
    assert finite[1:].mean() > 0.8
    np.testing.assert_allclose(res.curves[name][finite], 1.0, atol=1e-5)
    assert res.resolution(name).limited


def test_fsc_is_symmetric_and_invariant_to_intensity_scaling(em_crop, rng):
  b = np.clip(em_crop + rng.normal(0, 0.1, em_crop.shape), 0, 1).astype(np.float32)
  ab, ba = metrics.fsc(em_crop, b), metrics.fsc(b, em_crop)
  scaled = metrics.fsc(3.0 * em_crop + 0.2, 0.5 * b)
  for name in ("all", "z", "x"):
    np.testing.assert_allclose(ab.curves[name], ba.curves[name], atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ab.curves[name], scaled.curves[name], atol=1e-4, equal_nan=True)


def test_halfbit_threshold_values():
  np.testing.assert_allclose(metrics.halfbit_threshold(1), 1.0, atol=1e-4)  # 2.1173 / 2.1173
  n = np.array([4.0, 100.0, 1e12])
  expected = (0.2071 + 1.9102 / np.sqrt(n)) / (1.2071 + 0.9102 / np.sqrt(n))
  np.testing.assert_allclose(metrics.halfbit_threshold(n), expected, rtol=1e-12)
  np.testing.assert_allclose(metrics.halfbit_threshold(100), 0.39812 / 1.29812, rtol=1e-4)
  assert metrics.halfbit_threshold(1e12) == pytest.approx(0.2071 / 1.2071, rel=1e-5)
  assert np.isnan(metrics.halfbit_threshold(0))


def _result(curve: np.ndarray, halfbit: np.ndarray | None = None, nyquist: float = 0.5) -> FSCResult:
  freq = np.arange(curve.size) * 0.05
  hb = np.full(curve.size, 0.3) if halfbit is None else halfbit
  return FSCResult(freq=freq, curves={"all": curve, "z": curve, "x": curve},
                   counts={k: np.full(curve.size, 100) for k in ("all", "z", "x")},
                   halfbit={k: hb for k in ("all", "z", "x")},
                   nyquist={"all": nyquist, "z": nyquist, "x": 0.2},
                   spacing=(1.0, 1.0, 1.0), cone_deg=30.0)


def test_resolution_interpolates_the_first_crossing():
  curve = np.array([1.0, 0.9, 0.8, 0.5, 0.2, 0.1, 0.3, 0.0, 0.0, 0.0, 0.0])  # 1/7 crossed in shell 4 -> 5
  r = _result(curve).resolution("all", "1/7")
  f = 0.20 + (0.2 - 1 / 7) / (0.2 - 0.1) * 0.05
  assert not r.limited
  assert r.frequency == pytest.approx(f) and r.resolution == pytest.approx(1 / f)
  r = _result(curve).resolution("all", "halfbit")  # half-bit at 0.3: shell 3 (0.5) -> shell 4 (0.2)
  assert r.frequency == pytest.approx(0.15 + (0.5 - 0.3) / 0.3 * 0.05)


def test_resolution_skips_dc_and_reports_nyquist_limited():
  dip = np.array([1.0, 0.05, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.2])  # shell 1 dips: ignored
  r = _result(dip).resolution("all")
  assert r.limited and r.frequency == pytest.approx(0.5) and r.resolution == pytest.approx(2.0)
  assert str(r) == "<=2"
  late = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.05, 0.0, 0.0, 0.0, 0.0])  # crosses after x's Nyquist
  r = _result(late).resolution("x")
  assert r.limited and r.resolution == pytest.approx(5.0)
  assert not _result(late).resolution("z").limited


def test_resolution_rejects_unknown_names(em_crop):
  res = metrics.fsc(em_crop, em_crop)
  with pytest.raises(UserError, match="direction"):
    res.resolution("y")
  with pytest.raises(UserError, match="criterion"):
    res.resolution("z", "fsc0.5")


def test_fsc_bad_input_raises_user_error(em_crop):
  with pytest.raises(UserError, match="differs"):
    metrics.fsc(em_crop, em_crop[:, :, 1:])
  with pytest.raises(UserError, match="spacing"):
    metrics.fsc(em_crop, em_crop, (10, 10))
  with pytest.raises(UserError, match="cone_deg"):
    metrics.fsc(em_crop, em_crop, cone_deg=120)
