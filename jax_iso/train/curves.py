"""The loss-curve picture of a run: training loss and held-out PSNR (network vs its interpolated input)."""
from __future__ import annotations

import json
import os
import pathlib


def read_metrics(path: pathlib.Path) -> tuple[list[dict], list[dict]]:
  """(training records, evaluation records) of a metrics.jsonl file."""
  train, evals = [], []
  if path.exists():
    for line in path.read_text().splitlines():
      record = json.loads(line)
      (evals if "eval_psnr" in record else train).append(record)
  return train, evals


def plot(metrics_path: pathlib.Path, png_path: pathlib.Path) -> None:
  """Writes `png_path` atomically (a temporary file renamed into place)."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top  (only when drawing)
  train, evals = read_metrics(metrics_path)
  fig = Figure(figsize=(9, 3.4))
  ax_loss, ax_psnr = fig.subplots(1, 2)
  if train:
    ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
  ax_loss.set(xlabel="step", ylabel="training loss", yscale="log", title="training loss")
  if evals:
    steps = [r["step"] for r in evals]
    ax_psnr.plot(steps, [r["eval_psnr"] for r in evals], "o-", label="network")
    ax_psnr.plot(steps, [r["eval_psnr_input"] for r in evals], "s--", label="its input (interpolation)")
    ax_psnr.legend(fontsize=8)
  ax_psnr.set(xlabel="step", ylabel="PSNR (dB)", title="held-out crops")
  for ax in (ax_loss, ax_psnr):
    ax.grid(alpha=0.3)
  fig.tight_layout()
  tmp = png_path.with_name("." + png_path.name + ".partial")
  fig.savefig(tmp, dpi=90, format="png")
  os.replace(tmp, png_path)
