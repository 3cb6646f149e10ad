"""From a stored N-D array (shape, axis letters) to the (Z, Y, X) view jax_iso works on.

Axis letters follow tifffile: Z, Y, X; C and S (samples, e.g. RGB) are channels; T is time; Q and I (ImageJ
slices of unknown kind) count as Z; '?' (or any other letter) is unknown. Singleton axes are dropped.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from jax_iso.errors import UserError

_CHANNEL = "CS"
_STACK = "ZQI"
_ALLOWED = ("uint8", "uint16", "float32")


@dataclasses.dataclass(frozen=True)
class Layout:
  """How a (Z, Y, X) view maps onto the stored array."""
  fixed: tuple[int | None, ...]  # per stored axis: the index it is fixed at, or None if it is kept
  order: tuple[int, int, int]    # the stored axes that become Z, Y and X
  shape: tuple[int, int, int]    # (Z, Y, X)
  z_from_time: bool = False      # Z is a time axis (slices saved as frames), so no file spacing applies to it


def presented_dtype(name: str, dtype: np.dtype) -> np.dtype:
  """The dtype a volume is read as: uint8, uint16 or float32 (float64 is cast); else UserError."""
  dtype = np.dtype(dtype)
  native = dtype.newbyteorder("=") if dtype.byteorder not in "=|" else dtype
  if native.name in _ALLOWED:
    return native
  if native == np.float64:
    return np.dtype(np.float32)
  raise UserError(f"{name} has dtype {native.name}; convert it to uint8, uint16 or float32 "
                  "(e.g. Fiji: Image > Type)")


def select(name: str, shape, axes: str | None, *, channel: int | None = None,
           timepoint: int | None = None) -> Layout:
  """Picks `channel` and `timepoint`, drops singleton axes and orders the rest as (Z, Y, X)."""
  shape = tuple(int(n) for n in shape)
  if any(n == 0 for n in shape):
    raise UserError(f"{name} is empty (shape {shape}); give a volume with at least one voxel per axis")
  letters = list(axes.upper()) if axes and len(axes) == len(shape) else ["?"] * len(shape)
  named = any(a != "?" for a in letters)
  if not named and len(shape) > 3 and channel is not None:
    letters[0] = "C"  # plain N-D array: the leading axis is the channel
  desc = f"axes {''.join(letters)}" if named or channel is not None else "no axis names"
  where = f"{name} (shape {shape}, {desc})"
  fixed: dict[int, int] = {}
  _pick(where, shape, letters, fixed, _CHANNEL, channel, "channel", "channel")
  _pick(where, shape, letters, fixed, "T", timepoint, "timepoint", "timepoint")
  kept = [i for i, n in enumerate(shape) if i not in fixed and n > 1]
  fixed.update({i: 0 for i, n in enumerate(shape) if i not in fixed and n == 1})
  if len(kept) < 3:
    raise UserError(f"{where} has only {len(kept)} non-singleton dimensions; jax_iso needs a 3D (Z, Y, X) "
                    "volume: save the slices as one multi-page TIFF")
  if len(kept) > 3:
    if not named and channel is None:
      raise UserError(f"{where} has {len(kept)} dimensions; jax_iso needs a 3D (Z, Y, X) volume: pick the "
                      "channel (the leading axis) with channel=N, or save a 3D array")
    raise UserError(f"{where} has {len(kept)} dimensions left after choosing channel and timepoint; "
                    "jax_iso needs a 3D (Z, Y, X) volume: pick one with channel=N or timepoint=N")
  order = _zyx_order(kept, letters)
  z_from_time = (axes or "").upper()[order[0]:order[0] + 1] == "T"
  return Layout(fixed=tuple(fixed.get(i) for i in range(len(shape))), order=order,
                shape=tuple(shape[i] for i in order), z_from_time=z_from_time)  # type: ignore[arg-type]


def _pick(where: str, shape, letters: list[str], fixed: dict[int, int], kinds: str, index: int | None,
          what: str, flag: str) -> None:
  """Fixes the axes of one kind (channel or time) at `index`, or raises a UserError saying how to pick."""
  axes = [i for i, a in enumerate(letters) if a in kinds]
  big = [i for i in axes if shape[i] > 1]
  if len(big) > 1:
    raise UserError(f"{where} has {len(big)} {what} axes; jax_iso reads one {what} at a time: save one "
                    f"{what} per file")
  for i in axes:
    fixed[i] = 0
  if index is None:
    if not big:
      return
    i, n = big[0], shape[big[0]]
    has_stack = any(a in _STACK and shape[j] > 1 for j, a in enumerate(letters) if j not in fixed)
    if what == "timepoint" and not has_stack:
      del fixed[i]
      letters[i] = "Z"  # slices saved as time frames (a common ImageJ mix-up): they are the Z axis
      return
    rgb = letters[i] == "S"
    if what == "channel" and not has_stack:
      if rgb:
        raise UserError(f"{where} is a 2D image with {n} samples per pixel (RGB-like); jax_iso needs a 3D "
                        "(Z, Y, X) volume: save the slices as one multi-page grayscale TIFF")
      raise UserError(f"{where} has {n} channels and no Z axis; if the channels are really Z slices, re-save "
                      "them as slices (Fiji: Image > Hyperstacks > Re-order Hyperstacks; tifffile: "
                      "metadata={'axes': 'ZYX'})")
    if rgb:
      raise UserError(f"{where} is RGB-like with {n} samples per pixel; convert it to grayscale (Fiji: Image "
                      f"> Type > 8-bit) or pick one with channel=N")
    raise UserError(f"{where} has {n} {what}s; pick one with {flag}=N (0 to {n - 1})")
  if not axes:
    if index != 0:
      raise UserError(f"{where} has no {what} axis; leave out {flag}={index}")
    return
  size = shape[big[0]] if big else 1
  if not 0 <= index < size:
    raise UserError(f"{flag}={index} is out of range: {where} has {size} {what}"
                    f"{'s' if size != 1 else ''}; pick one from 0 to {size - 1}")
  if big:
    fixed[big[0]] = index


def _zyx_order(kept: list[int], letters: list[str]) -> tuple[int, int, int]:
  """Orders three kept axes as Z, Y, X by their letters, or by position when the letters do not say."""
  kinds = [letters[i] for i in kept]
  if kinds.count("Y") == 1 and kinds.count("X") == 1:
    z = next(i for i in kept if letters[i] not in "YX")
    return z, kept[kinds.index("Y")], kept[kinds.index("X")]
  return kept[0], kept[1], kept[2]
