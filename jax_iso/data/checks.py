"""Validation of what the user (through the config) hands the input pipeline; bad input raises UserError."""
from __future__ import annotations

import numbers
import os
from collections.abc import Sequence

import numpy as np

from jax_iso.errors import UserError

KINDS = ("lateral", "axial", "clip")
SPLITS = ("train", "eval")
_AXES = {"lateral": "(h, w)", "axial": "(h, w)", "clip": "(d, h, w)"}


def _is_int(value) -> bool:
  return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_volumes(volumes) -> list:
  """The volumes as a list of 3D array-likes of one dtype (a single volume is wrapped in a list)."""
  if hasattr(volumes, "shape") and hasattr(volumes, "dtype"):
    volumes = [volumes]
  volumes = list(volumes)
  if not volumes:
    raise UserError("no volumes to crop from; give at least one (Z, Y, X) volume (e.g. input=stack.tif)")
  for v, vol in enumerate(volumes):
    shape = tuple(getattr(vol, "shape", ()))
    if len(shape) != 3:
      raise UserError(f"{volume_name(v, vol)} has shape {shape}, not 3D (Z, Y, X); give a 3D stack (convert a "
                      "2D image or pick one channel of a multi-channel stack)")
    if min(shape) < 1:
      raise UserError(f"{volume_name(v, vol)} is empty (shape {shape}); give a volume with at least one voxel "
                      "along each axis")
  dtypes = sorted({np.dtype(vol.dtype).name for vol in volumes})
  if len(dtypes) > 1:
    raise UserError(f"the volumes have different dtypes ({', '.join(dtypes)}); convert them to one dtype so "
                    "that intensities are scaled alike")
  return volumes


def volume_name(v: int, vol) -> str:
  """How errors name volume v: "volume 0", or "volume 0 (stack.tif)" when it was opened from a file."""
  path = getattr(vol, "path", None)
  return f"volume {v} ({os.path.basename(os.fspath(path))})" if path else f"volume {v}"


def crop_fix(kind: str, size: tuple[int, ...], fitted: tuple[int, ...]) -> str:
  """The config change from crops of `size` to crops of (at most) `fitted`: square crops are one edge
  (`data.crop`), a clip's depth is `data.frames`; other crops are written as a tuple."""
  if kind == "clip" and fitted[0] != size[0]:
    return f"data.frames={fitted[0]}"
  size, fitted = size[-2:], fitted[-2:]
  if size[0] == size[1]:
    return f"data.crop={min(fitted)}"
  return "data.crop='(" + ", ".join(str(s) for s in fitted) + ")'"


def check_kind(kind: str) -> str:
  if kind not in KINDS:
    raise UserError(f"crop kind {kind!r} is unknown; use one of {', '.join(KINDS)}")
  return kind


def check_size(kind: str, size: Sequence[int]) -> tuple[int, ...]:
  """`size` as a tuple of positive ints: (h, w) for lateral and axial crops, (d, h, w) for clips."""
  want = 3 if kind == "clip" else 2
  try:
    size = tuple(size)
  except TypeError:
    size = (size,)
  if len(size) != want or not all(_is_int(s) and s >= 1 for s in size):
    raise UserError(f"crop size {size} does not fit kind {kind!r}, which needs {want} positive integers "
                    f"{_AXES[kind]}; check data.crop")
  return tuple(int(s) for s in size)


def check_weights(weights, count: int) -> np.ndarray | None:
  """Mixture weights, one per volume, as probabilities; None keeps the volumes' share by their crop positions."""
  if weights is None:
    return None
  try:
    w = np.asarray([float(x) for x in weights], np.float64)
  except (TypeError, ValueError):
    raise UserError(f"data.weights={weights!r} must be numbers, one per volume") from None
  if len(w) != count or not np.all(np.isfinite(w)) or w.min() < 0 or w.sum() <= 0:
    raise UserError(f"data.weights={tuple(weights)} must be {count} non-negative numbers (one per volume of "
                    "data.path), not all zero")
  return w / w.sum()


def check_batch_size(batch_size) -> int:
  if not _is_int(batch_size) or batch_size < 1:
    raise UserError(f"batch size {batch_size!r} must be a positive integer; set e.g. "
                    "data.batch_size=16")
  return int(batch_size)


def check_count(count) -> int:
  if not _is_int(count) or count < 1:
    raise UserError(f"evaluation crop count {count!r} must be a positive integer; set "
                    "e.g. data.eval_crops=32")
  return int(count)


def check_seed(seed) -> int:
  if not _is_int(seed) or seed < 0:
    raise UserError(f"seed {seed!r} must be a non-negative integer; set e.g. seed=0")
  return int(seed)


def check_holdout(holdout) -> float:
  if isinstance(holdout, bool) or not isinstance(holdout, numbers.Real) or not 0.0 <= holdout < 1.0:
    raise UserError(f"holdout {holdout!r} must be a fraction in [0, 1); set e.g. "
                    "data.holdout=0.1 (or 0 to evaluate on the training sections)")
  return float(holdout)


def check_split(split: str) -> str:
  if split not in SPLITS:
    raise ValueError(f"split {split!r} must be one of {SPLITS}")
  return split


def check_shard(shard: Sequence[int]) -> tuple[int, int]:
  try:
    index, count = shard
  except (TypeError, ValueError):
    raise ValueError(f"shard must be (index, count), got {shard!r}") from None
  if not (_is_int(index) and _is_int(count)) or count < 1 or not 0 <= index < count:
    raise ValueError(f"shard {shard!r} must be (index, count) with 0 <= index < count")
  return int(index), int(count)
