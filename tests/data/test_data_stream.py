"""The batch stream: determinism, exact resume (grain state, JSON, orbax), sharding across processes."""
import json

import grain
import numpy as np
import pytest

from jax_iso import data

from data_helpers import random_volume, take


@pytest.fixture(scope="module")
def vols():
  return [random_volume((24, 40, 48), seed=1), random_volume((16, 32, 64), seed=2)]


def _stream(vols, **kw):
  kw = {"kind": "lateral", "size": (16, 16), "batch_size": 4, **kw}
  return iter(data.crop_dataset(vols, **kw))


def test_fixed_seed_is_deterministic(vols):
  for a, b in zip(take(_stream(vols, seed=7), 5), take(_stream(vols, seed=7), 5)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("other", [{"seed": 8}, {"split": "eval"}])
def test_other_seed_or_split_gives_other_crops(vols, other):
  base = np.stack(take(_stream(vols, seed=7, holdout=0.0), 3))
  changed = np.stack(take(_stream(vols, **{"seed": 7, "holdout": 0.0, **other}), 3))
  assert (base != changed).mean() > 0.5


def test_crop_positions_are_pinned_for_every_machine(vols):
  """Crop i depends only on (seed, split, i) through numpy's PCG64; a change here breaks resumed runs."""
  crops = [data.crop_index(vols, i, kind="lateral", size=(16, 16), seed=0) for i in range(3)]
  keys = [(c.volume, c.key[0], c.key[1].start, c.key[2].start, c.orientation) for c in crops]
  assert keys == PINNED


PINNED = [(1, 1, 0, 6, 6), (0, 16, 5, 27, 7), (1, 0, 8, 17, 1)]   # (volume, z, y, x, orientation)


def test_the_stream_is_infinite_and_batches_are_consecutive_crops(vols):
  it = _stream(vols, batch_size=2, size=(8, 8))
  sampler = data.CropSampler(vols, kind="lateral", size=(8, 8))
  for b, batch in enumerate(take(it, 50)):
    np.testing.assert_array_equal(batch, np.stack([sampler(2 * b), sampler(2 * b + 1)]))


@pytest.mark.parametrize("kind, size", [("lateral", (16, 16)), ("clip", (4, 16, 16)), ("axial", (8, 16))])
def test_set_state_resumes_exactly_mid_stream(vols, kind, size):
  it = _stream(vols, kind=kind, size=size, seed=3)
  take(it, 7)
  state = json.loads(json.dumps(it.get_state()))             # JSON-serialisable
  expect = take(it, 5)
  fresh = _stream(vols, kind=kind, size=size, seed=3)       # a restarted process
  fresh.set_state(state)
  for a, b in zip(expect, take(fresh, 5)):
    np.testing.assert_array_equal(a, b)
  it.set_state(state)                                        # rewinding the same iterator
  np.testing.assert_array_equal(next(it), expect[0])


def test_iterator_state_round_trips_through_an_orbax_checkpoint_manager(vols, tmp_path):
  ocp = pytest.importorskip("orbax.checkpoint")
  it = _stream(vols, seed=4)
  take(it, 3)
  with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
    manager.save(3, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(it)))
    manager.wait_until_finished()
  expect = take(it, 4)
  fresh = _stream(vols, seed=4)
  with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
    assert manager.latest_step() == 3
    manager.restore(3, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(fresh)))
  for a, b in zip(expect, take(fresh, 4)):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("count", [2, 3])
def test_shards_together_reproduce_the_single_process_stream(vols, count):
  batch_size = 4
  single = _stream(vols, batch_size=batch_size * count, seed=5)
  shards = [_stream(vols, batch_size=batch_size, seed=5, shard=(p, count)) for p in range(count)]
  for _ in range(4):   # the shards' batches end to end in process order: the global batch of several processes
    np.testing.assert_array_equal(np.concatenate([next(s) for s in shards]), next(single))


def test_shards_are_disjoint_and_resume_independently(vols):
  a, b = _stream(vols, seed=5, shard=(0, 2)), _stream(vols, seed=5, shard=(1, 2))
  first_a, first_b = next(a), next(b)
  assert (first_a != first_b).mean() > 0.5
  state = a.get_state()
  expect = next(a)
  again = _stream(vols, seed=5, shard=(0, 2))
  again.set_state(state)
  np.testing.assert_array_equal(next(again), expect)


def test_eval_crops_are_fixed_unaugmented_crops_of_the_eval_stream(vols):
  crops = data.eval_crops(vols, kind="lateral", size=(16, 16), count=6, seed=2)
  again = data.eval_crops(vols, kind="lateral", size=(16, 16), count=6, seed=2)
  assert crops.shape == (6, 16, 16) and crops.dtype == np.uint8
  np.testing.assert_array_equal(crops, again)
  sampler = data.CropSampler(vols, kind="lateral", size=(16, 16), seed=2, split="eval", augment=False)
  np.testing.assert_array_equal(crops, np.stack([sampler(i) for i in range(6)]))
