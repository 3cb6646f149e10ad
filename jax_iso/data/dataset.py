"""The grain pipelines the train loop iterates: an infinite stream of crop batches, and fixed eval crops."""
from __future__ import annotations

import sys
from collections.abc import Sequence

import grain
import numpy as np

from jax_iso.data import checks
from jax_iso.data.crops import CropSampler


class _ShardCrops:
  """Crop j of shard (index, count) with `batch_size` crops per batch: crop k of its batch b is crop
  (b * count + index) * batch_size + k of the stream (picklable, for grain workers)."""

  def __init__(self, sampler: CropSampler, index: int, count: int, batch_size: int):
    self.sampler, self.index, self.count, self.batch_size = sampler, index, count, batch_size

  def __call__(self, j: int) -> np.ndarray:
    b, k = divmod(j, self.batch_size)
    return self.sampler((b * self.count + self.index) * self.batch_size + k)


def crop_dataset(volumes, *, kind: str = "lateral", size: Sequence[int] = (128, 128), batch_size: int = 16,
                 seed: int = 0, split: str = "train", holdout: float = 0.1, augment: bool = True,
                 shard: Sequence[int] = (0, 1), read_threads: int = 0,
                 weights: Sequence[float] | None = None) -> grain.IterDataset:
  """An infinite `grain.IterDataset` of crop batches: np.ndarray [batch_size, *size] in the volumes' dtype.

  Crop i (volume, position, orientation) is a pure function of (seed, split, i) (`CropSampler`). `shard =
  (index, count)` (one per process) cuts each batch of `batch_size * count` crops of the unsharded stream into
  `count` consecutive blocks and keeps block `index`: batch b of the shard is crops (b * count + index) *
  batch_size ... + batch_size - 1. So the processes' batches b, end to end in process order, are the unsharded
  stream's batch b crop for crop (the global batch of `jax.make_array_from_process_local_data`: the same for
  any number of processes), and an iterator's state (the next batch's number) means the same in every process.
  `weights` (one per volume) mix the volumes in those proportions (`CropSampler`). Iterators checkpoint with
  `get_state()` / `set_state()` (a small JSON-able dict) or with orbax through `grain.checkpoint.CheckpointSave`
  / `CheckpointRestore`. `read_threads=0` reads in the calling thread (fastest for arrays in memory and local
  files; threads only help for slow remote storage).
  """
  batch_size = checks.check_batch_size(batch_size)
  index, count = checks.check_shard(shard)
  sampler = CropSampler(volumes, kind=kind, size=size, seed=seed, split=split, holdout=holdout,
                        augment=augment, weights=weights)
  if not isinstance(read_threads, int) or read_threads < 0:
    raise ValueError(f"read_threads must be a non-negative int, got {read_threads!r}")
  ds = grain.MapDataset.range(sys.maxsize // count)       # this shard's crops, without end
  ds = ds.map(_ShardCrops(sampler, index, count, batch_size))
  ds = ds.batch(batch_size, drop_remainder=True, batch_fn=np.stack)
  options = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=2 * read_threads)
  return ds.to_iter_dataset(options)


def eval_crops(volumes, *, kind: str = "lateral", size: Sequence[int] = (128, 128), count: int = 32,
               seed: int = 0, holdout: float = 0.1, weights: Sequence[float] | None = None) -> np.ndarray:
  """A fixed set of evaluation crops [count, *size] in the volumes' dtype: crops 0 ... count - 1 of the
  "eval" stream without augmentation (from the held-out sections, see `jax_iso.data.holdout`)."""
  count = checks.check_count(count)
  sampler = CropSampler(volumes, kind=kind, size=size, seed=seed, split="eval", holdout=holdout, augment=False,
                        weights=weights)
  return np.stack([sampler(i) for i in range(count)])
