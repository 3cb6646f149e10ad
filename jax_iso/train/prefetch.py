"""Batches moved to the device ahead of the step that uses them.

    batches = DevicePrefetch(host_iterator, put=lambda b: mesh.global_batch(b, sharding), size=2)
    state, metrics = step(state, next(batches), key)     # the next two are already on their way
    checkpoints.save(step, state, batches.get_state())

`put` starts the host-to-device copy (asynchronous in JAX), so reading and copying the next batches overlaps the
running step. `get_state()` is the host iterator's state at the next batch `next()` returns (taken before each
batch was read), not at the last one read ahead, so a checkpoint resumes exactly where the steps were.
"""
from __future__ import annotations

import collections
import copy
from collections.abc import Callable, Iterator

import jax
import numpy as np


class DevicePrefetch:
  """An iterator of device batches, `size` ahead of the consumer, with the host iterator's resumable state."""

  def __init__(self, iterator: Iterator[np.ndarray], put: Callable[[np.ndarray], jax.Array], size: int = 2):
    if size < 1:
      raise ValueError(f"size={size} must be >= 1")
    self._iterator, self._put, self._size = iterator, put, size
    self._queue: collections.deque = collections.deque()
    self._fill()

  def _fill(self) -> None:
    while len(self._queue) < self._size:
      state = copy.deepcopy(self._iterator.get_state())
      self._queue.append((state, self._put(next(self._iterator))))

  def __iter__(self) -> DevicePrefetch:
    return self

  def __next__(self) -> jax.Array:
    _, batch = self._queue.popleft()
    self._fill()
    return batch

  def get_state(self) -> dict:
    """The host iterator's state before the batch `next()` returns next."""
    return copy.deepcopy(self._queue[0][0])
