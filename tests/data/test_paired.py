"""Registered pairs: two volumes cropped as one, every crop the aligned pair, split on the device."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso import data
from jax_iso.data.paired import PairedVolume
from jax_iso.degrade import pairs
from jax_iso.errors import UserError


def _volumes():
  first = np.random.default_rng(0).integers(0, 1000, (6, 40, 48)).astype(np.uint16)
  return first, first + np.uint16(1000)          # the second is the first shifted: alignment is visible


@pytest.mark.parametrize("kind, size", [("lateral", (16, 16)), ("clip", (3, 16, 16))])
def test_every_crop_is_the_aligned_pair_in_one_orientation(kind, size):
  first, second = _volumes()
  batches = iter(data.crop_dataset(PairedVolume(first, second), kind=kind, size=size, batch_size=8, seed=3))
  for _ in range(4):
    batch = next(batches)
    assert batch.shape == (8, 2) + size and batch.dtype == np.uint16
    np.testing.assert_array_equal(batch[:, 1].astype(np.int32) - batch[:, 0], 1000)


def test_region_reads_and_metadata():
  first, second = _volumes()
  pair = PairedVolume(first, second, names=("noisy", "clean"))
  assert pair.shape == (6, 40, 48) and pair.dtype == np.uint16
  np.testing.assert_array_equal(pair[2, 5:9, 7:10], np.stack([first[2, 5:9, 7:10], second[2, 5:9, 7:10]]))


def test_mismatched_pairs_are_one_line_errors():
  first, second = _volumes()
  with pytest.raises(UserError, match=r"noisy has shape \(6, 40, 48\) but clean has \(6, 40, 40\)"):
    PairedVolume(first, second[:, :, :40], names=("noisy", "clean"))
  with pytest.raises(UserError, match="noisy is uint16 but clean is float32"):
    PairedVolume(first, second.astype(np.float32), names=("noisy", "clean"))


def test_registered_pair_maker_splits_the_crop():
  crops = jax.random.uniform(jax.random.key(0), (4, 2, 8, 8))
  inputs, targets, aux = pairs.make_batch_fn({"kind": "registered"})(jax.random.key(1), crops)
  np.testing.assert_array_equal(np.asarray(inputs), np.asarray(crops[:, 0]))
  np.testing.assert_array_equal(np.asarray(targets), np.asarray(crops[:, 1]))
  with pytest.raises(ValueError, match=r"\[2, \.\.\.\]"):
    pairs.registered_pair(jax.random.key(0), jnp.zeros((3, 8, 8)))
