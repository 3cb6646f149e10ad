"""Interpolation baselines on real isotropic FIB-SEM: quality table and end-to-end speed of the commands.

  python experiments/baselines.py [--quick] [--out=results/baselines.json]

Quality: each isotropic volume gets simulated box sections (`jax_iso.jobs.simulate`) at each factor, is
reconstructed with linear and cubic interpolation (`jobs.reconstruct`) and scored against the original
(`jobs.evaluate`): PSNR, SSIM per plane orientation, FSC resolution (1/7) in cones around Z and X.
Speed: `jax-iso simulate`, `reconstruct --method=cubic` and `evaluate` run as separate processes on a 250^3
volume, first with an empty XLA compilation cache (cold), then again with it filled (warm); wall seconds,
Python start-up included.
--quick: the shipped 160^3 sample at x3 and x4, plus the speed run (under a minute).
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from jax_iso import jobs, samples

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLE2 = SHARED / "flyem_medulla_fibsem_10nm_iso_sample2.tif"

_QUICK = flags.DEFINE_bool("quick", False, "Minute-scale run: the shipped sample at x3 and x4, and the speed run.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def quality(volumes: dict[str, pathlib.Path], factors, methods, work: pathlib.Path) -> list[dict]:
  rows = []
  for name, path in volumes.items():
    for factor in factors:
      aniso = work / f"{name}_x{factor:g}.tif"
      jobs.simulate(path, aniso, factor=factor)
      for method in methods:
        rec = work / f"{name}_x{factor:g}_{method}.tif"
        jobs.reconstruct(aniso, rec, method=method, factor=factor)
        r = jobs.evaluate(str(rec), str(path), report_dir=str(work / f"report_{rec.stem}"))
        rows.append({"volume": name, "factor": factor, "method": method, "psnr": r["psnr"],
                     "ssim_xy": r["ssim_xy"], "ssim_xz": r["ssim_xz"], "ssim_yz": r["ssim_yz"],
                     "z_res_nm": r["resolution_nm"]["z"], "x_res_nm": r["resolution_nm"]["x"],
                     "x_res_limited": r["resolution_limited"]["x"]})
  return rows


def speed(volume: pathlib.Path, work: pathlib.Path) -> dict:
  """Wall seconds of each command as its own process, with a cold and then a warm compilation cache."""
  aniso, rec = work / "speed_aniso.tif", work / "speed_rec.tif"
  commands = {
      "simulate": ["simulate", f"--input={volume}", f"--output={aniso}", "--factor=4"],
      "reconstruct": ["reconstruct", f"--input={aniso}", f"--output={rec}", "--method=cubic"],
      "evaluate": ["evaluate", f"--pred={rec}", f"--ref={volume}", f"--report_dir={work / 'speed_report'}"],
  }
  env = dict(os.environ, JAX_ISO_PROGRESS="0", JAX_COMPILATION_CACHE_DIR=str(work / "xla_cache"))
  out = {"volume": volume.name}
  for cache in ("cold", "warm"):
    for name, args in commands.items():
      start = time.perf_counter()
      subprocess.run([sys.executable, "-m", "jax_iso", *args], env=env, check=True, capture_output=True)
      out[f"{name}_{cache}_s"] = round(time.perf_counter() - start, 2)
    out[f"total_{cache}_s"] = round(sum(out[f"{n}_{cache}_s"] for n in commands), 2)
  return out


def print_tables(rows: list[dict], timing: dict) -> None:
  head = f"{'volume':<10} {'factor':>6} {'method':<7} {'PSNR dB':>8} {'SSIM xy':>8} {'SSIM xz':>8} " \
         f"{'SSIM yz':>8} {'Z res nm':>9} {'X res nm':>9}"
  print(head)
  print("-" * len(head))
  for r in rows:
    x_res = ("<=" if r["x_res_limited"] else "") + f"{r['x_res_nm']:.1f}"
    print(f"{r['volume']:<10} {r['factor']:>6g} {r['method']:<7} {r['psnr']:>8.2f} {r['ssim_xy']:>8.4f} "
          f"{r['ssim_xz']:>8.4f} {r['ssim_yz']:>8.4f} {r['z_res_nm']:>9.1f} {x_res:>9}")
  print(f"\nend-to-end on {timing['volume']} (250^3 uint8), seconds per command as its own process:")
  for cache in ("cold", "warm"):
    print(f"  {cache} compile cache: simulate {timing[f'simulate_{cache}_s']:.2f}, reconstruct "
          f"{timing[f'reconstruct_{cache}_s']:.2f}, evaluate {timing[f'evaluate_{cache}_s']:.2f}, "
          f"total {timing[f'total_{cache}_s']:.2f}")


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  if not SAMPLE2.exists():
    sys.exit(f"{SAMPLE2} is missing: this benchmark needs ../shared/data beside the project")
  volumes = {"shipped": samples.FIBSEM_10NM}
  factors = (3.0, 4.0)
  if not _QUICK.value:
    volumes["sample2"] = SAMPLE2
    factors = (2.5, 3.0, 4.0)
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    start = time.perf_counter()
    rows = quality(volumes, factors, ("linear", "cubic"), work)
    timing = speed(SAMPLE2, work)
  print_tables(rows, timing)
  result = {"quality": rows, "speed": timing, "quick": _QUICK.value, "cpu_count": os.cpu_count(),
            "seconds": round(time.perf_counter() - start, 1)}
  if _OUT.value:
    out = pathlib.Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
