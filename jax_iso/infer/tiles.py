"""Planes through a 2D model in overlapping tiles: context margins, aligned origins, smooth blending.

Each plane [H, W] is covered by tiles of (at most) `tile` pixels whose origins are multiples of the model's
`multiple` (2**depth for a U-Net), so every tile sees the same pooling grid. A tile is fed with `margin` extra
pixels on each side (the model's receptive field makes a result independent of the tiling) and that context is
cropped from its output. Neighbouring tiles overlap by `overlap` pixels and are blended with a separable
raised-cosine ramp (sin^2 up, cos^2 down), which sums to exactly 1 across every overlap: a pixelwise model is
reproduced exactly, and a model whose output depends on the tile changes smoothly across the overlap.

Where the context leaves the plane, the plane is mirrored (numpy "reflect"), not zero-padded: EM has no natural
zero, a black border would look like a membrane to the model and bend its output near the edge, while the mirror
keeps the local intensity and texture (and continues the edge-section repetition of the Z resampling).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import jax
import numpy as np

from jax_iso.errors import UserError


def round_up(n: int, multiple: int) -> int:
  return -(-int(n) // multiple) * multiple


@dataclasses.dataclass(frozen=True)
class AxisTiles:
  """How one axis of length `size` is tiled."""
  size: int     # plane length along the axis
  tile: int     # core tile length (a multiple of `multiple`, at most the requested tile)
  overlap: int  # pixels shared by neighbouring tiles (0 when there is one tile)
  margin: int   # context fed on each side of a tile and cropped from its output
  count: int    # number of tiles

  @property
  def stride(self) -> int:
    return self.tile - self.overlap

  @property
  def extent(self) -> int:
    """Pixels the tiles cover (>= size; the rest is padding)."""
    return (self.count - 1) * self.stride + self.tile

  @property
  def window(self) -> int:
    """Model input length: tile plus context on both sides."""
    return self.tile + 2 * self.margin

  def weights(self) -> np.ndarray:
    """[count, tile] blending weights: 1 inside, sin^2 ramps toward each neighbour; columns sum to 1."""
    w = np.ones((self.count, self.tile), np.float64)
    if self.count > 1:
      ramp = np.sin(0.5 * np.pi * (np.arange(self.overlap) + 0.5) / self.overlap) ** 2
      w[1:, :self.overlap] = ramp
      w[:-1, self.tile - self.overlap:] = ramp[::-1]
    return w.astype(np.float32)

  def weight_sum(self) -> np.ndarray:
    """[extent] sum of the weights of the tiles over each pixel (1 up to rounding)."""
    total = np.zeros(self.extent, np.float32)
    for i, w in enumerate(self.weights()):
      total[i * self.stride:i * self.stride + self.tile] += w
    return total


def axis_tiles(size: int, *, tile: int, overlap: int, margin: int, multiple: int) -> AxisTiles:
  """Tiles for one axis. `tile`, `overlap` and `margin` are rounded up to multiples of `multiple`.

  A plane that fits one tile gets one tile of round_up(size); otherwise the fewest tiles of the requested size
  are used, shrunk (keeping the overlap) to cover the plane with the least padding.
  """
  if multiple < 1:
    raise ValueError(f"multiple must be >= 1, got {multiple}")
  if tile < 1 or overlap < 0 or margin < 0:
    raise UserError(f"tile {tile}, overlap {overlap} and margin {margin} must be >= 1, >= 0 and >= 0 pixels; "
                    "fix the tiling settings")
  tile, overlap, margin = (round_up(v, multiple) for v in (tile, overlap, margin))
  if round_up(size, multiple) <= tile:
    return AxisTiles(size, round_up(size, multiple), 0, margin, 1)
  if overlap >= tile:
    raise UserError(f"the tile overlap ({overlap} px) must be smaller than the tile ({tile} px, both rounded up "
                    f"to multiples of {multiple}); lower the overlap or raise the tile size")
  count = math.ceil((size - overlap) / (tile - overlap))
  shrunk = round_up(math.ceil((size + (count - 1) * overlap) / count), multiple)
  return AxisTiles(size, min(tile, shrunk), overlap, margin, count)


def pad_end(x: np.ndarray, axis: int, size: int) -> np.ndarray:
  """`x` padded at the end of `axis` to `size` (reflected; repeated when it is too short to reflect)."""
  extra = size - x.shape[axis]
  if extra <= 0:
    return x
  pads = [(0, 0)] * x.ndim
  pads[axis] = (0, extra)
  return np.pad(x, pads, mode="reflect" if x.shape[axis] > extra else "edge")


@dataclasses.dataclass(frozen=True)
class TilePlan:
  """The tiling of [H, W] planes: one `AxisTiles` per axis."""
  rows: AxisTiles
  cols: AxisTiles

  @property
  def per_plane(self) -> int:
    return self.rows.count * self.cols.count

  @property
  def window(self) -> tuple[int, int]:
    """The model's input (and output) shape per tile."""
    return self.rows.window, self.cols.window


