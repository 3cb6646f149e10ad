"""A2I-3DEM against the U-Net and cubic interpolation on real FIB-SEM at an equal CPU time budget; its speed.

  python experiments/bench_a2i.py [--quick] [--minutes=20] [--factors=3,4,2.5] [--methods=unet,a2i]
      [--out=results/bench_a2i.json]

Quality: the paper's protocol on our 10 nm data: sample2 (../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif,
250^3, 10 nm isotropic) gets box sections of each factor (x3: 10 nm -> 30 nm, as the paper's 15 -> 45 nm), and
each anisotropic volume is reconstructed by cubic interpolation and by every learned method fitted on that
volume alone (`jobs.reconstruct`, the method's `cpu` variant), each trained for `--minutes` of step time on this
machine (steps = minutes x 60 / the median time of its jitted train step, measured first), then scored against
the original: PSNR, SSIM of the xz and yz planes, FSC resolution along Z and X.
Speed: for each method, the train step's seconds, samples/s, output pixels/s and achieved FLOP/s (XLA's cost
analysis) as a fraction of the `jnp.dot` peak measured in the same run; A2I at Uformer-T's size (width 16,
depths 2 x 9, heads 1..16, window 8, LeFF x4) at batch 4 of 128^2 against the PyTorch Uformer-T on this CPU
(../shared/PEERS.md: 73,000 output px/s); inference planes/s and voxels/s of `predict` (xz and yz planes).
--quick: x3 only, one minute of training per method.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

import numpy as np
from absl import app, flags

import jax

from jax_iso import jobs, methods
from common import SAMPLE2, require_sample2, write_json  # experiments/common.py
from speed import dot_peak, step_speed  # experiments/speed.py

UFORMER_T_PX_PER_S = 73_000   # ../shared/PEERS.md: PyTorch Uformer-T, train, batch 4, 128^2, this CPU
UFORMER_T = {"width": 16, "depths": (2,) * 9, "heads": (1, 2, 4, 8, 16, 16, 8, 4, 2), "window": 8,
             "ffn_ratio": 4.0, "gated": False, "drop_path": 0.0}
_QUICK = flags.DEFINE_bool("quick", False, "x3 only, one minute of training per method.")
_MINUTES = flags.DEFINE_float("minutes", 20.0, "Training step time per method and factor.")
_FACTORS = flags.DEFINE_list("factors", ["3", "4", "2.5"], "Anisotropy factors simulated from sample2.")
_METHODS = flags.DEFINE_list("methods", ["unet", "a2i"], "Learned methods to compare with cubic.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def _variant(method: str) -> str | None:
  """The config variant `jax-iso reconstruct` trains on this backend."""
  return methods.get(method).default_variant(jax.default_backend())


def uformer_t_speed() -> dict:
  """A2I at Uformer-T's size, batch 4 of 128^2 (PEERS.md's case), with the plain L1 loss."""
  config = methods.get("a2i").default_config("cpu")
  config.model.update(UFORMER_T)
  config.data.update({"batch_size": 4, "crop": 128})
  config.pdl.weight = 0.0
  speed = step_speed(config, 3.0)
  return speed | {"vs_pytorch_uformer_t": speed["pixels_per_s"] / UFORMER_T_PX_PER_S}


def fit_and_score(method: str, aniso: pathlib.Path, work: pathlib.Path, steps: int, factor: float) -> dict:
  out_path = work / f"x{factor:g}_{method}.tif"
  out = jobs.reconstruct(aniso, out_path, method=method, train_steps=steps, variant=_variant(method),
                         workdir=str(work / f"run_{method}_x{factor:g}"), show_progress=False)
  score = jobs.evaluate(str(out_path), str(SAMPLE2), report_dir=str(work / f"report_{method}_x{factor:g}"))
  planes = out["output_shape"][1] + out["output_shape"][2]     # xz planes (one per Y) + yz planes (one per X)
  return {"train_steps": steps, "train_seconds": out["fit"]["seconds"], "predict_seconds": out["predict_seconds"],
          "planes_per_s": planes / out["predict_seconds"],
          "voxels_per_s": float(np.prod(out["output_shape"])) / out["predict_seconds"],
          "eval_psnr_pairs": out["fit"]["eval_psnr"], **_scores(score)}


def _scores(r: dict) -> dict:
  return {"psnr": r["psnr"], "ssim_xz": r["ssim_xz"], "ssim_yz": r["ssim_yz"], "z_res_nm": r["resolution_nm"]["z"],
          "x_res_nm": r["resolution_nm"]["x"]}


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  require_sample2()
  minutes = 1.0 if _QUICK.value else _MINUTES.value
  factors = (3.0,) if _QUICK.value else tuple(float(f) for f in _FACTORS.value)
  peak = dot_peak()
  speeds = {m: step_speed(methods.get(m).default_config(_variant(m)), 3.0) for m in _METHODS.value}
  if "a2i" in _METHODS.value:
    speeds["a2i@uformer-t"] = uformer_t_speed()
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for factor in factors:
      aniso, cubic = work / f"x{factor:g}.tif", work / f"x{factor:g}_cubic.tif"
      jobs.simulate(SAMPLE2, aniso, factor=factor)
      jobs.reconstruct(aniso, cubic, method="cubic")
      rows.append({"factor": factor, "method": "cubic",
                   **_scores(jobs.evaluate(str(cubic), str(SAMPLE2), report_dir=str(work / "report_cubic")))})
      for method in _METHODS.value:
        steps = max(1, int(minutes * 60 / speeds[method]["seconds_per_step"]))
        rows.append({"factor": factor, "method": method, **fit_and_score(method, aniso, work, steps, factor)})
      print(f"x{factor:g} done: " + ", ".join(f"{r['method']} {r['psnr']:.2f} dB" for r in rows
                                              if r["factor"] == factor), flush=True)
  print(f"{minutes:g} min of training per method and factor; variants: "
        + ", ".join(f"{m} {_variant(m)!r}" for m in _METHODS.value))
  print(f"{'factor':>6} {'method':<6} {'steps':>6} {'PSNR dB':>8} {'gain':>6} {'SSIM xz':>8} {'SSIM yz':>8} "
        f"{'Z res':>7} {'X res':>7}")
  for r in rows:
    base = next(b for b in rows if b["factor"] == r["factor"] and b["method"] == "cubic")
    print(f"{r['factor']:>6g} {r['method']:<6} {r.get('train_steps', 0):>6} {r['psnr']:>8.2f} "
          f"{r['psnr'] - base['psnr']:>+6.2f} {r['ssim_xz']:>8.4f} {r['ssim_yz']:>8.4f} {r['z_res_nm']:>7.1f} "
          f"{r['x_res_nm']:>7.1f}")
  print(f"jnp.dot peak {peak / 1e9:.0f} GFLOP/s")
  print(f"{'train step':<14} {'s/step':>7} {'samples/s':>10} {'px/s':>9} {'GFLOP/s':>8} {'% peak':>7}")
  for name, s in speeds.items():
    print(f"{name:<14} {s['seconds_per_step']:>7.3f} {s['samples_per_s']:>10.1f} {s['pixels_per_s']:>9,.0f} "
          f"{s['flop_per_s'] / 1e9:>8.1f} {100 * s['flop_per_s'] / peak:>7.0f}")
  if "a2i@uformer-t" in speeds:
    print(f"A2I at Uformer-T's size: {speeds['a2i@uformer-t']['vs_pytorch_uformer_t']:.2f} x the PyTorch "
          f"Uformer-T's {UFORMER_T_PX_PER_S:,} px/s")
  for m in _METHODS.value:
    learned = [r for r in rows if r["method"] == m]
    print(f"inference {m}: {np.mean([r['planes_per_s'] for r in learned]):.1f} planes/s, "
          f"{np.mean([r['voxels_per_s'] for r in learned]):,.0f} voxels/s")
  write_json(_OUT.value, {"minutes": minutes, "factors": factors, "rows": rows, "speed": speeds,
              "dot_peak_flop_per_s": peak, "quick": _QUICK.value})


if __name__ == "__main__":
  app.run(main)
