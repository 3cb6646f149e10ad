"""How large the pretrained U-Net can be: training steps per hour against the time to reconstruct a 250^3 volume.

    python experiments/pretrain_size.py --out=results/pretrain_size.json
    python experiments/pretrain_size.py --quick          # two widths, fewer steps

For each width (depth 3, kernel 3, conditioned on the factor; the rest as configs/pretrain/unet.py) it times
training steps of the pretraining config (`train.setup`: the real pipeline, crops of the pretraining volumes,
pairs at a drawn factor) and the reconstruction of x4 sections of a 250^3 volume (63 sections of 250 x 250:
every xz and yz plane through the network, `jax-iso predict`'s path) with the run's parameters. Needs
../shared/data. Pause other work on the machine while it runs: it measures time.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.common import require_sample2, write_json  # pylint: disable=wrong-import-position


def _config(width: int, steps: int):
  from configs.pretrain import unet  # pylint: disable=g-import-not-at-top
  config = unet.get_config()
  with config.unlocked():
    config.model.width = width
    config.train.update({"steps": steps, "log_every": steps, "eval_every": 10 ** 9,
                         "checkpoint_every": 10 ** 9, "ema": 0.0})
  return config


def train_speed(width: int, steps: int, work: pathlib.Path) -> dict:
  """Steps per second after the first (compiled) step, and the parameter count."""
  import jax  # pylint: disable=g-import-not-at-top
  from jax_iso.train import setup  # pylint: disable=g-import-not-at-top
  with setup(_config(width, steps + 1), work / f"run{width}", log=False) as run:
    state, metrics = run.train_step(run.state, next(run.batches), run.step_key)
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(steps):
      state, metrics = run.train_step(state, next(run.batches), run.step_key)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / steps
    params = sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(state.params))
    run.state = state
    run.checkpoints.save(steps + 1, state, run.batches.get_state())
  return {"seconds_per_step": round(seconds, 3), "steps_per_hour": round(3600 / seconds), "params": params}


def infer_time(width: int, sections: pathlib.Path, work: pathlib.Path) -> float:
  """Seconds to reconstruct `sections` (x4) with the width's trained run (a second run: compiled already)."""
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  run = work / f"run{width}"
  jobs.predict(str(run), str(sections), str(work / "warm.tif"), show_progress=False)
  start = time.perf_counter()
  jobs.predict(str(run), str(sections), str(work / f"iso{width}.tif"), show_progress=False)
  return round(time.perf_counter() - start, 1)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", help="JSON file to write")
  parser.add_argument("--quick", action="store_true", help="widths 16 and 32, 5 steps")
  parser.add_argument("--widths", default="16,24,32,48")
  parser.add_argument("--steps", type=int, default=20)
  args = parser.parse_args()
  widths = (16, 32) if args.quick else tuple(int(w) for w in args.widths.split(","))
  steps = 5 if args.quick else args.steps
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.degrade import simulate_axial  # pylint: disable=g-import-not-at-top
  iso = io.read_volume(require_sample2())[0]
  rows = {}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    sections = work / "x4.tif"
    aniso = np.asarray(simulate_axial(iso.astype(np.float32) / 255, 4.0, axis=0))
    io.write_volume(sections, np.rint(aniso * 255).astype(np.uint8), (40.0, 10.0, 10.0))
    for width in widths:
      rows[width] = train_speed(width, steps, work)
      rows[width]["infer_250_x4_seconds"] = infer_time(width, sections, work)
      print(f"width {width}: {rows[width]}", flush=True)
  import platform  # pylint: disable=g-import-not-at-top
  write_json(args.out, {"machine": platform.processor() or platform.machine(), "steps_timed": steps,
                        "widths": rows})


if __name__ == "__main__":
  main()
