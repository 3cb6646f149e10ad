"""What the model benchmarks share: the reference volume they score against and writing their numbers."""
from __future__ import annotations

import json
import pathlib
import sys

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
