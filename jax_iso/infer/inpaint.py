"""Lost sections filled by the clip model in its training orientation (frames along Z), before the isotropic pass.

    fill = inpaint_sections(src, apply_fn, pair_fn, [12, 13], factor=4.0, intensity=..., frames=16, ...)
    # {12: [Y, X] in [0, 1], 13: ...}

EMformer is trained on clips of consecutive sections whose rows (Y) were cut into sections of the volume's own
factor, with a run of frames zeroed (`degrade.pairs.clip_pair`); it restores every frame, the zeroed ones from
their neighbours. Here the same: for each run of missing sections, a clip of `frames` sections around it (the
missing ones among them zeroed), made into a training input by the run's own pair maker (`pair_fn`, the same
acquisition, so inputs look as in training), the model applied in column tiles, and the run's frames kept.
Y is padded at the end (reflected) so the restored rows cover it. With `flips` 4 the clip is also run reversed
in Z, mirrored in X and both (symmetries of the training clips), and the fills are the mean of the 4.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import numpy as np

from jax_iso.degrade import grid
from jax_iso.infer.tiles import axis_tiles, pad_end


def runs(indices: Sequence[int]) -> list[tuple[int, int]]:
  """Consecutive runs [start, stop) of sorted distinct indices."""
  out = []
  for k in sorted(set(int(i) for i in indices)):
    if out and out[-1][1] == k:
      out[-1] = (out[-1][0], k + 1)
    else:
      out.append((k, k + 1))
  return out


def clip_window(start: int, stop: int, n_z: int, frames: int) -> tuple[int, int]:
  """[a, b) of `frames` sections (fewer when the volume has fewer) centred on the run [start, stop)."""
  frames = min(frames, n_z)
  a = max(0, min(n_z - frames, (start + stop) // 2 - frames // 2))
  return a, a + frames


FLIPS = ((False, False), (True, False), (False, True), (True, True))     # (reverse the frames, mirror X)


def _flip(clip: np.ndarray, flip: tuple[bool, bool]) -> np.ndarray:
  """[..., T, rows, W] reversed in T and/or mirrored in W (its own inverse)."""
  if flip[0]:
    clip = clip[..., ::-1, :, :]
  if flip[1]:
    clip = clip[..., ::-1]
  return np.ascontiguousarray(clip)


def inpaint_sections(src, apply_fn: Callable, pair_fn: Callable, missing: Sequence[int], *, factor: float,
                     intensity, frames: int, tile: int, overlap: int, seed: int = 0,
                     flips: int = 4) -> dict[int, np.ndarray]:
  """{index: restored section [Y, X] in [0, 1]} for every index of `missing` (see the module docstring)."""
  if flips not in (1, 4):
    raise ValueError(f"flips={flips} must be 1 or 4")
  n_z, n_y, n_x = (int(n) for n in src.shape)
  missing = sorted(set(int(k) for k in missing))
  lost = np.zeros(n_z, bool)
  lost[missing] = True
  pad_y = n_y + math.ceil(factor) + 1                   # round(floor(pad_y / s) * s) >= n_y
  cols = axis_tiles(n_x, tile=tile, overlap=overlap, margin=0, multiple=1)
  weights = cols.weights()
  fill: dict[int, np.ndarray] = {}
  key = jax.random.key(seed)
  for run_i, (start, stop) in enumerate(runs(missing)):
    a, b = clip_window(start, stop, n_z, frames)
    stack = intensity.to_unit(np.asarray(src[a:b]))
    stack = pad_end(pad_end(stack, 1, pad_y), 2, cols.extent)
    inp, _, _ = pair_fn(jax.random.fold_in(key, run_i), stack[None])
    inp = np.array(inp[0])                                                 # [T, N, X'] sections along Y
    inp[lost[a:b]] = 0.0
    n_rows = grid.fine_count(inp.shape[1], factor)
    out = np.zeros((b - a, n_rows, cols.extent), np.float32)
    for i in range(cols.count):
      x0 = i * cols.stride
      views = np.stack([_flip(inp[:, :, x0:x0 + cols.tile], f) for f in FLIPS[:flips]])  # one call for all
      batch = np.concatenate([views, np.repeat(views[:1], -flips % jax.local_device_count(), axis=0)])  # per device
      preds = np.asarray(apply_fn(batch))[:flips]                           # [flips, T, n_rows, tile]
      pred = np.mean([_flip(p, f) for p, f in zip(preds, FLIPS)], axis=0)
      out[:, :, x0:x0 + cols.tile] += pred * weights[i]
    for k in range(start, stop):
      fill[k] = out[k - a, :n_y, :n_x]
  return fill
