"""Reading volumes: native-dtype blocks of arrays or lazy array-likes, mapped to float32 in [0, 1]."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jax_iso.errors import UserError

ToUnit = Callable[[np.ndarray], np.ndarray]


def default_to_unit(block: np.ndarray) -> np.ndarray:
  """Casts a block to float32 unchanged (the data must already be in [0, 1])."""
  return np.asarray(block, dtype=np.float32)


def read_unit(vol: Any, index: Any, to_unit: ToUnit | None, name: str) -> np.ndarray:
  """Reads `vol[index]` in its native dtype and maps it to float32 with `to_unit` (default: a cast).

  With the default cast, values far outside [0, 1] (e.g. raw uint8) raise `UserError` naming `name`.
  """
  block = np.asarray(vol[index])
  out = np.asarray((to_unit or default_to_unit)(block), dtype=np.float32)
  if to_unit is None and out.size and (out.min() < -0.5 or out.max() > 1.5):
    raise UserError(f"intensities span [{out.min():g}, {out.max():g}], not [0, 1]; pass {name} to map "
                    f"{block.dtype} blocks to [0, 1] (e.g. lambda b: b / 255 for uint8).")
  if out.shape != block.shape:
    raise UserError(f"{name} changed a block's shape from {block.shape} to {out.shape}; "
                    "it must map intensities element-wise.")
  return out


def centre_crop(shape: Sequence[int], max_size: int) -> tuple[slice, slice, slice]:
  """Slices of a centred crop with at most `max_size` voxels per axis."""
  if int(max_size) < 16:
    raise UserError(f"fsc_max_size={max_size} is too small; use at least 16 (384 is the default).")
  sizes = [min(n, int(max_size)) for n in shape]
  crop = tuple(slice((n - c) // 2, (n - c) // 2 + c) for n, c in zip(shape, sizes))
  return crop  # type: ignore[return-value]
