"""The metrics of a run: one JSON record per line in `metrics.jsonl`, and `loss.png` drawn from them.

Written by process 0 only (every process computes the same numbers).
"""
from __future__ import annotations

import json
import pathlib

import jax

from jax_iso.train import curves

METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "loss.png"


class MetricsWriter:
  """`write(record)` appends a record; `plot()` draws the loss curves of all records so far."""

  def __init__(self, workdir: pathlib.Path):
    self.path = pathlib.Path(workdir) / METRICS_FILE
    self.picture = pathlib.Path(workdir) / CURVES_FILE

  def write(self, record: dict) -> None:
    if jax.process_index() == 0:
      with self.path.open("a") as f:
        f.write(json.dumps(record) + "\n")

  def plot(self) -> None:
    if jax.process_index() == 0:
      curves.plot(self.path, self.picture)
