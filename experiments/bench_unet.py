"""CARE U-Net against cubic interpolation on real FIB-SEM, at a fixed CPU training budget; and its speed.

  python experiments/bench_unet.py [--quick] [--minutes=10] [--variant=cpu] [--out=results/bench_unet.json]

Quality: sample2 (../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif, 250^3, 10 nm isotropic) gets box
sections at x3, x4 and x2.5 (`jobs.simulate`); each anisotropic volume is reconstructed by cubic interpolation
and by the U-Net fitted on that volume alone (`jobs.reconstruct --method=unet`: self-supervised, lateral crops
degraded on the device), trained for `--minutes` of wall time on this machine (the number of steps is set from
a timed pilot run of the same step), then scored against the original (PSNR, SSIM, FSC resolution along Z/X).
Speed: train samples/s and the achieved FLOP/s of the jitted train step (XLA's cost analysis) as a fraction of
the `jnp.dot` peak measured in the same run (2048^2 float32 matmul), and inference voxels/s of `predict`.
At x4 the same model also predicts with the other fusions of the xz and yz planes (geometric mean, xz alone).
--quick: x4 only, one minute of training.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

import jax
import numpy as np
from absl import app, flags

from jax_iso import jobs, methods
from jax_iso.jobs.predict import predict
from common import SAMPLE2, require_sample2, write_json  # experiments/common.py
from speed import dot_peak, step_speed  # experiments/speed.py

_QUICK = flags.DEFINE_bool("quick", False, "x4 only, one minute of training.")
_MINUTES = flags.DEFINE_float("minutes", 10.0, "Training wall time per factor.")
_VARIANT = flags.DEFINE_string("variant", None, "Variant of configs/unet.py (default: the one reconstruct uses).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  require_sample2()
  minutes = 1.0 if _QUICK.value else _MINUTES.value
  factors = (4.0,) if _QUICK.value else (3.0, 4.0, 2.5)
  variant = _VARIANT.value or methods.get("unet").default_variant(jax.default_backend())
  config = methods.get("unet").default_config(variant)
  peak = dot_peak()
  speed = step_speed(config, 4.0)
  rows = []
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for factor in factors:
      aniso = work / f"x{factor:g}.tif"
      jobs.simulate(SAMPLE2, aniso, factor=factor)
      cubic = work / f"x{factor:g}_cubic.tif"
      jobs.reconstruct(aniso, cubic, method="cubic")
      steps = max(1, int(minutes * 60 / speed["seconds_per_step"]))
      unet = work / f"x{factor:g}_unet.tif"
      run_dir = work / f"run_x{factor:g}"
      out = jobs.reconstruct(aniso, unet, method="unet", train_steps=steps, variant=variant, workdir=str(run_dir),
                             show_progress=False)
      outputs = [("cubic", cubic), ("unet", unet)]
      if factor == 4.0:   # the other ways to fuse the xz and yz predictions, same model
        for fuse in ("geometric", "xz"):
          outputs.append((f"unet-{fuse}", work / f"x4_unet_{fuse}.tif"))
          predict(str(run_dir), str(aniso), str(outputs[-1][1]), fuse=fuse)
      for name, path in outputs:
        r = jobs.evaluate(str(path), str(SAMPLE2), report_dir=str(work / f"report_{path.stem}"))
        rows.append({"factor": factor, "method": name, "psnr": r["psnr"], "ssim_xz": r["ssim_xz"],
                     "ssim_yz": r["ssim_yz"], "z_res_nm": r["resolution_nm"]["z"],
                     "x_res_nm": r["resolution_nm"]["x"],
                     **({"train_steps": steps, "train_seconds": out["fit"]["seconds"],
                         "predict_seconds": out["predict_seconds"],
                         "voxels_per_s": float(np.prod(out["output_shape"])) / out["predict_seconds"]}
                        if name == "unet" else {})})
      print(f"x{factor:g} done: " + ", ".join(f"{r['method']} {r['psnr']:.2f} dB" for r in rows
                                              if r["factor"] == factor), flush=True)
  print(f"U-Net variant {variant!r}: {config.model.to_dict()}, batch {config.data.batch_size} x "
        f"{config.data.crop}^2, {minutes:g} min of training per factor")
  print(f"{'factor':>6} {'method':<14} {'PSNR dB':>8} {'gain':>6} {'SSIM xz':>8} {'SSIM yz':>8} {'Z res':>7} "
        f"{'X res':>7}")
  for r in rows:
    base = next(b for b in rows if b["factor"] == r["factor"] and b["method"] == "cubic")
    print(f"{r['factor']:>6g} {r['method']:<14} {r['psnr']:>8.2f} {r['psnr'] - base['psnr']:>+6.2f} "
          f"{r['ssim_xz']:>8.4f} {r['ssim_yz']:>8.4f} {r['z_res_nm']:>7.1f} {r['x_res_nm']:>7.1f}")
  unet_rows = [r for r in rows if r["method"] == "unet"]
  print(f"train step: {speed['seconds_per_step']:.2f} s, {speed['samples_per_s']:.1f} samples/s, "
        f"{speed['flop_per_s'] / 1e9:.1f} GFLOP/s = {100 * speed['flop_per_s'] / peak:.0f} % of the jnp.dot "
        f"peak ({peak / 1e9:.0f} GFLOP/s); inference {np.mean([r['voxels_per_s'] for r in unet_rows]):,.0f} "
        "voxels/s")
  write_json(_OUT.value, {"variant": variant, "minutes": minutes, "rows": rows, "speed": speed,
              "dot_peak_flop_per_s": peak, "quick": _QUICK.value})


if __name__ == "__main__":
  app.run(main)
