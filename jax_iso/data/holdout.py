"""The held-out band: which Z sections train crops and eval crops may start on.

The last `held_out(Z, holdout)` sections of every volume (at least 1 when holdout > 0) are reserved for
evaluation. A crop spans `depth` consecutive sections: 1 for lateral crops, d for clips, h for axial crops.
- "train": the whole crop lies in the training sections [0, Z - n): starts in [0, Z - n - depth].
- "eval": the crop starts in the held-out band: starts in [Z - n, Z - depth]. When the band is thinner than
  the crop, the crop is the last `depth` sections (all of the band plus the training sections just before
  it). So every eval crop covers held-out sections, and lateral eval crops lie inside the band.
- holdout = 0: both splits start anywhere in [0, Z - depth] (eval uses another random stream).
"""
from __future__ import annotations

import math

from jax_iso.data.checks import crop_fix
from jax_iso.errors import UserError


def held_out(depth_z: int, holdout: float) -> int:
  """How many of a volume's `depth_z` sections are held out: round(holdout * Z), at least 1 if holdout > 0."""
  if holdout <= 0.0:
    return 0
  return max(1, int(math.floor(holdout * depth_z + 0.5)))


def z_starts(depth_z: int, depth: int, holdout: float, split: str, *, volume: str, kind: str,
             size: tuple[int, ...]) -> tuple[int, int]:
  """[first, last] Z start of a crop spanning `depth` sections of `volume` (its name; Z = `depth_z`)."""
  n_out = held_out(depth_z, holdout)
  n_train = depth_z - n_out
  if n_train < 1:
    raise UserError(f"holdout={holdout} reserves all {depth_z} Z sections of {volume} for evaluation; "
                    "set data.holdout=0 or a smaller fraction")
  if depth > depth_z:
    raise UserError(f"{kind} crops {size} span {depth} Z sections but {volume} has only {depth_z}; "
                    f"set {crop_fix(kind, size, (depth_z, *size[1:]))}")
  if depth > n_train:
    raise UserError(f"{kind} crops {size} span {depth} Z sections but {volume} keeps only {n_train} "
                    f"for training after holding out {n_out}; set {crop_fix(kind, size, (n_train, *size[1:]))} "
                    "or a smaller holdout (e.g. data.holdout=0)")
  if split == "train":
    return 0, n_train - depth
  if n_out == 0:
    return 0, depth_z - depth
  return min(n_train, depth_z - depth), depth_z - depth
