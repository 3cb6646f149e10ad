"""Voxel spacing: units, tidy floats and the `spacing=z,y,x` parser."""
from __future__ import annotations

import math
import re

from jax_iso.errors import UserError

Spacing = tuple[float, float, float]  # (z, y, x) in nanometres
MAX_SPACING_NM = 1e9  # 1 m: a voxel size at or above this is a broken header or a typo, not a volume

# Nanometres per unit; keys are lower-case. Unit-less names map to None (spacing unknown).
_NM_PER_UNIT: dict[str, float | None] = {
    "pm": 1e-3, "picometer": 1e-3, "picometre": 1e-3,
    "å": 0.1, "\u212b": 0.1, "angstrom": 0.1, "angström": 0.1, "ångström": 0.1,
    "nm": 1.0, "nanometer": 1.0, "nanometre": 1.0, "nanometers": 1.0, "nanometres": 1.0,
    "um": 1e3, "µm": 1e3, "μm": 1e3, "\\u00b5m": 1e3, "micron": 1e3, "microns": 1e3,
    "micrometer": 1e3, "micrometre": 1e3, "micrometers": 1e3, "micrometres": 1e3,
    "mm": 1e6, "millimeter": 1e6, "millimetre": 1e6,
    "cm": 1e7, "centimeter": 1e7, "centimetre": 1e7,
    "m": 1e9, "meter": 1e9, "metre": 1e9,
    "inch": 2.54e7, "in": 2.54e7,
    "": None, "pixel": None, "pixels": None, "px": None, "none": None,
}


def nm_per_unit(unit: str | None) -> float | None:
  """Nanometres in one `unit` (e.g. 'micron' -> 1000.0); None when unit-less or unknown."""
  if unit is None:
    return None
  return _NM_PER_UNIT.get(str(unit).strip().lower())


def tidy(value: float) -> float:
  """Rounds to 10 significant digits, so 0.0046 um * 1000 reads back as 4.6 nm, not 4.6000000000000005."""
  return float(f"{float(value):.10g}")


def _in_range(value: float) -> bool:
  return math.isfinite(value) and 0 < value < MAX_SPACING_NM


def valid_spacing(values) -> Spacing | None:
  """(z, y, x) as tidy floats when all are finite, positive and below MAX_SPACING_NM, else None."""
  try:
    out = tuple(tidy(v) for v in values)
  except (TypeError, ValueError):
    return None
  if len(out) != 3 or not all(_in_range(v) for v in out):
    return None
  return out  # type: ignore[return-value]


def parse_spacing(text: str) -> Spacing:
  """Parses '40,4,4' (nm, z,y,x; also '40x4x4' or '40 4 4') into (40.0, 4.0, 4.0)."""
  example = "e.g. spacing=40,4,4 for 40 nm sections of 4 nm pixels"
  parts = [p for p in re.split(r"[,x\s]+", str(text).strip().lower()) if p]
  try:
    values = tuple(float(p) for p in parts)
  except ValueError:
    raise UserError(f"spacing '{text}' is not three numbers; give the voxel size in nm as z,y,x "
                    f"({example})") from None
  if len(values) != 3:
    raise UserError(f"spacing '{text}' has {len(values)} numbers; give three, the voxel size in nm as "
                    f"z,y,x ({example})")
  for part, value in zip(parts, values):
    if not _in_range(value):
      raise UserError(f"spacing '{text}' has {part}, not a positive number below 1e9 nm (1 m); "
                      f"give the voxel size in nm as z,y,x ({example})")
  return values  # type: ignore[return-value]