def plan_tiles(plane_shape: Sequence[int], *, tile, overlap: int, margin: int, multiple: int) -> TilePlan:
  """The tiling of planes of `plane_shape` (H, W); `tile` is an int or (th, tw)."""
  th, tw = (tile, tile) if np.ndim(tile) == 0 else tile
  kw = dict(overlap=overlap, margin=margin, multiple=multiple)
  return TilePlan(axis_tiles(plane_shape[0], tile=th, **kw), axis_tiles(plane_shape[1], tile=tw, **kw))


@dataclasses.dataclass(frozen=True)
class Tiling:
  """How planes go through a 2D model: tiles of `tile` px (an int or (th, tw)) overlapping by `overlap`, fed
  with `margin` px of context on each side, all multiples of the model's `multiple`, `batch_size` tiles a call."""
  tile: int | tuple[int, int]
  overlap: int
  margin: int
  batch_size: int
  multiple: int = 1

  @classmethod
  def from_config(cls, infer: Mapping, multiple: int = 1) -> Tiling:
    """From a config's `infer` section (tile, overlap, margin, batch_size) and the model's size multiple; "auto"
    sizes are resolved first (`memory_defaults.resolve`)."""
    if is_auto(infer.get("tile")) or is_auto(infer.get("batch_size")):
      raise ValueError("infer.tile and infer.batch_size must be numbers here; resolve \"auto\" first "
                       "(memory_defaults.resolve)")
    tile = infer["tile"]
    tile = int(tile) if np.ndim(tile) == 0 else tuple(int(t) for t in tile)
    return cls(tile, int(infer["overlap"]), int(infer["margin"]), int(infer["batch_size"]), int(multiple))

  @property
  def geometry(self) -> dict:
    """tile, overlap, margin and multiple as keyword arguments (`plan_tiles`, `predict_planes`, `budget`)."""
    return {"tile": self.tile, "overlap": self.overlap, "margin": self.margin, "multiple": self.multiple}

  def plan(self, plane_shape: Sequence[int]) -> TilePlan:
    return plan_tiles(plane_shape, **self.geometry)


AUTO = "auto"                   # a tile or batch size derived from the device's memory (`memory_defaults`)
AUTO_TILES = (256, 512, 1024)   # the tiles (px) "auto" chooses from


def is_auto(value) -> bool:
  """An "auto" setting: the word (any case) or None (left out)."""
  return value is None or (isinstance(value, str) and value.strip().lower() == AUTO)


def size_setting(options: Mapping, name: str, *, auto: bool = True):
  """`options[name]` as an int >= 1 (a tile may be (th, tw)), or None where it is "auto" (or absent); anything
  else is a one-line UserError naming the setting."""
  value = options.get(name)
  if auto and is_auto(value):
    return None
  allowed = ' or "auto"' if auto else ""
  try:
    if name == "tile" and np.ndim(value) == 1 and not isinstance(value, str):
      sizes = tuple(int(v) for v in value)
      ok = len(sizes) == 2 and min(sizes) >= 1 and all(float(v) == int(v) for v in value)
      out = sizes
    else:
      out = int(value)
      ok = out >= 1 and float(value) == out
  except (TypeError, ValueError):
    ok = False
  if not ok:
    raise UserError(f"infer.{name}={value} must be >= 1 (a whole number{allowed})")
  return out


def check_tiling(options: Mapping, counts: Sequence[str] = ("tile", "batch_size")) -> None:
  """One-line UserErrors for a strategy's tiling options (`counts` must be >= 1, tile and batch_size may be
  "auto"; overlap and margin >= 0 with 2 * overlap < tile, the smallest "auto" tile for "auto"), before any
  work."""
  for name in counts:
    size_setting(options, name, auto=name in ("tile", "batch_size"))
  tile = size_setting(options, "tile")
  tile = AUTO_TILES[0] if tile is None else min(tile) if isinstance(tile, tuple) else tile
  try:
    overlap, margin = int(options["overlap"]), int(options["margin"])
  except (TypeError, ValueError):
    overlap = margin = -1
  if overlap < 0 or margin < 0 or 2 * overlap >= tile:
    raise UserError(f"infer.overlap={options['overlap']} and infer.margin={options['margin']} must be >= 0 with "
                    f"2 * overlap < tile ({options.get('tile')})")


def device_batch(batch_size: int, n_tiles: int | None = None) -> int:
  """Tiles per model call: `batch_size` (or fewer when there are fewer tiles), a multiple of this process's
  device count."""
  n_dev = jax.local_device_count()
  b = max(1, batch_size if n_tiles is None else min(batch_size, n_tiles))
  return round_up(b, n_dev)


