"""Progress reports for long work, on stderr.

On a terminal (or in a notebook) they are live `rich` bars (rich is already a dependency of flax). When stderr is
not a terminal (a log file, a cluster job, `make demo > log 2>&1`) they are plain lines, printed and flushed at
each 10 % of the total or after 30 s without a line, whichever comes first, plus a final line (a 10 % mark
reached within 5 s of the last line is skipped, so short work prints little more than its final line), e.g.

  train: 120/600 (20%)  loss 0.03121  steps/s 2.71  elapsed 0:00:44  eta 0:02:57

Elapsed time and ETA count from when this process started the work (a resumed run's earlier steps are not in the
rate). With an unknown total the lines come every 30 s and give the count only.

JAX_ISO_PROGRESS=0 silences everything; JAX_ISO_PROGRESS=plain prints plain lines even on a terminal.
`listen(callback)` lets a caller (the napari widget) follow every bar its thread opens, silenced or not.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich import progress as rp
from rich.console import Console

from jax_iso.errors import raise_pending_stop

T = TypeVar("T")

_now = time.monotonic   # the clock of the plain lines; tests replace it
EVERY_FRACTION = 10     # a plain line at each 1/EVERY_FRACTION of the total ...
EVERY_SECONDS = 30.0    # ... or after this many seconds without one
MIN_SECONDS = 5.0       # but a mark only once this many seconds passed since the last line
_LISTENER = contextvars.ContextVar("jax_iso_progress_listener", default=None)


@contextlib.contextmanager
def listen(callback):
  """Within the block, every bar opened in this thread (context) also calls `callback(description, completed,
  total)` when it starts and at each update (total None when unknown), even with JAX_ISO_PROGRESS=0."""
  token = _LISTENER.set(callback)
  try:
    yield
  finally:
    _LISTENER.reset(token)


def enabled() -> bool:
  return os.environ.get("JAX_ISO_PROGRESS", "1") != "0"


def _plain() -> bool:
  """Whether to print plain lines rather than a live bar."""
  if os.environ.get("JAX_ISO_PROGRESS") == "plain":
    return True
  with contextlib.suppress(AttributeError, ValueError):   # a replaced or closed stderr: not a terminal
    if sys.stderr.isatty():
      return False
  return not Console(stderr=True).is_jupyter


def _info(fields: dict) -> str:
  return "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())


def _hms(seconds: float) -> str:
  return str(datetime.timedelta(seconds=int(max(seconds, 0))))


class _Lines:
  """Plain progress lines: one at each 10 % mark (5 s or more after the last), after 30 s without one, and at
  the end."""

  def __init__(self, description: str, total: int | None, completed: int = 0):
    self.description, self.total = description, total if total and total > 0 else None
    self.n = self.start = self.printed = completed
    self.t0 = self.last = _now()
    self.fields: dict = {}
    self.mark = self._next_mark()

  def _next_mark(self) -> int | None:
    if self.total is None:
      return None
    k = self.n * EVERY_FRACTION // self.total + 1
    return -(-self.total * k // EVERY_FRACTION)   # ceil(total * k / EVERY_FRACTION)

  def update(self, advance: int, fields: dict) -> None:
    self.n += advance
    self.fields = fields or self.fields    # an update without fields keeps the last ones
    now = _now()
    since = now - self.last
    if (self.mark is not None and self.n >= self.mark and since >= MIN_SECONDS) or since >= EVERY_SECONDS:
      self._print(now)

  def close(self) -> None:
    if self.n != self.printed:
      self._print(_now())

  def _print(self, now: float) -> None:
    elapsed = now - self.t0
    parts = [f"{self.description}: {self.n}"]
    if self.total is not None:
      parts[0] += f"/{self.total} ({100 * self.n // self.total}%)"
    if self.fields:
      parts.append(_info(self.fields))
    parts.append(f"elapsed {_hms(elapsed)}")
    if self.total is not None:
      done, left = self.n - self.start, max(self.total - self.n, 0)
      parts.append("eta " + (_hms(left * elapsed / done) if done > 0 and elapsed > 0 else
                             _hms(0) if left == 0 else "-:--:--"))
    print("  ".join(parts), file=sys.stderr, flush=True)
    self.printed, self.last, self.mark = self.n, now, self._next_mark()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
  """Yields `items` while showing a bar (or plain lines) with count, elapsed time and ETA."""
  if total is None and hasattr(items, "__len__"):
    total = len(items)  # type: ignore[arg-type]
  with Bar(description, total) as bar:
    for item in items:
      yield item
      bar.update(1)


class Bar:
  """A progress bar that also shows live values (loss, steps/s): `with Bar("train", total) as bar:
  bar.update(1, loss=0.1)`; an update without values keeps the last ones; `completed` starts it part-way (a
  resumed run)."""

  def __init__(self, description: str, total: int | None, completed: int = 0):
    self._description, self._total, self._completed = description, total, completed
    self._progress = None
    self._task = None
    self._lines: _Lines | None = None
    self._listener = _LISTENER.get()
    self._n = completed

  def __enter__(self) -> Bar:
    if self._listener is not None:
      self._listener(self._description, self._n, self._total)
    if enabled() and _plain():
      self._lines = _Lines(self._description, self._total, self._completed)
    elif enabled():
      columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                 rp.TimeElapsedColumn(), rp.TextColumn("eta"), rp.TimeRemainingColumn(),
                 rp.TextColumn("{task.fields[info]}"))
      self._progress = rp.Progress(*columns, console=Console(stderr=True))
      self._progress.__enter__()
      self._task = self._progress.add_task(self._description, total=self._total, completed=self._completed,
                                           info="")
    return self

  def update(self, advance: int = 1, **fields) -> None:
    raise_pending_stop()       # a signal's stop that Python dropped (e.g. raised in a gc callback)
    self._n += advance
    if self._listener is not None:
      self._listener(self._description, self._n, self._total)
    if self._lines is not None:
      self._lines.update(advance, fields)
    elif self._progress is not None:
      self._progress.update(self._task, advance=advance, **({"info": _info(fields)} if fields else {}))

  def __exit__(self, *exc) -> None:
    if self._lines is not None:
      self._lines.close()
    elif self._progress is not None:
      self._progress.__exit__(*exc)
