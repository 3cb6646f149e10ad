"""Training pairs per second: the device pipeline (`jax_iso.degrade`, jitted and vmapped) against the same
pipeline in numpy/scipy on the host, one example at a time (the reference codes' data-loader approach).

  python experiments/bench_degrade.py [--quick] [--out=results/bench_degrade.json]

Cases, on real crops of the ssTEM volume drosophila_l3_vnc_sstem_stack1.tif (20 x 1024 x 1024) in
../shared/data, whose lateral planes are what self-supervised methods train on:
  axial    32 lateral 256x256 crops, `config.axial_pair(4)`: box sections at a random phase, acquisition
           (X blur, intensity jitter, illumination, shot + read noise, scan lines), cubic back.
  clip     4 clips of 16x128x128, `config.clip_pair(4)` (a frame dropped half the time).
  section  16 triplets of 3x384x384, `config.section_pair()` (fold / precipitates / missing section, 64 px
           context, 256x256 out).
Device: `jax.jit(pairs.make_batch_fn(cfg))` (per-example keys), on crops already on the device, returning the
inputs (and section masks and flows; targets are the crops themselves); the median of repeated calls after a
warm-up (compilation excluded). Host: `experiments/host/pairs.py` on the same crops.
`--quick` repeats less (about a minute). `--out` writes {"device_pairs_per_s", "host_pairs_per_s", "ratio"}
for the axial case (the one every isotropic method trains on) and every case under "cases".
"""
from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

import jax
import numpy as np
import tifffile
from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from host import pairs as host_pairs  # noqa: E402  pylint: disable=g-import-not-at-top

from jax_iso.degrade import config, pairs  # noqa: E402  pylint: disable=g-import-not-at-top

DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
_QUICK = flags.DEFINE_bool("quick", False, "Fewer repetitions (about a minute).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def crops(volume: np.ndarray, shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
  """`n` random crops of `shape` from `volume` (uint8 -> float32 in [0, 1])."""
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(n):
    start = [int(rng.integers(0, s - c + 1)) for s, c in zip(volume.shape, shape)]
    out.append(volume[tuple(slice(a, a + c) for a, c in zip(start, shape))])
  return np.stack(out).astype(np.float32) / 255.0


def device_rate(cfg, batch: np.ndarray, repeats: int) -> tuple[float, float]:
  """(pairs per second, compile seconds) of the jitted batch pair maker (`pairs.make_batch_fn`, what a train
  step calls), returning what it makes: the inputs and, for section pairs, the damage mask and unfolding flow.
  Targets are the clean crops themselves (or a crop of them), which a loss reads in place."""
  make = pairs.make_batch_fn(cfg)

  def used(key, x):
    inp, _, aux = make(key, x)
    return inp, {k: aux[k] for k in ("mask", "flow") if k in aux}

  fn = jax.jit(used)
  x = jax.device_put(batch)
  start = time.perf_counter()
  jax.block_until_ready(fn(jax.random.key(0), x))
  compile_s = time.perf_counter() - start
  times = []
  for i in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(jax.random.key(i + 1), x))
    times.append(time.perf_counter() - start)
  return len(batch) / statistics.median(times), compile_s


def host_rate(kind: str, cfg, batch: np.ndarray, repeats: int) -> float:
  cfg = cfg.to_dict()
  rng = np.random.default_rng(0)
  make = host_pairs.PAIRS[kind]
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    for example in batch:
      make(rng, example, cfg)
    times.append(time.perf_counter() - start)
  return len(batch) / statistics.median(times)


def main(argv):
  del argv
  sstem = tifffile.imread(DATA / "drosophila_l3_vnc_sstem_stack1.tif")
  cases = {
      "axial": (config.axial_pair(4.0), crops(sstem, (1, 256, 256), 32, 0)[:, 0], "32 x 256^2"),
      "clip": (config.clip_pair(4.0), crops(sstem, (16, 128, 128), 4, 1), "4 x 16x128^2"),
      "section": (config.section_pair(), crops(sstem, (3, 384, 384), 16, 2), "16 x 3x384^2 -> 256^2"),
  }
  dev_reps, host_reps = (5, 1) if _QUICK.value else (20, 3)
  results = {}
  for kind, (cfg, batch, label) in cases.items():
    dev, compile_s = device_rate(cfg, batch, dev_reps)
    host = host_rate(kind, cfg, batch, host_reps)
    results[kind] = {"batch": label, "device_pairs_per_s": round(dev, 1), "host_pairs_per_s": round(host, 1),
                     "ratio": round(dev / host, 2), "compile_s": round(compile_s, 2)}
  print(f"device: {jax.devices()[0].device_kind} x{jax.device_count()} ({jax.default_backend()})")
  print(f"{'case':<8} {'batch':<22} {'device pairs/s':>15} {'host pairs/s':>13} {'ratio':>7} {'compile s':>10}")
  for kind, r in results.items():
    print(f"{kind:<8} {r['batch']:<22} {r['device_pairs_per_s']:>15.1f} {r['host_pairs_per_s']:>13.1f} "
          f"{r['ratio']:>7.2f} {r['compile_s']:>10.2f}")
  if _OUT.value:
    out = {"device_pairs_per_s": results["axial"]["device_pairs_per_s"],
           "host_pairs_per_s": results["axial"]["host_pairs_per_s"], "ratio": results["axial"]["ratio"],
           "cases": results, "backend": jax.default_backend(), "devices": jax.device_count(),
           "quick": _QUICK.value}
    path = pathlib.Path(_OUT.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
  app.run(main)