def predict_planes(apply_fn: Callable, planes: np.ndarray, *, tile, overlap: int, margin: int,
                   batch_size: int, multiple: int, exact_batch: bool = False, origins: bool = False,
                   cols: tuple[int, int] | None = None) -> np.ndarray:
  """Runs [N, H, W] float32 planes through `apply_fn` ([B, th, tw] -> [B, th, tw]) tile by tile -> [N, H, W].

  Planes of C channels, [N, C, H, W], give `apply_fn` tiles [B, C, th, tw] (it returns [B, th, tw]).

  `apply_fn` gets batches of `batch_size` tiles (fewer if the planes have fewer, unless `exact_batch`, which
  keeps one batch shape across calls; the last batch padded with zeros; always a multiple of
  `jax.local_device_count()`), each tile `tile` + 2 * `margin` pixels per axis. Batches are dispatched before the
  previous result is blended, so host work overlaps the model. With `origins`, `apply_fn(batch, origins)` also
  gets int32 [B, 3]: each tile's plane index and the plane coordinates (y, x) of its input's first pixel
  (negative in the mirrored context), so it can draw what depends on the position alone (diffusion noise). Its
  output may carry extra axes before the last two ([B, ..., th, tw]: K samples of a tile), blended alike into
  [N, ..., H, W].

  `cols=(c0, c1)`: only plane columns c0..c1 are wanted ([N, ..., H, c1 - c0] comes back): the tiles are planned
  on the whole plane and only those whose core meets those columns run, so the columns equal those of the whole
  result (how processes split a volume: `io.Part`).
  """
  planes = np.asarray(planes, np.float32)
  if planes.ndim not in (3, 4) or min(planes.shape) < 1:
    raise ValueError(f"planes must be [N, H, W] (or [N, C, H, W]) with every size >= 1, got {planes.shape}")
  n, h, w = planes.shape[0], planes.shape[-2], planes.shape[-1]
  chans = planes.shape[1:-2]                                  # () or (C,)
  plan = plan_tiles((h, w), tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  cols_wanted, (rows, cols) = cols, (plan.rows, plan.cols)
  padded = np.pad(planes, ((0, 0),) * (planes.ndim - 2) + ((rows.margin, rows.extent - h + rows.margin),
                                                           (cols.margin, cols.extent - w + cols.margin)),
                  mode="reflect")
  windows = np.lib.stride_tricks.sliding_window_view(padded, plan.window, axis=(-2, -1))
  windows = windows[..., ::rows.stride, ::cols.stride, :, :]
  windows = np.moveaxis(windows, 1, 3) if chans else windows  # [N, rows.count, cols.count, (C,) wh, ww] (a view)
  w_rows, w_cols = rows.weights(), cols.weights()
  c0, c1 = (0, w) if cols_wanted is None else cols_wanted
  if not 0 <= c0 < c1 <= w:
    raise ValueError(f"columns {cols_wanted} must be a non-empty range within the {w} columns of the planes")
  # the tiles j whose core [j * stride, j * stride + tile) meets c0..c1
  j0, j1 = max(0, -(-(c0 - cols.tile + 1) // cols.stride)), min(cols.count, (c1 - 1) // cols.stride + 1)
  grid_shape = (n, rows.count, j1 - j0)
  total = int(np.prod(grid_shape))
  b = device_batch(batch_size, None if exact_batch else total)

  def tile_ids(ids):
    p, i, j = np.unravel_index(ids, grid_shape)
    return p, i, j + j0

  def blend(out, ids) -> None:
    out = np.asarray(out)
    if out.shape[0] != b or out.shape[-2:] != plan.window:
      raise ValueError(f"apply_fn returned {out.shape} for input {(b,) + plan.window}; it must keep the shape")
    for k, (p, i, j) in enumerate(zip(*tile_ids(ids))):
      core = out[k, ..., rows.margin:rows.margin + rows.tile, cols.margin:cols.margin + cols.tile]
      y0, x0 = i * rows.stride, j * cols.stride
      acc[p, ..., y0:y0 + rows.tile, x0:x0 + cols.tile] += core * w_rows[i][:, None] * w_cols[j][None, :]

  acc = None
  pending = None
  for start in range(0, total, b):
    ids = np.arange(start, min(start + b, total))
    batch = np.zeros((b,) + chans + plan.window, np.float32)
    batch[:len(ids)] = windows[tile_ids(ids)]
    if origins:
      where = np.zeros((b, 3), np.int32)
      p, i, j = tile_ids(ids)
      where[:len(ids)] = np.stack([p, i * rows.stride - rows.margin, j * cols.stride - cols.margin], axis=1)
      out = apply_fn(batch, where)                            # dispatched; runs while we blend the last one
    else:
      out = apply_fn(batch)
    if acc is None:
      acc = np.zeros((n,) + tuple(out.shape[1:-2]) + (rows.extent, cols.extent), np.float32)
    if pending is not None:
      blend(*pending)
    pending = (out, ids)
  blend(*pending)
  norm = rows.weight_sum()[:h, None] * cols.weight_sum()[None, c0:c1]
  return acc[..., :h, c0:c1] / norm
