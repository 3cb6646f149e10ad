"""Device prefetch: batches in order, two ahead, and a state that resumes at the next batch the step gets."""
import numpy as np
import pytest

from jax_iso.train.prefetch import DevicePrefetch


class Counting:
  """A resumable host iterator of batches [i, i, i] (like grain's: get_state / set_state)."""

  def __init__(self):
    self.i, self.reads = 0, 0

  def __next__(self):
    self.i += 1
    self.reads += 1
    return np.full(3, self.i - 1)

  def get_state(self):
    return {"next": self.i}

  def set_state(self, state):
    self.i = state["next"]


def test_batches_come_in_order_read_ahead_and_put_on_the_device():
  host, put = Counting(), []
  batches = DevicePrefetch(host, lambda b: put.append(int(b[0])) or b * 10, size=2)
  assert host.reads == 2 and put == [0, 1]                   # two batches on their way before the first step
  got = [int(next(batches)[0]) for _ in range(5)]
  assert got == [0, 10, 20, 30, 40] and host.reads == 7      # still two ahead


def test_state_is_that_of_the_next_batch_not_of_the_last_read():
  host = Counting()
  batches = DevicePrefetch(host, lambda b: b, size=2)
  for _ in range(3):
    next(batches)
  state = batches.get_state()
  assert state == {"next": 3} and host.get_state() == {"next": 5}
  following = [int(next(batches)[0]) for _ in range(4)]
  resumed_host = Counting()
  resumed_host.set_state(state)
  resumed = DevicePrefetch(resumed_host, lambda b: b, size=2)
  assert [int(next(resumed)[0]) for _ in range(4)] == following == [3, 4, 5, 6]


def test_state_is_a_copy():
  host = Counting()
  batches = DevicePrefetch(host, lambda b: b, size=1)
  state = batches.get_state()
  state["next"] = 99
  assert batches.get_state() == {"next": 0}


def test_size_must_be_positive():
  with pytest.raises(ValueError, match="size=0"):
    DevicePrefetch(Counting(), lambda b: b, size=0)
