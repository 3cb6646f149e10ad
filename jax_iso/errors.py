"""Errors a user can fix, and the stop a signal asks for.

Library code raises `UserError` for bad input (a missing file, a wrong dtype, an impossible factor, a damaged
file...). Its message is one line that names the problem and the fix. The `jax-iso` command prints it and exits
with code 2; any other exception is a bug, printed as one line (exit code 1) unless JAX_ISO_DEBUG=1 asks for its
traceback.

`Terminated` is raised in the main thread when the process receives SIGTERM (what SLURM, `timeout` and `kill`
send) while the `jax-iso` command runs (`on_signals`): like KeyboardInterrupt for SIGINT, it unwinds every `with`
and `finally`, so partial outputs and temporary folders are removed and resumable work is kept. Python drops an
exception raised where it cannot propagate (a garbage-collector callback, `__del__`), so the stop also stays
pending until the command has handled it: long loops (progress updates, training steps) call
`raise_pending_stop`, which raises it again.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class UserError(ValueError):
  """Bad input that the user can fix; `str(err)` is one line naming the problem and the fix."""


class Terminated(BaseException):
  """The process was asked to stop by a signal (SIGTERM); `signum` is its number. A BaseException, like
  KeyboardInterrupt, so that `except Exception` blocks let it through."""

  def __init__(self, signum: int):
    super().__init__(f"terminated by {signal.Signals(signum).name}")
    self.signum = signum


_PENDING: list[int] = []   # the signal whose stop was raised but not yet handled by `on_signals`' owner


def _stop(signum: int) -> BaseException:
  return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def _on_signal(signum, frame) -> None:
  del frame
  _PENDING[:] = [signum]
  raise _stop(signum)


def raise_pending_stop() -> None:
  """Raises the stop a signal asked for, if it is still pending (its first raise may have been dropped)."""
  if _PENDING:
    raise _stop(_PENDING[0])


@contextlib.contextmanager
def on_signals():
  """Within the block, SIGTERM raises `Terminated` and SIGINT KeyboardInterrupt in the main thread, and the stop
  stays pending (`raise_pending_stop`) until the block is left; the previous handlers are restored on exit. Does
  nothing outside the main thread."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
  try:
    yield
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)
    _PENDING.clear()
