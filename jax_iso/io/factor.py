"""Validation of anisotropy factors and voxel spacings given by the user or read from a file."""
from __future__ import annotations

import math

from jax_iso.errors import UserError

MAX_FACTOR = 64.0  # 2 nm pixels with 128 nm sections; beyond that there is nothing to reconstruct from
_TOL = 0.01        # relative tolerance when comparing a factor with a spacing ratio


def check_factor(factor: float) -> float:
  """Returns `factor` as a float, or raises UserError if it is not in (1, MAX_FACTOR]."""
  try:
    factor = float(factor)
  except (TypeError, ValueError):
    raise UserError(f"factor {factor!r} is not a number; pass e.g. factor=4 or factor=2.5") from None
  if not math.isfinite(factor) or factor <= 1.0:
    raise UserError(f"factor {factor:g} must be > 1 (the Z spacing divided by the XY spacing), "
                    "e.g. factor=4 for 10 nm pixels and 40 nm sections")
  if factor > MAX_FACTOR:
    raise UserError(f"factor {factor:g} is absurd (more than {MAX_FACTOR:g}); check factor={factor:g} or the "
                    "Z,Y,X order of spacing=Z,Y,X")
  return factor


def _lateral(spacing: tuple[float, float, float], origin: str) -> float:
  _, sy, sx = spacing
  if abs(sy - sx) > _TOL * max(sy, sx):
    raise UserError(f"Y and X spacing differ ({sy:g} vs {sx:g} nm, from {origin}); jax_iso needs square "
                    "pixels: resample the XY planes first, or pass spacing=Z,Y,X if the metadata is wrong")
  return sx


def resolve_factor(factor: float | None, spacing_flag: tuple[float, float, float] | None,
                   file_spacing: tuple[float, float, float] | None,
                   file_origin: str | None = None) -> tuple[float, tuple[float, float, float] | None]:
  """Decides the anisotropy factor of an input volume from the factor and spacing settings and the file's voxel size.

  A given spacing overrides the file. A factor that contradicts the spacing in use is an error (with the fix), so a
  wrong setting or wrong metadata never silently produces a volume on a wrong grid.

  Returns:
    (factor, spacing) where spacing is the input's (z, y, x) in nm, or None when unknown.
  """
  spacing, origin = (spacing_flag, "the given spacing") if spacing_flag is not None else (
      file_spacing, file_origin or "the file's metadata")
  if spacing is None:
    if factor is None:
      raise UserError("the input has no voxel size in its metadata; pass factor=F (Z spacing / XY "
                      "spacing) or spacing=Z,Y,X in nm")
    return check_factor(factor), None
  implied = spacing[0] / _lateral(spacing, origin)
  if factor is None:
    if implied <= 1.0 + _TOL:
      raise UserError(f"the input is already isotropic (spacing {_fmt(spacing)} nm from {origin}); if its "
                      "sections are thicker, pass spacing=Z,Y,X")
    return check_factor(implied), spacing
  factor = check_factor(factor)
  if abs(implied - factor) > _TOL * factor:
    fix = (f"drop factor={factor:g} or fix spacing=Z,Y,X" if spacing_flag is not None else
           f"pass spacing=Z,Y,X to override the file's voxel size, or drop factor={factor:g}")
    raise UserError(f"factor={factor:g} contradicts the spacing {_fmt(spacing)} nm from {origin} "
                    f"(factor {implied:g}); {fix}")
  return factor, spacing


def _fmt(spacing) -> str:
  return ",".join(f"{s:g}" for s in spacing)
