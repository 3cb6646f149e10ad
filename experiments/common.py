"""What the model benchmarks share: the reference volume they score against and writing their numbers."""
from __future__ import annotations

import json
import os
import pathlib
import platform
import sys

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
