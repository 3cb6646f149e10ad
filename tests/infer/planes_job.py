"""A resumable reconstruction with a slow, logging numpy "model": run in-process or as a script (to be killed).

python tests/infer/planes_job.py SECTIONS OUTPUT LOG DELAY FINGERPRINT  prints the summary as JSON.
"""
import json
import sys
import time

import numpy as np

from jax_iso import infer, io
from jax_iso.degrade import grid


def run(src_path, out_path, *, log_path=None, delay=0.0, fingerprint="model-1", fail_after=None):
  """Reconstructs at x4 in slabs of 8 planes; returns (summary, window width of every model call)."""
  calls = []

  def apply_fn(x):
    calls.append(x.shape[-1])
    if log_path:
      with open(log_path, "a", encoding="utf-8") as f:
        f.write(f"{x.shape[-1]}\n")
    if fail_after is not None and len(calls) > fail_after:
      raise KeyboardInterrupt
    time.sleep(delay)
    return np.tanh(2.0 * x) * 0.8 + 0.1 * np.roll(x, 1, axis=-1)

  with io.open_volume(src_path) as src:
    shape = (grid.fine_count(src.shape[0], 4.0),) + src.shape[1:]
    with io.create_volume(out_path, shape, src.dtype, (10.0, 10.0, 10.0), description={"job": "test"},
                          resume_dir=True) as sink:
      summary = infer.reconstruct_planes(
          src, sink, apply_fn, infer.Tiling(tile=32, overlap=8, margin=8, batch_size=4, multiple=4), factor=4.0,
          intensity=io.intensity_of(src), resume=infer.Resume(fingerprint=fingerprint), memory=infer.Memory(slabs=8),
          progress=False)
  return summary, calls


if __name__ == "__main__":
  src_path, out_path, log_path, delay, fingerprint = sys.argv[1:6]
  print(json.dumps(run(src_path, out_path, log_path=log_path, delay=float(delay), fingerprint=fingerprint)[0]))
