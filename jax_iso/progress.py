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
