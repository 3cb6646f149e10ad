"""jax_iso's equivalent of a case of ../shared/peers (the PyTorch references), timed the same way on this CPU.

  ../shared/peers/bench isovem_x8_train_b2 > /tmp/peer.json            # the reference, just before
  python experiments/speed_vs_peers.py --case=isovem_x8_train_b2 --peer=/tmp/peer.json --out=results/x.json

Cases (same input and output sizes and the same content of one call as the reference's, `peers/README.md`):
- isovem_x8_train_b2: EMformer at IsoVEM's x8 sizes (configs/emformer.py default), one jitted train step on 2
  clips of 16 frames x 128 x 128: sections along Y made on the device (x8 box), forward, L1 + (1 - SSIM),
  backward, Adam update. Output voxels 2 x 16 x 128 x 128.
- isovem_x8_infer_d128 / isovem_x8_infer_d16: one forward of 128 (16) frames of 16 sections x 128 -> 128 x 128.
- uformer_t_train_b4: A2I-3DEM at Uformer-T's sizes (width 16, 2 blocks in each of 9 stages, window 8), one
  jitted train step (axial pairs made on the device, L1 + PDL, Adam) on 4 images of 128 x 128.
- emdiffuse_n_train_b3: EMDiffuse-n's U-Net at the reference's sizes (configs/emdiffuse_n.py default, dropout
  0.2 on), one jitted train step on 3 clean images of 256 x 256: the noisy conditions made on the device, random
  noise level, noisy target, U-Net, MSE on the noise, backward, clipped Adam 5e-5 (the EMA update apart, as the
  reference times it: train.ema = 0).
- emdiffuse_n_step_b1: one sampling step at t = 1/2 (U-Net on condition + z_t, then the posterior update to
  the next of 1000 steps) on one 256 x 256 image.
- vemdiffuse_i_train_b3 / vemdiffuse_i_step_b1: the same for vEMDiffuse-i (configs/vemdiffuse_i.py default: the
  U-Net at the reference's sizes with the position embedding), the condition being the sections below and above
  (made on the device from clips of 256 rows) and the position map (the reference: the two sections and an index
  embedding of which of 5 slices).
The train steps are the ones training runs (`experiments/speed.py` `train_step_fn`: `jax_iso.train.engine`).
Timing as the references': compile excluded, 3 warm-up calls, then the median of >= 5 calls (more, up to 20,
while under 10 s in all), `block_until_ready`. The reference runs with glibc's malloc kept from returning freed
memory (GLIBC_TUNABLES, its fastest setting); so does this script (it re-executes itself with the same setting:
XLA's CPU runtime allocates its temporaries per call and was up to 2.5x slower on page faults without it).
"""
from __future__ import annotations

import json
import os
import sys
import time

TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
if os.environ.get("GLIBC_TUNABLES") != TUNABLES and __name__ == "__main__":
  os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, "GLIBC_TUNABLES": TUNABLES})

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from configs import a2i_3dem, emdiffuse_n, emformer, vemdiffuse_i  # noqa: E402
from jax_iso.diffusion import samplers  # noqa: E402
from jax_iso.models import build_model  # noqa: E402
from jax_iso.train.diffusion_objective import Diffusion  # noqa: E402
from jax_iso.train.inputs import crop_spec  # noqa: E402
from common import cpu_name, write_json  # noqa: E402  experiments/common.py
from speed import dot_peak, train_step_fn  # noqa: E402  experiments/speed.py

CASES = ("isovem_x8_train_b2", "isovem_x8_infer_d128", "isovem_x8_infer_d16", "uformer_t_train_b4",
         "emdiffuse_n_train_b3", "emdiffuse_n_step_b1", "vemdiffuse_i_train_b3", "vemdiffuse_i_step_b1")
flags.DEFINE_enum("case", None, CASES, "The reference case to match.")
flags.DEFINE_string("peer", None, "The reference's JSON line (../shared/peers/bench CASE > FILE): print the ratio.")
flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
flags.DEFINE_bool("quick", False, "1 warm-up and 3 timed calls (as bench --quick).")
FLAGS = flags.FLAGS


def measure(call, quick: bool) -> list[float]:
  """Wall times of `call()` (which blocks), after warm-ups; as peers/bench.py."""
  for _ in range(1 if quick else 3):
    call()
  times = []
  while len(times) < 3 if quick else (len(times) < 5 or (len(times) < 20 and sum(times) < 10.0)):
    t = time.perf_counter()
    call()
    times.append(time.perf_counter() - t)
  return times


def emformer_x8():
  cfg = emformer.get_config()
  cfg.model.factor = 8.0
  cfg.pairs.factor = 8.0
  return cfg


def train_case(cfg, batch: int, shape: tuple[int, ...]):
  cfg.data.batch_size = batch
  fn, state, crops = train_step_fn(cfg, (batch,) + shape)
  holder = {"state": state}

  def call():
    holder["state"], m = fn(holder["state"], crops, jax.random.key(1))
    jax.block_until_ready(m)
  flops = fn.lower(state, crops, jax.random.key(1)).compile().cost_analysis()
  return call, batch * int(np.prod(shape)), flops


def infer_case(depth: int):
  cfg = emformer_x8()
  model = build_model(cfg.model)
  x = jnp.asarray(np.random.default_rng(0).random((1, depth, 16, 128), np.float32))
  params = model.init(jax.random.key(0), x[:, :16])
  fn = jax.jit(lambda p, v: model.apply(p, v))
  flops = fn.lower(params, x).compile().cost_analysis()
  return (lambda: fn(params, x).block_until_ready()), depth * 128 * 128, flops


