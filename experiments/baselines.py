"""Interpolation baselines on real isotropic FIB-SEM: quality table and end-to-end speed of the commands.

  python experiments/baselines.py [--quick] [--out=results/baselines.json]

Quality: each isotropic volume gets simulated box sections (`jax_iso.jobs.simulate`) at each factor, is
reconstructed with linear and cubic interpolation (`jobs.reconstruct`) and scored against the original
(`jobs.evaluate`): PSNR, SSIM per plane orientation, FSC resolution (1/7) in cones around Z and X.
Speed: `jax-iso simulate`, `reconstruct --method=cubic` and `evaluate` run as separate processes on a 250^3
volume, first with an empty XLA compilation cache (cold), then again with it filled (warm); wall seconds,
Python start-up included, and each process's peak resident memory.
Large: the same commands on a 960 x 480 x 600 uint8 volume (276 MB, sample2 mirrored), to show that memory
stays bounded (reconstruct writes both TIFF and OME-Zarr).
--quick: the shipped 160^3 sample at x3 and x4, plus the 250^3 speed run (under a minute).
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

import numpy as np

from jax_iso import io, jobs, samples

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


# A tiny launcher process measures the command: ru_maxrss of a child forked straight from this (large)
# process would count the memory it inherited before exec.
_LAUNCHER = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
             "_, status, usage = os.wait4(p.pid, 0); print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))")


def run_command(args: list[str], env: dict) -> tuple[float, float]:
  """Runs `jax-iso ARGS` as its own process; returns (wall seconds, peak resident memory in GB)."""
  start = time.perf_counter()
  done = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "jax_iso", *args], env=env,
                        capture_output=True, text=True, check=False)
  seconds = time.perf_counter() - start
  peak_kb, code = (int(v) for v in done.stdout.split())
  if code != 0:
    sys.exit(f"jax-iso {' '.join(args)} failed: {done.stderr}")
  return round(seconds, 2), round(peak_kb / 2**20, 2)  # ru_maxrss is in KB on Linux


def commands(volume: pathlib.Path, work: pathlib.Path, tag: str) -> dict[str, list[str]]:
  aniso, rec = work / f"{tag}_aniso.tif", work / f"{tag}_rec.tif"
  return {
      "simulate": ["simulate", f"--input={volume}", f"--output={aniso}", "--factor=4"],
      "reconstruct": ["reconstruct", f"--input={aniso}", f"--output={rec}", "--method=cubic"],
      "reconstruct_zarr": ["reconstruct", f"--input={aniso}", f"--output={work / tag}_rec.ome.zarr",
                           "--method=cubic"],
      "evaluate": ["evaluate", f"--pred={rec}", f"--ref={volume}", f"--report_dir={work / tag}_report"],
  }


def speed(volume: pathlib.Path, work: pathlib.Path) -> dict:
  """Each command as its own process, with a cold and then a warm compilation cache."""
  env = dict(os.environ, JAX_ISO_PROGRESS="0", JAX_COMPILATION_CACHE_DIR=str(work / "xla_cache"))
  cmds = commands(volume, work, "speed")
  del cmds["reconstruct_zarr"]
  out = {"volume": volume.name}
  for cache in ("cold", "warm"):
    for name, args in cmds.items():
      out[f"{name}_{cache}_s"], out[f"{name}_{cache}_peak_gb"] = run_command(args, env)
    out[f"total_{cache}_s"] = round(sum(out[f"{n}_{cache}_s"] for n in cmds), 2)
  return out


def large(volume: pathlib.Path, work: pathlib.Path) -> dict:
  """The commands on a 276 MB volume made by mirroring `volume`: seconds and peak memory."""
  vol, _ = io.read_volume(volume)
  big = np.concatenate([vol, vol[:, ::-1]], axis=1)                       # Y 500
  big = np.concatenate([big, big[::-1]], axis=0)                          # Z 500
  big = np.concatenate([big, big[:, :, ::-1], big], axis=2)[:480, :480, :600]
  big = np.ascontiguousarray(np.concatenate([big, big[::-1]], axis=0))    # 960 x 480 x 600
  path = work / "large_iso.tif"
  io.write_volume(path, big, (10.0, 10.0, 10.0))
  env = dict(os.environ, JAX_ISO_PROGRESS="0", JAX_COMPILATION_CACHE_DIR=str(work / "xla_cache"))
  out = {"shape": list(big.shape), "megabytes": round(big.nbytes / 1e6, 1)}
  del vol, big
  for name, args in commands(path, work, "large").items():
    out[f"{name}_s"], out[f"{name}_peak_gb"] = run_command(args, env)
  return out


def print_tables(rows: list[dict], timing: dict, big: dict | None) -> None:
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
    print(f"  {cache} compile cache: " + ", ".join(
        f"{n} {timing[f'{n}_{cache}_s']:.2f} s ({timing[f'{n}_{cache}_peak_gb']:.2f} GB)"
        for n in ("simulate", "reconstruct", "evaluate")) + f", total {timing[f'total_{cache}_s']:.2f} s")
  if big:
    print(f"\nlarge volume {' x '.join(map(str, big['shape']))} uint8 ({big['megabytes']} MB), seconds "
          "(peak memory) per command:")
    print("  " + ", ".join(f"{n} {big[f'{n}_s']:.1f} s ({big[f'{n}_peak_gb']:.2f} GB)"
                           for n in ("simulate", "reconstruct", "reconstruct_zarr", "evaluate")))


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
    big = None if _QUICK.value else large(SAMPLE2, work)
  print_tables(rows, timing, big)
  result = {"quality": rows, "speed": timing, "large": big, "quick": _QUICK.value, "cpu_count": os.cpu_count(),
            "seconds": round(time.perf_counter() - start, 1)}
  if _OUT.value:
    out = pathlib.Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
  app.run(main)
