"""What the model benchmarks share: the reference volume they score against, writing their numbers, and the
denoising baseline (BM3D with the noise level given) with the uncertainty's calibration."""
from __future__ import annotations

import json
import os
import pathlib
import platform
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE2 = ROOT.parent / "shared" / "data" / "flyem_medulla_fibsem_10nm_iso_sample2.tif"


def require_sample2() -> pathlib.Path:
  """sample2 (250^3 FlyEM FIB-SEM, 10 nm isotropic), or exit naming what is missing."""
  if not SAMPLE2.exists():
    sys.exit(f"{SAMPLE2} is missing: this benchmark needs ../shared/data beside the project")
  return SAMPLE2


def write_json(path: str | None, numbers: dict) -> None:
  """Writes `numbers` to `path` (creating its folder) and says so; nothing when `path` is None."""
  if not path:
    return
  out = pathlib.Path(path)
  out.parent.mkdir(parents=True, exist_ok=True)
  out.write_text(json.dumps(numbers, indent=1))
  print(f"wrote {out}")


def block_means(x: np.ndarray, block: int = 16) -> np.ndarray:
  """Means over whole block^3 cubes (the remainder at the far ends dropped), flattened."""
  z, y, w = (n // block * block for n in x.shape)
  x = x[:z, :y, :w].reshape(z // block, block, y // block, block, w // block, block)
  return x.mean(axis=(1, 3, 5)).ravel()


def cpu_name() -> str:
  """The CPU's model name (what `lscpu` calls "Model name", from /proc/cpuinfo), else what `platform` knows."""
  if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
      names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    if names:
      return names[0]
  return platform.processor() or platform.machine()


def noise_sigmas(spec: str, noisy: np.ndarray) -> list[float]:
  """The white-noise sigma BM3D is given per section for a noise `spec` ("gaussian:SIGMA": the true one;
  "poisson_gaussian:DOSE,READ": the RMS of the noise at the section's mean intensity)."""
  kind, _, values = spec.partition(":")
  if kind == "gaussian":
    return [float(values)] * len(noisy)
  dose, read = (float(v) for v in values.split(","))
  return [float(np.sqrt(n.mean() / dose + read ** 2)) for n in noisy]


def bm3d_sections(noisy: np.ndarray, sigmas: list[float]) -> tuple[np.ndarray, float]:
  """(each section of `noisy` [N, H, W] denoised by BM3D (`bm3d` package) with its sigma given, the mean
  seconds a section took)."""
  import bm3d  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  out = np.stack([bm3d.bm3d(n, sigma_psd=s) for n, s in zip(noisy, sigmas)]).astype(np.float32)
  return out, (time.perf_counter() - start) / len(noisy)


def calibration(mean: np.ndarray, std: np.ndarray, clean: np.ndarray, *, block: int = 16,
                threshold: float = 0.12) -> dict:
  """How well an uncertainty map `std` follows the true error of `mean` (all [N, H, W] in [0, 1]): the Spearman
  correlation of block x block means and of pixels, the share flagged at `threshold`, the mean |error| inside
  and outside the flags."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  err = np.abs(np.clip(mean, 0, 1) - clean)
  n, h, w = err.shape
  hb, wb = h // block * block, w // block * block

  def blocks(a):
    return a[:, :hb, :wb].reshape(n, hb // block, block, wb // block, block).mean(axis=(2, 4)).ravel()
  flags_ = std > threshold
  return {"spearman_blocks": round(float(stats.spearmanr(blocks(std), blocks(err)).statistic), 3),
          "spearman_pixels": round(float(stats.spearmanr(std.ravel(), err.ravel()).statistic), 3),
          "flagged_share": round(float(flags_.mean()), 4),
          "error_inside_flags": round(float(err[flags_].mean()), 4) if flags_.any() else None,
          "error_outside_flags": round(float(err[~flags_].mean()), 4)}
