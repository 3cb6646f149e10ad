"""Crops from lazy sources (jax_iso.io.VolumeSource, np.memmap) read only the crop and match the full read."""
import numpy as np
import pytest

from jax_iso import data, io
from jax_iso.samples import FIBSEM_10NM

from data_helpers import dihedral


class Spy:
  """A (Z, Y, X) source exposing only shape, dtype and basic slicing; records how many voxels each read got."""

  def __init__(self, array):
    self._array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

  def __getitem__(self, key):
    assert isinstance(key, tuple) and all(isinstance(k, (int, slice)) for k in key)   # basic slicing only
    out = self._array[key]
    self.reads.append(out.size)
    return out

  def __array__(self, *args, **kwargs):
    raise AssertionError("the whole volume was read")


@pytest.fixture(scope="module")
def sample():
  return io.read_volume(FIBSEM_10NM)[0]


@pytest.mark.parametrize("kind, size", [("lateral", (64, 64)), ("axial", (32, 64)), ("clip", (6, 32, 32))])
def test_volume_source_crops_equal_crops_of_the_read_volume(sample, kind, size):
  with io.open_volume(FIBSEM_10NM) as src:
    lazy = next(iter(data.crop_dataset([src], kind=kind, size=size, batch_size=8, seed=1)))
  eager = next(iter(data.crop_dataset([sample], kind=kind, size=size, batch_size=8, seed=1)))
  assert lazy.dtype == np.uint8 and lazy.shape == (8, *size)
  np.testing.assert_array_equal(lazy, eager)
  assert lazy.std() > 5                                       # real EM texture, not padding


@pytest.mark.parametrize("kind, size", [("lateral", (32, 32)), ("axial", (16, 32)), ("clip", (4, 32, 32))])
def test_only_the_crop_is_read(sample, kind, size):
  spy = Spy(sample)
  batches = [next(iter(data.crop_dataset([spy], kind=kind, size=size, batch_size=4))) for _ in range(2)]
  assert spy.reads == [int(np.prod(size))] * 8
  assert data.eval_crops([spy], kind=kind, size=size, count=3).shape == (3, *size)
  assert batches[0].dtype == np.uint8


def test_memmap_volumes_crop_like_arrays(sample, tmp_path):
  path = tmp_path / "vol.u16"
  mm = np.memmap(path, np.uint16, "w+", shape=sample.shape)
  mm[:] = sample.astype(np.uint16) * 200
  mm.flush()
  mm = np.memmap(path, np.uint16, "r", shape=sample.shape)
  batch = next(iter(data.crop_dataset([mm], size=(48, 48), batch_size=4, seed=2)))
  assert type(batch) is np.ndarray and batch.dtype == np.uint16
  expect = next(iter(data.crop_dataset([sample.astype(np.uint16) * 200], size=(48, 48), batch_size=4, seed=2)))
  np.testing.assert_array_equal(batch, expect)


def test_anisotropic_sstem_volume_holds_out_its_last_sections(sstem_aniso):
  with io.open_volume(sstem_aniso) as src:
    assert src.shape[0] == 30 and data.held_out(30, 0.1) == 3
    train = data.CropSampler([src], kind="lateral", size=(128, 128), seed=0)
    assert max(train.crop(i).key[0] for i in range(200)) == 26
    evals = data.eval_crops([src], kind="lateral", size=(128, 128), count=4)
    sampler = data.CropSampler([src], kind="lateral", size=(128, 128), split="eval", augment=False)
    for i, crop in enumerate(sampler.crop(i) for i in range(4)):
      assert crop.key[0] >= 27
      np.testing.assert_array_equal(evals[i], src[crop.key])
    axial = next(iter(data.crop_dataset([src], kind="axial", size=(16, 128), batch_size=4)))
    assert axial.shape == (4, 16, 128)


def test_mixed_volume_list_of_real_sources(sample, fibsem_iso):
  with io.open_volume(fibsem_iso) as big:
    sampler = data.CropSampler([big, sample], kind="lateral", size=(96, 96), seed=3)
    positions = [(z - data.held_out(z, 0.1)) * (y - 95) * (x - 95) for z, y, x in (big.shape, sample.shape)]
    share = np.mean([sampler.crop(i).volume == 1 for i in range(1000)])
    assert abs(share - positions[1] / sum(positions)) < 0.05
    full = [io.read_volume(fibsem_iso)[0], sample]
    for i in range(8):
      crop = sampler.crop(i)
      np.testing.assert_array_equal(sampler(i), dihedral(full[crop.volume][crop.key], crop.orientation))
