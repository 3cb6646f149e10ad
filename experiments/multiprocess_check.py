"""Inference split across processes equals one process: `jax-iso predict` of one model into one OME-Zarr, by
1 process and by N local CPU processes, (a) under jax.distributed with a local coordinator and (b) as a job
array (`--process_index` / `--process_count`, no coordinator), started together.

  python experiments/multiprocess_check.py [--quick] [--processes=2] [--out=results/multiprocess_check.json]

A U-Net (configs/unet.py, the `cpu` variant; `tiny` with --quick) is trained briefly on the shipped sample
simulated at x4 (--quick) or on FlyEM sample2 at x4 (../shared/data), with tiles smaller than the volume so
the YZ planes are cut into several tiles whose seams the processes' row ranges cross. Each output is compared
voxel by voxel with the one-process output (`max_abs_diff`, in the output's uint8 levels; 0 means bit for bit).
Times are wall clock of the whole command (start-up and compile included) on this machine's cores, which the
processes share: the check is about equality, not speed.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

from jax_iso import io
from common import ROOT, SAMPLE2, write_json  # experiments/common.py

SAMPLE = ROOT / "jax_iso" / "samples" / "flyem_medulla_fibsem_10nm_iso_160.tif"

_QUICK = flags.DEFINE_bool("quick", False, "The shipped 160^3 sample and the tiny U-Net (a minute).")
_PROCESSES = flags.DEFINE_integer("processes", 2, "Processes that write the output together.")
_STEPS = flags.DEFINE_integer("train_steps", None, "Training steps (default: 4 with --quick, else 100).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def _jax_iso(*args: str, env: dict | None = None) -> subprocess.Popen:
  command = [sys.executable, "-m", "jax_iso", *args]
  return subprocess.Popen(command, env={**os.environ, "JAX_ISO_PROGRESS": "0", **(env or {})},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(procs: list[subprocess.Popen], what: str) -> float:
  start = time.perf_counter()
  for p in procs:
    out, _ = p.communicate()
    if p.returncode != 0:
      sys.exit(f"{what} failed (exit code {p.returncode}):\n{out[-3000:]}")
    lines = [line for line in out.splitlines() if line.startswith(("wrote", "part", "trained"))]
    print("\n".join(f"  {line}" for line in lines))
  return time.perf_counter() - start


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def main(argv):
  del argv
  n = _PROCESSES.value
  quick = _QUICK.value
  steps = _STEPS.value or (4 if quick else 100)
  source = SAMPLE if quick or not SAMPLE2.exists() else SAMPLE2
  work = pathlib.Path(tempfile.mkdtemp(prefix="multiprocess_check-"))
  try:
    aniso = work / "aniso.tif"
    _wait([_jax_iso("simulate", f"--input={source}", f"--output={aniso}", "--factor=4")], "simulate")
    variant, tile = ("tiny", 64) if quick else ("cpu", 96)
    run = work / "run"
    _wait([_jax_iso("train", f"--config=configs/unet.py:{variant}", f"--workdir={run}",
                    f"--config.data.path={aniso}", f"--config.train.steps={steps}", f"--config.infer.tile={tile}",
                    "--config.infer.overlap=16")], "train")
    predict = ["predict", f"--workdir={run}", f"--input={aniso}"]
    start = time.perf_counter()
    _wait([_jax_iso(*predict, f"--output={work / 'one.ome.zarr'}")], "predict, one process")
    seconds = {"one_process": time.perf_counter() - start}
    port = _free_port()
    start = time.perf_counter()
    _wait([_jax_iso(*predict, f"--output={work / 'distributed.ome.zarr'}", "--distributed",
                    f"--coordinator=localhost:{port}", f"--process_count={n}", f"--process_index={i}")
           for i in range(n)], "predict under jax.distributed")
    seconds["distributed"] = time.perf_counter() - start
    start = time.perf_counter()
    _wait([_jax_iso(*predict, f"--output={work / 'job_array.ome.zarr'}", f"--process_count={n}",
                    f"--process_index={i}") for i in range(n)], "predict as a job array")
    seconds["job_array"] = time.perf_counter() - start
    one, spacing = io.read_volume(work / "one.ome.zarr")
    modes = {}
    for mode in ("distributed", "job_array"):
      split, split_spacing = io.read_volume(work / f"{mode}.ome.zarr")
      diff = np.abs(split.astype(np.int64) - one.astype(np.int64))
      modes[mode] = {"max_abs_diff": int(diff.max()), "voxels_differing": int((diff > 0).sum()),
                     "same_spacing": split_spacing == spacing, "seconds": round(seconds[mode], 1)}
    rows = [io.Part(i, n).rows(one.shape[1]) for i in range(n)]
  finally:
    shutil.rmtree(work, ignore_errors=True)
  result = {"processes": n, "max_abs_diff": max(m["max_abs_diff"] for m in modes.values()), "modes": modes,
            "one_process_seconds": round(seconds["one_process"], 1), "shape": list(one.shape),
            "rows_per_process": [list(r) for r in rows], "input": source.name, "model": f"unet:{variant}",
            "tile": tile, "train_steps": steps, "quick": quick}
  print(f"\n{'mode':<14}{'processes':>10}{'max |diff|':>12}{'differing':>11}{'seconds':>9}")
  print(f"{'one process':<14}{1:>10}{'-':>12}{'-':>11}{seconds['one_process']:>9.1f}")
  for mode, m in modes.items():
    print(f"{mode:<14}{n:>10}{m['max_abs_diff']:>12}{m['voxels_differing']:>11}{m['seconds']:>9.1f}")
  print(f"output {' x '.join(map(str, one.shape))} uint8; rows per process {rows}")
  write_json(_OUT.value, result)


if __name__ == "__main__":
  app.run(main)
