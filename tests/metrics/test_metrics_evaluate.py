"""`evaluate` / `evaluate_reference_free`: slab-chunked results, lazy inputs, JSON output, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from jax_iso import metrics
from jax_iso.errors import UserError


def _to_unit(block: np.ndarray) -> np.ndarray:
  return block.astype(np.float32) / 255


class LazyVolume:
  """An array-like that only supports .shape and slicing, and records the largest block read."""

  def __init__(self, data: np.ndarray):
    self._data, self.shape, self.dtype, self.largest_read = data, data.shape, data.dtype, 0

  def __getitem__(self, index):
    block = np.array(self._data[index])
    self.largest_read = max(self.largest_read, block.size)
    return block


@pytest.fixture
def pair(em_uint8, rng) -> tuple[np.ndarray, np.ndarray]:
  """(prediction, reference) uint8 [45, 40, 36]: the reference blurred along Z, with noise."""
  ref = np.ascontiguousarray(em_uint8[110:155, 30:70, 120:156])
  pred = ndimage.gaussian_filter(ref.astype(np.float32), (1.5, 0.5, 0.5)) + rng.normal(0, 8, ref.shape)
  return np.clip(np.round(pred), 0, 255).astype(np.uint8), ref


@pytest.mark.parametrize("slab", [1, 7, 16, 200])
def test_slab_chunked_equals_whole_volume(pair, slab):
  pred, ref = pair
  p, r = _to_unit(pred), _to_unit(ref)
  out = metrics.evaluate(pred, ref, pred_to_unit=_to_unit, ref_to_unit=_to_unit, slab=slab, progress=False)
  # float32 per-plane sums compiled for each slab's shape, in other orders: squared errors over <= 40 voxels
  # (<= 2 x 40 x 6e-8 relative, x 10 / ln 10: 2.1e-5 dB); SSIM maps over <= 36 x 30 pixels (a long sum's rounding
  # grows as sqrt(n): ~sqrt(1080) x 6e-8 = 2e-6 relative)
  assert out["psnr"] == pytest.approx(metrics.psnr(p, r), abs=5e-5)
  for k, v in metrics.psnr_per_orientation(p, r).items():
    assert out[f"psnr_{k}"] == pytest.approx(v, abs=5e-5), k
  for k, v in metrics.ssim_per_orientation(p, r).items():
    assert out[f"ssim_{k}"] == pytest.approx(v, abs=1e-5), k


def test_lazy_and_memmap_inputs_are_read_in_bounded_blocks(pair, tmp_path):
  pred, ref = pair
  mm = np.memmap(tmp_path / "ref.raw", dtype=np.uint8, mode="w+", shape=ref.shape)
  mm[:] = ref
  lazy = LazyVolume(pred)
  kwargs = {"spacing": (10, 10, 10), "pred_to_unit": _to_unit, "ref_to_unit": _to_unit, "slab": 8,
            "fsc_max_size": 32, "progress": False}
  out = metrics.evaluate(lazy, mm, **kwargs)
  assert out == metrics.evaluate(pred, ref, **kwargs)
  assert lazy.largest_read <= max((8 + 10) * 40 * 36, 32**3) < pred.size
  assert out["fsc_crop"] == [32, 32, 32] and "crop" in out["fsc_note"]


def test_result_is_strict_json_with_the_documented_keys(pair):
  pred, ref = pair
  out = metrics.evaluate(pred, ref, spacing=(30, 10, 10), pred_to_unit=_to_unit, ref_to_unit=_to_unit,
                         progress=False)
  text = json.dumps(out, allow_nan=False)
  assert json.loads(text) == out
  for key in ("shape", "spacing_nm", "psnr", "psnr_xy", "psnr_xz", "psnr_yz", "ssim_xy", "ssim_xz", "ssim_yz",
              "resolution_nm", "resolution_limited", "fsc", "fsc_crop"):
    assert key in out, key
  assert out["shape"] == [45, 40, 36] and out["spacing_nm"] == [30, 10, 10]
  assert out["resolution_units"] == "nm" and out["fsc_crop"] == [45, 40, 36]
  assert set(out["resolution_nm"]) == {"all", "z", "x", "all_halfbit", "z_halfbit", "x_halfbit"}
  assert set(out["resolution_limited"]) == set(out["resolution_nm"])
  n = len(out["fsc"]["freq_per_nm"])
  assert all(len(out["fsc"][k]) == n for k in ("all", "z", "x", "halfbit_all", "halfbit_z", "halfbit_x"))
  assert out["resolution_nm"]["z"] >= 2 * 30 * (1 - 1e-9)  # never finer than the Z Nyquist resolution


def test_without_spacing_resolutions_are_in_voxels(pair):
  pred, ref = (_to_unit(v) for v in pair)  # already in [0, 1]: the default float32 cast is enough
  out = metrics.evaluate(pred, ref, progress=False)
  assert out["spacing_nm"] is None and out["resolution_units"] == "voxels"
  assert out["resolution_nm"]["x"] >= 2.0 and out["fsc"]["nyquist_x"] == pytest.approx(0.5)


def test_axial_blur_gives_worse_z_than_x_resolution(em_uint8):
  ref = em_uint8[:96, :128, :128]
  pred = ndimage.gaussian_filter(ref.astype(np.float32), (3.0, 0, 0)).round().astype(np.uint8)
  out = metrics.evaluate(pred, ref, spacing=(10, 10, 10), pred_to_unit=_to_unit, ref_to_unit=_to_unit,
                         progress=False)
  res, limited = out["resolution_nm"], out["resolution_limited"]
  assert not limited["z"] and res["z"] > 2 * res["x"]
  assert res["z_halfbit"] > 2 * res["x_halfbit"]
  assert out["psnr_xz"] < out["psnr_xy"] and out["ssim_xz"] < out["ssim_xy"]


def test_reference_free_evaluation(em_uint8):
  vol = em_uint8[:64, :96, :80]
  out = metrics.evaluate_reference_free(vol, spacing=(10, 10, 10), to_unit=_to_unit)
  json.dumps(out, allow_nan=False)
  assert out["reference_free"] and out["shape"] == [64, 96, 80]
  assert out["anisotropy"] == pytest.approx(out["resolution_nm"]["z"] / out["resolution_nm"]["x"])
  assert 0.8 < out["anisotropy"] < 1.25
  free = metrics.spectral_resolution(vol.astype(np.float32) / 255, (10, 10, 10))
  assert out["resolution_nm"]["z"] == pytest.approx(free.resolution("z").resolution, rel=1e-6)
  assert set(out["spectrum"]) >= {"freq_per_nm", "power_z", "floor_z", "plateau_x", "nyquist_x"}
  own = metrics.self_fsc(vol.astype(np.float32) / 255, (10, 10, 10))   # kept, with what it measures
  assert out["self_fsc"]["resolution_nm"]["z"] == pytest.approx(own.resolution("z").resolution, rel=1e-6)
  assert "raw acquisition" in out["self_fsc"]["note"] and "fsc" not in out


def test_bad_input_raises_one_line_user_errors(pair):
  pred, ref = pair
  cases = [("differs", lambda: metrics.evaluate(pred[:, :-2], ref, progress=False)),
           ("pred_to_unit", lambda: metrics.evaluate(pred, ref, progress=False)),  # uint8 without a mapping
           ("not 3D", lambda: metrics.evaluate(pred[0], ref[0], progress=False)),
           ("pred_to_unit", lambda: metrics.evaluate(pred, ref, pred_to_unit=lambda b: b[0], progress=False)),
           ("slab", lambda: metrics.evaluate(pred, ref, slab=0, progress=False)),
           ("fsc_max_size", lambda: metrics.evaluate(pred, ref, fsc_max_size=4, progress=False)),
           ("spacing", lambda: metrics.evaluate_reference_free(ref, spacing=(0, 1, 1)))]
  for match, call in cases:
    with pytest.raises(UserError, match=match) as info:
      call()
    assert "\n" not in str(info.value)
