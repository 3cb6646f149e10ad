"""Clip inference: tiling and blending reproduce known models, test-time orientations' mean and std of a known
function, inpainting that leaves the other sections alone (the lost-section detector: tests/detect/test_lost.py)."""
import numpy as np
import pytest

from jax_iso import io
from jax_iso.degrade import grid
from jax_iso.degrade.resample import resample
from jax_iso.infer.clips import orient, reconstruct_clips, unorient
from jax_iso.infer.inpaint import clip_window, inpaint_sections, runs

UNIT = io.Intensity(0.0, 1.0, np.float32)


class ArraySink:
  def __init__(self, shape):
    self.shape = shape
    self.data = np.full(shape, np.nan, np.float32)

  def __setitem__(self, key, value):
    self.data[key] = value


def _run(volume, apply_fn, factor, **kw):
  n_z, n_y, n_x = volume.shape
  sink, std = ArraySink((grid.fine_count(n_z, factor), n_y, n_x)), ArraySink((grid.fine_count(n_z, factor), n_y, n_x))
  settings = dict(frames=4, frame_overlap=1, tile=16, overlap=4, batch_size=3, tta=8)
  settings.update(kw)
  summary = reconstruct_clips(volume, sink, apply_fn, factor=factor, intensity=UNIT, uncertainty=std,
                              show_progress=False, **settings)
  return sink.data, std.data, summary


def test_orientations_are_the_dihedral_group_and_unorient_inverts():
  block = np.arange(2 * 3 * 3).reshape(2, 3, 3)
  seen = {orient(block, o).tobytes() for o in range(8)}
  assert len(seen) == 8
  for o in range(8):
    np.testing.assert_array_equal(unorient(orient(block, o), o), block)


@pytest.mark.parametrize("shape", [(6, 37, 29), (5, 16, 16), (4, 9, 40)])
def test_identity_model_reproduces_the_volume_through_tiles_clips_and_orientations(shape):
  volume = np.random.default_rng(0).random(shape).astype(np.float32)
  mean, std, summary = _run(volume, lambda clips: clips, 1.0)
  np.testing.assert_allclose(mean, volume, atol=1e-6)
  np.testing.assert_allclose(std, 0.0, atol=1e-6)
  assert summary["orientations"] == 8


@pytest.mark.parametrize("factor", [2.5, 3.0])
def test_a_z_resampling_model_gives_the_resampled_volume(factor):
  """A model that resamples the rows (Z) linearly: the tiled, clipped, turned and blended result is the linear
  resampling of the whole volume."""
  volume = np.random.default_rng(1).random((7, 30, 23)).astype(np.float32)
  n_out = grid.fine_count(7, factor)

  def model(clips):                                   # [B, T, N, W] -> [B, T, n_out, W]
    return np.asarray(resample(clips, factor, "linear", axis=-2, n_out=n_out))
  mean, std, _ = _run(volume, model, factor)
  np.testing.assert_allclose(mean, np.asarray(resample(volume, factor, "linear", axis=0)), atol=1e-5)
  np.testing.assert_allclose(std, 0.0, atol=1e-5)


def test_orientation_mean_and_std_of_a_column_ramp():
  """A model that adds a ramp a*j along the clip's columns: under the 8 orientations the ramp runs along +X, -X,
  +Y and -Y twice each, so the mean adds a*(n-1)/2 everywhere and the std is a*sqrt(((x-c)^2 + (y-c)^2) / 2)."""
  n, a = 12, 0.1
  volume = np.random.default_rng(2).random((3, n, n)).astype(np.float32)
  ramp = a * np.arange(n, dtype=np.float32)
  mean, std, _ = _run(volume, lambda clips: clips + ramp, 1.0, tile=n)
  c = (n - 1) / 2
  y, x = np.mgrid[:n, :n]
  np.testing.assert_allclose(mean, volume + a * c, atol=1e-5)
  want = a * np.sqrt(((x - c) ** 2 + (y - c) ** 2) / 2)
  np.testing.assert_allclose(std, np.broadcast_to(want, std.shape), atol=1e-5)