def diffusion_train_case(vem: bool):
  """EMDiffuse-n (or vEMDiffuse-i) at the reference's sizes: a train step on 3 crops (vEM: clips of 256 rows
  of the sections around a fine plane) giving 3 planes of 256 x 256, the moving average off."""
  cfg = vemdiffuse_i.get_config() if vem else emdiffuse_n.get_config()
  cfg.train.ema = 0.0
  call, _, flops = train_case(cfg, 3, crop_spec(cfg)[1])
  return call, 3 * 256 * 256, flops


def diffusion_step_case(vem: bool):
  """One sampling step of EMDiffuse-n (or vEMDiffuse-i) at the reference's sizes on one image."""
  cfg = vemdiffuse_i.get_config() if vem else emdiffuse_n.get_config()
  model, objective = build_model(cfg.model), Diffusion(cfg)
  rng = np.random.default_rng(0)
  chans = 3 if vem else 1                       # vEM: section below, section above, position
  cond = jnp.asarray(rng.random((1, 256, 256, chans), np.float32))
  params = model.init(jax.random.key(0), jnp.zeros((1, 256, 256, chans + 1)), jnp.zeros(1))
  z = jnp.asarray(rng.standard_normal((1, 256, 256, 1)), jnp.float32)
  t, s = jnp.float32(0.5), jnp.float32(0.5 - 1.0 / 1000)

  @jax.jit
  def one(p, z, key):
    denoise = objective.denoiser(model, p, cond * 2.0 - 1.0)
    x0, eps = samplers.estimate(denoise, objective.schedule, z, t, prediction=objective.prediction)
    return samplers.ddpm_step(z, x0, eps, t, s, jax.random.normal(key, z.shape), objective.schedule)
  flops = one.lower(params, z, jax.random.key(1)).compile().cost_analysis()
  return (lambda: one(params, z, jax.random.key(1)).block_until_ready()), 256 * 256, flops


def main(argv):
  del argv
  case = FLAGS.case
  if case == "isovem_x8_train_b2":
    call, voxels, flops = train_case(emformer_x8(), 2, (16, 128, 128))
  elif case in ("emdiffuse_n_train_b3", "vemdiffuse_i_train_b3"):
    call, voxels, flops = diffusion_train_case(vem=case.startswith("vem"))
  elif case.startswith(("emdiffuse_n_", "vemdiffuse_i_")):
    call, voxels, flops = diffusion_step_case(vem=case.startswith("vem"))
  elif case.startswith("isovem_x8_infer_d"):
    call, voxels, flops = infer_case(int(case.rsplit("_d", 1)[1]))
  else:
    cfg = a2i_3dem.get_config()       # Uformer-T: width 16, 2 blocks a stage, window 8, LeFF x4, no drop path
    cfg.model.update({"width": 16, "depths": (2,) * 9, "heads": (1, 2, 4, 8, 16, 16, 8, 4, 2), "window": 8,
                      "ffn_ratio": 4.0, "gated": False, "drop_path": 0.0})
    cfg.pairs.factor = 4.0
    call, voxels, flops = train_case(cfg, 4, (128, 128))
  flops = float((flops[0] if isinstance(flops, list) else flops).get("flops", 0.0))
  times = measure(call, FLAGS.quick)
  median = float(np.median(times))
  out = {"case": case, "time_s": round(median, 5), "times_s": [round(t, 4) for t in times], "out_voxels": voxels,
         "voxels_per_s": round(voxels / median, 1), "gflop_xla": round(flops / 1e9, 3),
         "gflops_per_s": round(flops / 1e9 / median, 2), "dot_peak_gflops": round(dot_peak() / 1e9, 1),
         "cpu": cpu_name(), "devices": jax.device_count(), "jax": jax.__version__,
         "quick": FLAGS.quick, "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
         "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  rows = [("case", case), ("time per call", f"{median:.3f} s"), ("output voxels/s", f"{out['voxels_per_s']:,.0f}"),
          ("XLA GFLOP/s", f"{out['gflops_per_s']:.1f} (matmul peak {out['dot_peak_gflops']:.0f})")]
  if FLAGS.peer:
    peer = _peer_line(FLAGS.peer, case)
    out["peer"] = {k: peer.get(k) for k in ("time_s", "voxels_per_s", "gflop", "cpu", "torch", "utc", "quick")}
    out["ratio"] = round(out["voxels_per_s"] / float(peer["voxels_per_s"]), 3)
    rows += [("reference voxels/s", f"{float(peer['voxels_per_s']):,.0f} ({peer.get('time_s')} s per call)"),
             ("ratio (jax_iso / reference)", f"{out['ratio']:.2f}x")]
  width = max(len(r[0]) for r in rows)
  print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
  write_json(FLAGS.out, out)


def _peer_line(path: str, case: str) -> dict:
  for line in open(path):
    line = line.strip()
    if line.startswith("{"):
      rec = json.loads(line)
      if rec.get("case") == case:
        return rec
  sys.exit(f"{path} holds no JSON line of case {case}; run ../shared/peers/bench {case} > {path}")


if __name__ == "__main__":
  flags.mark_flag_as_required("case")
  app.run(main)
