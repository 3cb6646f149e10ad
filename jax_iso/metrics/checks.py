"""Input checks shared by the metrics; bad input raises a one-line `UserError`."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jax_iso.errors import UserError

SSIM_MIN_SIZE = 11  # the SSIM window has 11 taps and is applied without padding


def shape_of(vol: Any, name: str) -> tuple[int, int, int]:
  """Returns the (Z, Y, X) shape of an array-like volume, or raises `UserError` if it is not 3D."""
  shape = getattr(vol, "shape", None)
  if shape is None:
    raise UserError(f"{name} has no .shape ({type(vol).__name__}); pass a 3D (Z, Y, X) array or array-like.")
  shape = tuple(int(s) for s in shape)
  if len(shape) != 3:
    raise UserError(f"{name} has shape {shape}, not 3D; pass a single-channel (Z, Y, X) volume.")
  if min(shape) < 1:
    raise UserError(f"{name} has an empty axis (shape {shape}); pass a non-empty (Z, Y, X) volume.")
  return shape  # type: ignore[return-value]


def pair_shape(pred: Any, ref: Any) -> tuple[int, int, int]:
  """Returns the common shape of `pred` and `ref`, or raises `UserError` if they differ or are not 3D."""
  pred_shape, ref_shape = shape_of(pred, "prediction"), shape_of(ref, "reference")
  if pred_shape != ref_shape:
    raise UserError(f"prediction shape {pred_shape} differs from reference shape {ref_shape}; "
                    "resample or crop them to the same (Z, Y, X) grid first.")
  return pred_shape


def check_ssim_size(shape: Sequence[int]) -> None:
  if min(shape) < SSIM_MIN_SIZE:
    raise UserError(f"volume shape {tuple(shape)} is too small for SSIM; every axis needs at least "
                    f"{SSIM_MIN_SIZE} voxels (the Gaussian window size).")


def spacing_of(spacing: Sequence[float] | None) -> tuple[float, float, float]:
  """Returns spacing as three positive floats (z, y, x); None means 1 voxel per axis."""
  if spacing is None:
    return (1.0, 1.0, 1.0)
  try:
    values = tuple(float(s) for s in spacing)
  except (TypeError, ValueError):
    raise UserError(f"spacing {spacing!r} is not numeric; pass three numbers (z, y, x) in nm.") from None
  if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
    raise UserError(f"spacing {spacing!r} is invalid; pass three positive numbers (z, y, x) in nm.")
  return values  # type: ignore[return-value]
