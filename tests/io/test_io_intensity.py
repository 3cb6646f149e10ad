"""Intensity windows: exact integer round trips, percentiles, numpy and jax inputs."""
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile

from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io import intensity


def test_uint8_round_trip_is_exact():
  window = io.intensity_of(np.zeros((1, 1, 1), np.uint8))
  assert window == io.Intensity(0.0, 255.0, np.dtype(np.uint8))
  x = np.arange(256, dtype=np.uint8).reshape(4, 8, 8)
  unit = window.to_unit(x)
  assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
  back = window.from_unit(unit)
  assert back.dtype == np.uint8
  np.testing.assert_array_equal(back, x)


def test_uint16_round_trip_is_exact():
  window = io.intensity_of(np.zeros((1, 1, 1), np.uint16))
  assert (window.lo, window.hi) == (0.0, 65535.0)
  x = np.arange(0, 65536, dtype=np.uint16).reshape(16, 64, 64)
  np.testing.assert_array_equal(window.from_unit(window.to_unit(x)), x)


def test_from_unit_clips_and_rounds_half_to_even_for_integers():
  window = io.Intensity(0, 10, np.uint8)
  np.testing.assert_array_equal(window.from_unit([-0.5, 0.05, 0.15, 0.25, 1.7, np.nan]), [0, 0, 2, 2, 10, 0])


def test_float_window_is_unclipped():
  window = io.Intensity(-1.0, 3.0, np.float32)
  y = np.array([-0.5, 0.0, 0.5, 2.0], np.float32)
  np.testing.assert_allclose(window.from_unit(y), [-3.0, -1.0, 1.0, 7.0])
  np.testing.assert_allclose(window.to_unit(np.array([-3.0, 7.0])), [-0.5, 2.0])


def test_to_unit_on_jax_arrays_stays_jax():
  window = io.Intensity(10.0, 20.0, np.uint8)
  out = window.to_unit(jnp.array([10, 15, 30], jnp.uint8))
  assert isinstance(out, type(jnp.zeros(1))) and out.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(out), [0.0, 0.5, 2.0])
  np.testing.assert_array_equal(window.from_unit(out * 0.5), [10, 12, 20])  # 12.5 rounds to even


def test_float_dtype_mode():
  assert io.intensity_of(np.full((2, 2, 2), 0.5, np.float32)) == io.Intensity(0.0, 1.0, np.float32)
  data = np.linspace(-2, 5, 27, dtype=np.float32).reshape(3, 3, 3)
  assert io.intensity_of(data) == io.Intensity(-2.0, 5.0, np.float32)


def test_percentile_mode_matches_numpy_on_a_volume_source(tmp_path):
  data = np.random.default_rng(0).gamma(2.0, 300.0, (20, 64, 64)).astype(np.uint16)
  path = tmp_path / "g.tif"
  tifffile.imwrite(path, data, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    window = io.intensity_of(src, mode="percentile", percentiles=(1, 99))
  lo, hi = np.percentile(data, [1, 99])
  assert (window.lo, window.hi, window.dtype) == (lo, hi, np.dtype(np.uint16))


def test_percentile_mode_subsamples_big_volumes_deterministically(monkeypatch):
  monkeypatch.setattr(intensity, "_SUBSAMPLE_VOXELS", 1000)
  data = np.random.default_rng(1).random((30, 40, 50)).astype(np.float32)
  steps = intensity.subsample_steps(data.shape, 1000)
  sample = data[tuple(slice(None, None, s) for s in steps)]
  assert sample.size <= 1000 and sample.size > 300
  window = io.intensity_of(data, mode="percentile")
  assert (window.lo, window.hi) == tuple(np.percentile(sample, [0.1, 99.9]))
  assert io.intensity_of(data, mode="percentile") == window


def test_constant_volume_gets_a_unit_wide_window():
  assert io.intensity_of(np.full((2, 3, 4), 7, np.uint8), mode="percentile") == io.Intensity(7, 8, np.uint8)


def test_works_on_jax_arrays():
  data = jnp.arange(60, dtype=jnp.float32).reshape(3, 4, 5)
  window = io.intensity_of(data, mode="percentile", percentiles=(0, 100))
  assert (window.lo, window.hi) == (0.0, 59.0)


def test_unknown_mode_and_bad_percentiles():
  with pytest.raises(UserError, match="intensity mode 'minmax' is unknown; use 'dtype' or 'percentile'"):
    io.intensity_of(np.zeros((1, 1, 1), np.uint8), mode="minmax")
  with pytest.raises(UserError, match="percentiles"):
    io.intensity_of(np.zeros((1, 1, 1), np.uint8), mode="percentile", percentiles=(99, 1))
