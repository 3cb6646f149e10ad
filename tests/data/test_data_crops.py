"""Crops: shapes, dtypes, the exact region they claim, orientation coverage, volume proportions."""
import numpy as np
import pytest

from jax_iso import data

from data_helpers import axial_flip, coordinate_volume, dihedral, random_volume

SIZES = {"lateral": (16, 12), "axial": (8, 12), "clip": (5, 16, 12)}


@pytest.mark.parametrize("kind", ["lateral", "axial", "clip"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_batches_have_the_crop_shape_and_the_volume_dtype(kind, dtype):
  vol = random_volume(dtype=dtype)
  batch = next(iter(data.crop_dataset([vol], kind=kind, size=SIZES[kind], batch_size=3)))
  assert isinstance(batch, np.ndarray)
  assert batch.shape == (3, *SIZES[kind]) and batch.dtype == dtype


@pytest.mark.parametrize("kind", ["lateral", "axial", "clip"])
def test_each_crop_is_the_oriented_region_it_claims(kind):
  vols = [random_volume((24, 40, 48), seed=1), random_volume((30, 36, 33), seed=2)]
  size, batch_size = SIZES[kind], 4
  it = iter(data.crop_dataset(vols, kind=kind, size=size, batch_size=batch_size, seed=3))
  reference = axial_flip if kind == "axial" else dihedral
  for b in range(6):
    batch = next(it)
    for t in range(batch_size):
      crop = data.crop_index(vols, b * batch_size + t, kind=kind, size=size, seed=3)
      region = vols[crop.volume][crop.key]
      np.testing.assert_array_equal(batch[t], reference(region, crop.orientation))


def test_lateral_crops_are_xy_planes_at_the_claimed_position():
  vol = coordinate_volume()
  sampler = data.CropSampler([vol], kind="lateral", size=(8, 6), augment=False, holdout=0.0)
  for i in range(20):
    crop = sampler.crop(i)
    z, ys, xs = crop.key
    expect = z * 1_000_000 + np.arange(ys.start, ys.start + 8)[:, None] * 1_000 + np.arange(xs.start, xs.start + 6)
    np.testing.assert_array_equal(sampler(i), expect)
    assert crop.plane == "xy" and crop.orientation == 0


def test_clip_frames_are_consecutive_sections_and_z_never_leaves_axis_0():
  vol = coordinate_volume()
  sampler = data.CropSampler([vol], kind="clip", size=(4, 10, 10), seed=5, holdout=0.0)
  seen = set()
  for i in range(200):
    clip = sampler(i)
    z = clip // 1_000_000                                    # each voxel's source section
    assert np.all(z == z[:, :1, :1])                         # one section per frame ...
    assert np.all(np.diff(z[:, 0, 0]) == 1)                  # ... consecutive, in order
    seen.add(sampler.crop(i).orientation)
  assert seen == set(range(8))


def test_axial_crops_run_along_z_in_xz_or_yz_planes():
  vol = coordinate_volume()
  sampler = data.CropSampler([vol], kind="axial", size=(6, 9), seed=2, holdout=0.0, augment=False)
  planes = set()
  for i in range(100):
    crop, img = sampler.crop(i), sampler(i)
    z, y, x = img // 1_000_000, img // 1_000 % 1_000, img % 1_000
    assert np.all(np.diff(z, axis=0) == 1) and np.all(z == z[:, :1])       # h runs forward along Z
    moving = y if crop.plane == "yz" else x
    fixed = x if crop.plane == "yz" else y
    assert np.all(np.diff(moving, axis=1) == 1) and np.all(fixed == fixed[0, 0])
    planes.add(crop.plane)
  assert planes == {"xz", "yz"}


@pytest.mark.parametrize("kind, n", [("lateral", 8), ("clip", 8), ("axial", 4)])
def test_augmentation_draws_every_orientation_and_only_those(kind, n):
  vol = random_volume((24, 40, 48))
  size = {"lateral": (12, 12), "clip": (3, 12, 12), "axial": (8, 12)}[kind]
  sampler = data.CropSampler([vol], kind=kind, size=size, seed=0)
  counts = np.bincount([sampler.crop(i).orientation for i in range(800)], minlength=n)
  assert len(counts) == n and counts.min() > 800 / n * 0.6                  # all occur, roughly uniformly
  off = data.CropSampler([vol], kind=kind, size=size, seed=0, augment=False)
  assert {off.crop(i).orientation for i in range(50)} == {0}


def test_non_square_lateral_crops_keep_their_shape_when_turned():
  vol = random_volume((10, 40, 48))
  sampler = data.CropSampler([vol], kind="lateral", size=(8, 20), seed=1)
  for i in range(40):
    crop = sampler.crop(i)
    _, ys, xs = crop.key
    assert (ys.stop - ys.start, xs.stop - xs.start) == ((20, 8) if crop.orientation % 2 else (8, 20))
    np.testing.assert_array_equal(sampler(i), dihedral(vol[crop.key], crop.orientation))


def test_volumes_are_drawn_in_proportion_to_their_crop_positions():
  small, large = random_volume((10, 64, 64)), random_volume((10, 96, 96))
  sampler = data.CropSampler([small, large], kind="lateral", size=(32, 32), holdout=0.0)
  share = np.mean([sampler.crop(i).volume == 0 for i in range(3000)])
  expect = 33 * 33 / (33 * 33 + 65 * 65)                                     # same Z, positions per plane
  assert abs(share - expect) < 0.03


def test_a_single_array_is_taken_as_one_volume():
  vol = random_volume()
  a = next(iter(data.crop_dataset(vol, size=(8, 8), batch_size=2)))
  b = next(iter(data.crop_dataset([vol], size=(8, 8), batch_size=2)))
  np.testing.assert_array_equal(a, b)
