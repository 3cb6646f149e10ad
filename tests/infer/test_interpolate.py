"""Interpolation baselines against independent computations (np.interp, jax.image, a direct Keys sum)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso import infer, io
from jax_iso.degrade import grid, simulate_axial


def _fine_positions(n_sec, factor):
  """Position of each output slice in section-index units (output slice j is fine slice j)."""
  n_out = grid.fine_count(n_sec, factor)
  return (np.arange(n_out) - grid.section_centre(0, factor)) / factor


@pytest.mark.parametrize("factor", [2.0, 2.5, 3.0, 4.0, 7.3])
def test_linear_matches_np_interp(factor):
  sec = np.random.default_rng(0).random((13, 4)).astype(np.float32)
  got = np.asarray(infer.resample_z(sec, factor, "linear"))
  pos = _fine_positions(13, factor)
  want = np.stack([np.interp(pos, np.arange(13), sec[:, c]) for c in range(4)], axis=1)
  assert got.shape == (grid.fine_count(13, factor), 4)
  np.testing.assert_allclose(got, want, atol=1e-5)


def _keys_direct(sec, pos, a=-0.5):
  """Direct cubic convolution sum with edge replication (no weight tables)."""
  out = np.zeros((len(pos),) + sec.shape[1:])
  for j, q in enumerate(pos):
    for k in range(int(np.floor(q)) - 1, int(np.floor(q)) + 3):
      t = abs(q - k)
      wk = ((a + 2) * t**3 - (a + 3) * t**2 + 1) if t <= 1 else (a * (t**3 - 5 * t**2 + 8 * t - 4) if t < 2 else 0)
      out[j] += wk * sec[min(max(k, 0), len(sec) - 1)]
  return out


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2.5, 3.0, 4.0])
def test_cubic_matches_direct_sum_and_jax_image(factor):
  sec = np.random.default_rng(1).random((12, 3)).astype(np.float32)
  got = np.asarray(infer.resample_z(sec, factor, "cubic"))
  np.testing.assert_allclose(got, _keys_direct(sec.astype(np.float64), _fine_positions(12, factor)), atol=1e-5)
  n_out = got.shape[0]
  ref = jax.image.scale_and_translate(jnp.asarray(sec), (n_out, 3), (0,), jnp.array([factor]),
                                      jnp.array([0.0]), "cubic", antialias=False)
  interior = slice(int(2 * factor) + 1, n_out - int(2 * factor) - 1)   # away from edge handling
  np.testing.assert_allclose(got[interior], np.asarray(ref)[interior], atol=1e-5)


def test_cubic_reproduces_quadratics_in_the_interior():
  factor = 3.0
  k = np.arange(20, dtype=np.float64)
  centres = grid.section_centre(k, factor)
  sec = (0.3 + 0.02 * centres - 0.0007 * centres**2).astype(np.float32)
  got = np.asarray(infer.resample_z(sec, factor, "cubic"))
  j = np.arange(got.shape[0])
  want = 0.3 + 0.02 * j - 0.0007 * j**2
  np.testing.assert_allclose(got[6:-6], want[6:-6], atol=2e-6)


def test_constant_is_preserved_everywhere():
  for method in infer.INTERPOLATION_METHODS:
    out = infer.resample_z(np.full((5, 2, 2), 0.37, np.float32), 2.5, method)
    np.testing.assert_allclose(out, 0.37, atol=1e-6)


def test_simulate_then_reconstruct_recovers_smooth_signal():
  z = np.arange(120, dtype=np.float32)
  x = (0.5 + 0.4 * np.sin(2 * np.pi * z / 60))[:, None]
  rec = np.asarray(infer.resample_z(simulate_axial(x, 4.0), 4.0, "cubic"))
  assert rec.shape == x.shape
  assert np.abs(rec - x)[4:-4].max() < 0.01


def test_streamed_volume_equals_direct_resample():
  """Slabs (with a padded last slab) give the same volume as one direct resample."""
  rng = np.random.default_rng(2)
  src = rng.random((11, 37, 9)).astype(np.float32)
  intensity = io.Intensity(0.0, 1.0, np.dtype(np.float32))
  sink = np.zeros((grid.fine_count(11, 2.5), 37, 9), np.float32)
  infer.interpolate_volume(src, sink, factor=2.5, method="cubic", intensity=intensity, slab=8)
  # float32: the jitted slabs and the eager call are two compilations of the 4-tap cubic sum (values < 1, sum of
  # |weights| <= 1.25: 4 roundings of <= 6e-8 each, <= 5e-7 apart); a wrong slab offset differs by ~0.3
  np.testing.assert_allclose(sink, infer.resample_z(src, 2.5, "cubic"), atol=2e-6)


def test_streamed_uint8_volume_round_trips_to_dtype():
  src = np.random.default_rng(3).integers(0, 256, (11, 37, 9), dtype=np.uint8)
  intensity = io.Intensity(0.0, 255.0, np.dtype(np.uint8))
  sink = np.zeros((grid.fine_count(11, 2.5), 37, 9), np.uint8)
  infer.interpolate_volume(src, sink, factor=2.5, method="linear", intensity=intensity, slab=5)
  want = np.asarray(infer.resample_z(src.astype(np.float32), 2.5, "linear"))
  assert np.abs(sink.astype(np.float32) - np.clip(want, 0, 255)).max() <= 0.5 + 1e-3
