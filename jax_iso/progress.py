"""Progress bars for long work, drawn on stderr with `rich` (already a dependency of flax).

Set JAX_ISO_PROGRESS=0 to silence them (e.g. in batch jobs). When stderr is not a terminal, rich prints the
final state once instead of animating.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich import progress as rp
from rich.console import Console

T = TypeVar("T")


def enabled() -> bool:
  return os.environ.get("JAX_ISO_PROGRESS", "1") != "0"


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
  """Yields `items` while showing a bar with count, elapsed time and ETA."""
  if not enabled():
    yield from items
    return
  if total is None and hasattr(items, "__len__"):
    total = len(items)  # type: ignore[arg-type]
  columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
             rp.TimeElapsedColumn(), rp.TextColumn("eta"), rp.TimeRemainingColumn())
  with rp.Progress(*columns, console=Console(stderr=True)) as bar:
    task = bar.add_task(description, total=total)
    for item in items:
      yield item
      bar.advance(task)


class Bar:
  """A progress bar that also shows live values (loss, steps/s): `with Bar("train", total) as bar:
  bar.update(1, loss=0.1)`; `completed` starts it part-way (a resumed run)."""

  def __init__(self, description: str, total: int, completed: int = 0):
    self._description, self._total, self._completed = description, total, completed
    self._progress = None
    self._task = None

  def __enter__(self) -> Bar:
    if enabled():
      columns = (rp.TextColumn("{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
                 rp.TimeElapsedColumn(), rp.TextColumn("eta"), rp.TimeRemainingColumn(),
                 rp.TextColumn("{task.fields[info]}"))
      self._progress = rp.Progress(*columns, console=Console(stderr=True))
      self._progress.__enter__()
      self._task = self._progress.add_task(self._description, total=self._total, completed=self._completed,
                                           info="")
    return self

  def update(self, advance: int = 1, **fields) -> None:
    if self._progress is not None:
      info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
      self._progress.update(self._task, advance=advance, info=info)

  def __exit__(self, *exc) -> None:
    if self._progress is not None:
      self._progress.__exit__(*exc)
