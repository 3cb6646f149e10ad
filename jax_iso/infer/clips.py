"""The "clips" inference strategy (EMformer): isotropic reconstruction by a video model over clips of frames, with
test-time orientations; lost sections found (`detect.find_missing`) and inpainted by the same model first
(`inpaint.py`).

    summary = run(src, sink, Job(factor, intensity, options, loaded))          # the strategy
    summary = reconstruct_clips(src, sink, apply_fn, factor=4.0, intensity=intensity, frames=16, ...)

The volume (Z sections, Y, X) is cut laterally into square tiles (`tile` px, `overlap` px shared, blended with
sin^2 ramps that sum to 1). Each tile [Z, t, t] is turned into each of `tta` orientations of the lateral plane
(the dihedral group of (Y, X): quarter turns, then a flip of X), the frames are made to run along its first
lateral axis ([t frames, Z rows, t columns]) and cut into overlapping clips of `frames` frames (blended the same
way); the model super-resolves the rows (Z) of every clip to round(Z s) fine slices. The orientations' outputs
are turned back; their mean is the reconstruction and their standard deviation the uncertainty (0 with one
orientation). Tiles are processed in rows along Y and every finished Y range is written at once (memory: about
two rows of tiles on the fine grid). `fill` replaces sections (index -> [Y, X] in [0, 1]) before any of this
(inpainted lost sections, `infer/inpaint.py`).

Options: frames, frame_overlap, tile, overlap, batch_size ("auto": sized to the device's memory,
`memory_defaults`), tta; `uncertainty` (a path: the orientations' standard
deviation, in the output's units, needs tta 8) and `inpaint` ("auto": the lost sections detected; "I,J": those).
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping

import jax
import numpy as np

from jax_iso import io, progress, runconfig
from jax_iso.degrade import grid
from jax_iso.degrade import pairs as pairs_lib
from jax_iso.detect.lost import find_missing
from jax_iso.errors import UserError
from jax_iso.infer import memory_defaults
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.inpaint import inpaint_sections
from jax_iso.infer.tiles import AxisTiles, axis_tiles, device_batch, is_auto, pad_end, size_setting

ORIENTATIONS = 8
SETTINGS = ("frames", "frame_overlap", "tile", "overlap", "batch_size", "tta")


def orient(block: np.ndarray, o: int) -> np.ndarray:
  """Orientation o of the last two axes of `block`: o % 4 quarter turns, then a flip of the last axis if o >= 4."""
  out = np.rot90(block, o % 4, axes=(-2, -1))
  return out[..., ::-1] if o >= 4 else out


def unorient(block: np.ndarray, o: int) -> np.ndarray:
  """The inverse of `orient(., o)`."""
  if o >= 4:
    block = block[..., ::-1]
  return np.rot90(block, -(o % 4), axes=(-2, -1))


def square_tiles(n_y: int, n_x: int, tile: int, overlap: int) -> tuple[AxisTiles, AxisTiles]:
  """Tilings of Y and X with one square tile size (each orientation of a tile has the same shape)."""
  ty, tx = (axis_tiles(n, tile=tile, overlap=overlap, margin=0, multiple=1) for n in (n_y, n_x))
  edge = max(ty.tile, tx.tile)

  def with_edge(n: int) -> AxisTiles:
    if n <= edge:
      return AxisTiles(n, edge, 0, 0, 1)
    return AxisTiles(n, edge, overlap, 0, math.ceil((n - overlap) / (edge - overlap)))
  return with_edge(n_y), with_edge(n_x)


class ClipRunner:
  """Applies the model to every clip of a [F frames, Z, W] stack and blends the clips back along the frames."""

  def __init__(self, apply_fn: Callable, *, n_frames: int, frames: int, frame_overlap: int, batch_size: int):
    self.apply_fn = apply_fn
    self.axis = axis_tiles(n_frames, tile=frames, overlap=min(frame_overlap, max(frames - 1, 0)), margin=0,
                           multiple=1)
    self.weights = self.axis.weights()                                  # [clips, T]
    self.batch = device_batch(batch_size, self.axis.count)

  def __call__(self, stack: np.ndarray) -> np.ndarray:                 # [F, Z, W] -> [F, Z', W]
    a = self.axis
    padded = pad_end(stack, 0, a.extent)
    clips = np.stack([padded[i * a.stride:i * a.stride + a.tile] for i in range(a.count)])
    outs = []
    for start in range(0, a.count, self.batch):
      part = clips[start:start + self.batch]
      if part.shape[0] < self.batch:                                    # one compiled batch shape
        part = np.concatenate([part, np.repeat(part[-1:], self.batch - part.shape[0], axis=0)])
      outs.append(np.asarray(self.apply_fn(part))[:min(self.batch, a.count - start)])
    pred = np.concatenate(outs)                                         # [clips, T, Z', W]
    out = np.zeros((a.extent,) + pred.shape[2:], np.float32)
    for i in range(a.count):
      out[i * a.stride:i * a.stride + a.tile] += pred[i] * self.weights[i][:, None, None]
    return out[:stack.shape[0]]


def tile_mean_std(runner: ClipRunner, block: np.ndarray, tta: int) -> tuple[np.ndarray, np.ndarray]:
  """(mean, std) over `tta` orientations of the reconstruction of a square tile [Z, t, t] -> [Z', t, t] each."""
  mean = m2 = None
  for o in range(tta):
    turned = orient(block, o)                                          # [Z, t, t]
    pred = runner(np.ascontiguousarray(turned.transpose(1, 0, 2)))      # frames along the first lateral axis
    pred = unorient(pred.transpose(1, 0, 2), o)                         # [Z', t, t]
    if mean is None:
      mean, m2 = pred.astype(np.float64), np.zeros(pred.shape, np.float64)
    else:                                                               # Welford
      delta = pred - mean
      mean += delta / (o + 1)
      m2 += delta * (pred - mean)
  return mean.astype(np.float32), np.sqrt(m2 / tta).astype(np.float32)


def reconstruct_clips(src, sink, apply_fn: Callable, *, factor: float, intensity, frames: int,
                      frame_overlap: int, tile: int, overlap: int, batch_size: int, tta: int,
                      uncertainty=None, fill: Mapping[int, np.ndarray] | None = None,
                      show_progress: bool = True) -> dict:
  """Writes the reconstruction of `src` [Z, Y, X] into `sink` [round(Z s), Y, X] (and the orientations'
  standard deviation, in stored units, into `uncertainty` when given); returns a summary."""
  n_z, n_y, n_x = (int(n) for n in src.shape)
  n_out = grid.fine_count(n_z, factor)
  if tuple(sink.shape) != (n_out, n_y, n_x):
    raise ValueError(f"sink shape {tuple(sink.shape)} != {(n_out, n_y, n_x)}")
  ty, tx = square_tiles(n_y, n_x, tile, overlap)
  edge = ty.tile
  runner = ClipRunner(apply_fn, n_frames=edge, frames=frames, frame_overlap=frame_overlap, batch_size=batch_size)
  wy, wx = ty.weights(), tx.weights()
  fill = dict(fill or {})
  scale = np.float32(intensity.hi - intensity.lo)
  done_y = 0                                 # rows [0, done_y) written
  acc = np.zeros((2, n_out, 0, tx.extent), np.float32)   # weighted mean and std of rows [done_y, done_y + rows)

  def block_at(y0: int, x0: int) -> np.ndarray:
    y1, x1 = min(y0 + edge, n_y), min(x0 + edge, n_x)
    block = intensity.to_unit(np.asarray(src[:, y0:y1, x0:x1]))
    for k, section in fill.items():
      block[k] = section[y0:y1, x0:x1]
    return pad_end(pad_end(block, 1, edge), 2, edge)

  total = ty.count * tx.count
  description = f"clips x{factor:g} ({tta} orientation{'s' if tta > 1 else ''})"
  with progress.Bar(description, total) if show_progress else contextlib.nullcontext() as bar:
    for iy in range(ty.count):
      y0 = iy * ty.stride
      grow = y0 + edge - done_y - acc.shape[2]
      if grow > 0:
        acc = np.concatenate([acc, np.zeros((2, n_out, grow, tx.extent), np.float32)], axis=2)
      for ix in range(tx.count):
        x0 = ix * tx.stride
        w = wy[iy][:, None] * wx[ix][None, :]
        acc[:, :, y0 - done_y:y0 - done_y + edge, x0:x0 + edge] += np.stack(
            tile_mean_std(runner, block_at(y0, x0), tta)) * w
        if bar is not None:
          bar.update(1)
      upto = min(y0 + ty.stride if iy + 1 < ty.count else n_y, n_y)   # rows no later tile reaches
      rows = upto - done_y
      sink[:, done_y:upto, :] = intensity.from_unit(acc[0, :, :rows, :n_x])
      if uncertainty is not None:
        uncertainty[:, done_y:upto, :] = acc[1, :, :rows, :n_x] * scale
      acc, done_y = acc[:, :, rows:], upto
  return {"tiles": total, "tile": edge, "clips_per_tile": runner.axis.count, "orientations": tta,
          "filled_sections": sorted(int(k) for k in fill)}


def check(options: Mapping) -> None:
  """One-line UserErrors for the options of the "clips" strategy, before any work."""
  if is_auto(options.get("tile")):
    raise UserError(f"infer.tile={options.get('tile')}: the clips' lateral tile is not derived from the memory; "
                    "give it in px, e.g. infer.tile=128 (infer.batch_size may be \"auto\")")
  for name in ("frames", "tile", "batch_size"):
    size_setting(options, name, auto=name == "batch_size")
  if not 0 <= int(options["frame_overlap"]) < int(options["frames"]):
    raise UserError(f"infer.frame_overlap={options['frame_overlap']} must be >= 0 and below infer.frames="
                    f"{options['frames']}")
  if not 0 <= int(options["overlap"]) < int(options["tile"]):
    raise UserError(f"infer.overlap={options['overlap']} must be >= 0 and below infer.tile={options['tile']}")
  if int(options["tta"]) not in (1, ORIENTATIONS):
    raise UserError(f"infer.tta={options['tta']} must be 1 (no test-time orientations) or {ORIENTATIONS}")
  if options.get("uncertainty") and int(options["tta"]) < 2:
    raise UserError(f"an uncertainty map needs the test-time orientations: set infer.tta={ORIENTATIONS}")


def run(src, sink, job) -> dict:
  """Reconstructs `src` into `sink` (the lost sections the options name inpainted first, the uncertainty written
  where asked); returns a summary."""
  loaded, options = job.model, job.options
  apply_fn = make_apply_fn(loaded.model, loaded.params)
  n_z, n_y, n_x = (int(n) for n in src.shape)
  options, sizes = memory_defaults.resolve(options, apply_fn, lambda tile: (
      int(options["frames"]), n_z, square_tiles(n_y, n_x, int(tile), int(options["overlap"]))[0].tile))
  settings = {k: int(options[k]) for k in SETTINGS}
  missing, fill = [], {}
  if options.get("inpaint"):
    missing = find_missing(src, str(options["inpaint"]), log=job.progress)
    if missing:
      pairs = {**runconfig.to_dict(loaded.config.pairs), "drop_prob": 0.0}
      pair_fn = jax.jit(pairs_lib.make_batch_fn(pairs))
      fill = inpaint_sections(src, apply_fn, pair_fn, missing, factor=job.factor, intensity=job.intensity,
                              frames=settings["frames"], tile=settings["tile"], overlap=settings["overlap"],
                              seed=int(loaded.config.seed), flips=1 if int(settings["tta"]) == 1 else 4)
  path = options.get("uncertainty") or None
  description = {"job": "uncertainty", "method": loaded.config.method, "factor": job.factor,
                 "quantity": f"standard deviation over {settings['tta']} orientations, in the output's units"}
  maker = (io.create_volume(path, tuple(sink.shape), np.float32, sink.spacing, description=description)
           if path else contextlib.nullcontext())
  with maker as uncertainty:
    summary = reconstruct_clips(src, sink, apply_fn, factor=job.factor, intensity=job.intensity,
                                uncertainty=uncertainty, fill=fill, show_progress=job.progress, **settings)
  summary = {**summary, "inpainted": missing, "uncertainty": path}
  return summary if sizes is None else {**summary, "auto_sizes": sizes.describe()}
