"""Stops asked by signals: raised in the main thread, and raised again when Python dropped the first raise."""
import os
import signal

import pytest

from jax_iso import errors, progress


def test_sigterm_raises_terminated_and_stays_pending_until_the_block_ends():
  before = signal.getsignal(signal.SIGTERM)
  with errors.on_signals():
    try:
      os.kill(os.getpid(), signal.SIGTERM)
      signal.pthread_sigmask(signal.SIG_BLOCK, [])          # a bytecode boundary: the handler has run
    except errors.Terminated as err:                         # dropped, as a gc callback would drop it
      assert err.signum == signal.SIGTERM
    with pytest.raises(errors.Terminated):
      errors.raise_pending_stop()
    with pytest.raises(errors.Terminated):
      with progress.Bar("work", 10) as bar:                   # long work notices it at its next update
        bar.update(1)
  errors.raise_pending_stop()                                 # handled: nothing pending after the block
  assert signal.getsignal(signal.SIGTERM) is before


def test_sigint_raises_keyboard_interrupt_with_its_own_pending_stop():
  with errors.on_signals():
    with pytest.raises(KeyboardInterrupt):
      os.kill(os.getpid(), signal.SIGINT)
      signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with pytest.raises(KeyboardInterrupt):
      errors.raise_pending_stop()