def _x4(fibsem_iso, size=96):
  vol = io.read_volume(fibsem_iso)[0][:, :size, :size]
  return vol[: vol.shape[0] // 4 * 4].reshape(-1, 4, size, size).mean(axis=1).astype(np.uint8)


def test_runs_and_clip_windows():
  assert runs([9, 3, 4, 5, 12]) == [(3, 6), (9, 10), (12, 13)]
  assert clip_window(3, 6, 40, 8) == (0, 8)
  assert clip_window(20, 22, 40, 8) == (17, 25)
  assert clip_window(38, 40, 40, 8) == (32, 40)
  assert clip_window(1, 2, 5, 8) == (0, 5)


@pytest.mark.slow
def test_inpainting_fills_only_the_lost_sections_from_their_neighbours(fibsem_iso):
  """A stand-in model that fills each zeroed frame with the mean of the nearest kept frame on either side and
  resamples the rows linearly: each filled section is exactly that, computed independently in numpy (Y padded
  by reflection, box sections of 4 rows, linear interpolation on the section grid); the reconstruction with the
  filled sections changes only the fine slices whose interpolation reads them."""
  factor = 4.0
  vol = _x4(fibsem_iso).astype(np.float32) / 255
  vol[10:12] = 0.0

  def model(clips):                                    # [B, T, N, W]
    clips = np.array(clips)
    kept = [t for t in range(clips.shape[1]) if clips[:, t].any()]
    for t in range(clips.shape[1]):
      if t not in kept:
        before, after = max(u for u in kept if u < t), min(u for u in kept if u > t)
        clips[:, t] = (clips[:, before] + clips[:, after]) / 2
    return np.asarray(resample(clips, factor, "linear", axis=-2))

  def pair_fn(key, stacks):                            # box sections along Y, as training does
    n = stacks.shape[-2] // 4
    return stacks[..., :n * 4, :].reshape(*stacks.shape[:-2], n, 4, stacks.shape[-1]).mean(-2), None, None

  fill = inpaint_sections(vol, model, pair_fn, [10, 11], factor=factor, intensity=UNIT, frames=6, tile=40,
                          overlap=8)
  assert sorted(fill) == [10, 11] and fill[10].shape == vol.shape[1:]
  source = np.pad((vol[9] + vol[12]) / 2, ((0, 5), (0, 0)), mode="reflect")          # 96 + ceil(4) + 1 rows
  sections = source[:100].reshape(25, 4, -1).mean(axis=1)
  centres, rows = np.arange(25) * 4 + 1.5, np.arange(100)
  want = np.stack([np.interp(rows, centres, sections[:, x]) for x in range(sections.shape[1])], axis=1)[:96]
  for k in (10, 11):
    np.testing.assert_allclose(fill[k], want, atol=1e-5)

  def one_sided(clips):                                # fills from the kept frame before only: not symmetric
    clips = np.array(clips)
    for t in range(1, clips.shape[1]):
      if not clips[:, t].any():
        clips[:, t] = clips[:, t - 1]
    return np.asarray(resample(clips, factor, "linear", axis=-2))
  kw = dict(factor=factor, intensity=UNIT, frames=6, tile=40, overlap=8)
  alone = inpaint_sections(vol, one_sided, pair_fn, [10, 11], flips=1, **kw)
  flipped = inpaint_sections(vol, one_sided, pair_fn, [10, 11], flips=4, **kw)
  assert np.abs(alone[11] - want).max() > 0.05       # section 9's copy ...
  for k in (10, 11):                                   # ... and, reversed in Z, section 12's: their mean
    np.testing.assert_allclose(flipped[k], want, atol=1e-5)

  def z_model(clips):
    return np.asarray(resample(clips, factor, "linear", axis=-2))
  sink_a, sink_b = ArraySink((vol.shape[0] * 4,) + vol.shape[1:]), ArraySink((vol.shape[0] * 4,) + vol.shape[1:])
  kw = dict(factor=factor, intensity=UNIT, frames=4, frame_overlap=1, tile=48, overlap=8, batch_size=4, tta=1,
            show_progress=False)
  reconstruct_clips(vol, sink_a, z_model, **kw)
  reconstruct_clips(vol, sink_b, z_model, fill=fill, **kw)
  changed = np.flatnonzero(np.abs(sink_a.data - sink_b.data).max(axis=(1, 2)) > 0)
  assert changed.min() >= 9 * 4 + 2 and changed.max() <= 12 * 4 + 1     # between the centres of sections 9 and 12
  # fine slice 42 sits 1/8 of a section past section 10's centre (degrade.grid): linear weights 7/8 and 1/8
  np.testing.assert_allclose(sink_b.data[42], 0.875 * fill[10] + 0.125 * fill[11], atol=1e-5)
