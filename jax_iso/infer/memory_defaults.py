"""Tile and batch sizes from the device's memory: what "auto" becomes in a config's `infer` section.

    options, sizes = resolve(options, apply_fn, tile_shapes(options, multiple=4, planes=[(640, 512)]))
    tiling = Tiling.from_config(options, 4)          # numbers now; `sizes` says how they were derived (or None)

`infer.batch_size` (tiles a call) and `infer.tile` (px) may be "auto" (or left out); a number is kept as given.
On a device that reports its memory (GPU, TPU: `device_memory.local_memory`, the smallest of this process's):
- batch_size: the most tiles a call whose compiled executable fits DEVICE_SHARE of the device's `bytes_limit`
  (XLA's own account, `TileFn.call_bytes`: the resident parameters, the tiles, the outputs and the temporaries,
  per device), at most MAX_PER_DEVICE tiles per device, and no more than keeps the host's copies of a batch
  within HOST_SHARE of the slab budget (`budget.DEFAULT_BUDGET_BYTES`). A tile's cost is measured on one tile per
  device; the estimate is then compiled and checked (and lowered until it fits). That last executable is the one
  the run calls (JAX keeps it), so sizing costs one extra compile (more when the estimate does not fit).
- tile: the largest of AUTO_TILES of which at least MIN_PER_DEVICE tiles per device (or the batch given) fit a
  call. Larger tiles spend less of the model on the context margins: with a 48 px margin, 53 % of the pixels a
  256 px tile feeds the model come out, 71 % at 512, 83 % at 1024. Planes smaller than a tile get one tile of
  their own size.
On a device that reports none (the CPU), "auto" is CPU_TILE and CPU_BATCH, and nothing is compiled ahead.
The sizes follow from the device's limit and the model alone, not from what happens to be in use, so a resumed
reconstruction gets the same ones (its work folder is keyed by them).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jax_iso import device_memory
from jax_iso.errors import UserError
from jax_iso.infer import budget
from jax_iso.infer.tiles import AUTO_TILES, plan_tiles, round_up, size_setting

CPU_TILE, CPU_BATCH = 256, 8   # "auto" where the device reports no memory (the CPU)
DEVICE_SHARE = 0.8             # of the device's bytes_limit one call may need (the rest: XLA's and others' slack)
MAX_PER_DEVICE = 64            # tiles a call per device, at most: more buy no speed
MIN_PER_DEVICE = 4             # an "auto" tile leaves room for at least this many tiles a call per device
HOST_SHARE = 0.25              # of the host's slab budget the tile batches may take
_ATTEMPTS = 5                  # compiles to find a batch that fits, at most

_LOCAL = object()              # `resolve`'s memory default: this process's devices


@dataclasses.dataclass(frozen=True)
class Sizes:
  """How "auto" tile and batch sizes were derived from a device's memory (`resolve`)."""
  tile: Any              # px, or (th, tw)
  batch_size: int        # tiles a call (all devices)
  tile_shape: tuple      # the model's input per tile: ([C,] h, w) with the margins
  need: int              # bytes one call needs per device, as compiled
  limit: int             # the device's bytes_limit
  device: str            # the device's name

  def describe(self) -> str:
    shape = " x ".join(str(s) for s in self.tile_shape)
    need, limit = device_memory.readable(self.need), device_memory.readable(self.limit)
    return (f"{self.batch_size} tiles of {shape} a call (tile {self.tile}): {need} of the "
            f"{self.device or 'device'}'s {limit}")


def tile_shapes(options: Mapping, *, multiple: int = 1, planes: Sequence[Sequence[int]] = (),
                channels: Sequence[int] = ()) -> Callable[[Any], tuple[int, ...]]:
  """`shape(tile)`: the model's input per tile for a tile setting: `channels` and the window (tile and margins,
  multiples of `multiple`) of the largest of the tilings of `planes` [(H, W), ...]; a square window of the
  tile where no plane is given."""
  overlap, margin = int(options["overlap"]), int(options["margin"])

  def shape(tile) -> tuple[int, ...]:
    if planes:
      windows = [plan_tiles(p, tile=tile, overlap=overlap, margin=margin, multiple=multiple).window for p in planes]
      window = (max(w[0] for w in windows), max(w[1] for w in windows))
    else:
      th, tw = (tile, tile) if np.ndim(tile) == 0 else tile
      window = tuple(round_up(t, multiple) + 2 * round_up(margin, multiple) for t in (th, tw))
    return tuple(int(c) for c in channels) + tuple(int(w) for w in window)
  return shape


def resolve(options: Mapping, fn: Any, tile_shape: Callable[[Any], tuple[int, ...]], *, memory: Any = _LOCAL,
            n_devices: int | None = None) -> tuple[dict, Sizes | None]:
  """(`options` with numbers for tile and batch_size, how the "auto" ones were derived or None).

  `fn`: the jitted model a call runs (`apply_fn.TileFn`: `call_bytes(shape)`, `resident_bytes`); another
  callable gets the CPU sizes. `tile_shape(tile)`: the model's input per tile (`tile_shapes`). `memory`: a
  `device_memory.DeviceMemory`, or None for a device that reports none (default: this process's devices').
  A tile of which not even one per device fits is a UserError naming infer.tile.
  """
  tile, batch = size_setting(options, "tile"), size_setting(options, "batch_size")
  out = dict(options)
  if tile is not None and batch is not None:
    return {**out, "tile": tile, "batch_size": batch}, None
  memory = device_memory.local_memory() if memory is _LOCAL else memory
  n = jax.local_device_count() if n_devices is None else int(n_devices)
  measure = getattr(fn, "call_bytes", None)
  if memory is None or measure is None:
    cpu = {"tile": CPU_TILE if tile is None else tile, "batch_size": CPU_BATCH if batch is None else batch}
    return {**out, **cpu}, None
  fixed = int(getattr(fn, "resident_bytes", 0))
  room = DEVICE_SHARE * memory.limit
  seen: dict = {}

  def call(k: int, shape: tuple[int, ...]) -> int | None:
    """Bytes per device of a call with k tiles per device."""
    if (k, shape) not in seen:
      seen[k, shape] = measure((k * n,) + shape)
    return seen[k, shape]

  if tile is None:
    want = MIN_PER_DEVICE if batch is None else -(-batch // n)      # tiles per device a call must hold
    tile, per = _largest_tile(call, tile_shape, fixed=fixed, room=room, n=n, want=want)
  else:
    per = _per_tile(call, tile_shape(tile), fixed)
  if per is None:                                         # the backend gives no memory analysis
    return {**out, "tile": tile, "batch_size": CPU_BATCH if batch is None else batch}, None
  shape = tile_shape(tile)
  if batch is None:
    k, need = _fit(call, shape, fixed=fixed, per=per, room=room, cap=min(MAX_PER_DEVICE, _host_cap(shape, n)))
    batch = k * n
  else:
    need = call(max(1, -(-batch // n)), shape)
  if need is not None and need > room and batch <= n:
    raise UserError(f"one tile of {' x '.join(map(str, shape))} px per device needs {device_memory.readable(need)} "
                    f"on the {memory.kind or 'device'} ({device_memory.readable(memory.limit)}): set infer.tile "
                    f"below {tile} (now {options.get('tile')})")
  return {**out, "tile": tile, "batch_size": int(batch)}, Sizes(tile, int(batch), shape, int(need or 0),
                                                                memory.limit, memory.kind)


def _per_tile(call, shape: tuple[int, ...], fixed: int) -> float | None:
  """Bytes one tile per device costs beyond the resident parameters, measured on one."""
  one = call(1, shape)
  return None if one is None else max(1.0, float(one - fixed))


def _host_cap(shape: tuple[int, ...], n: int) -> int:
  """Tiles per device whose host copies stay within HOST_SHARE of the slab budget."""
  return max(1, int(HOST_SHARE * budget.DEFAULT_BUDGET_BYTES // budget.batch_bytes(n, shape)))


def _largest_tile(call, tile_shape, *, fixed: int, room: float, n: int, want: int) -> tuple[int, float | None]:
  """(tile, estimated bytes a tile per device) of the largest of AUTO_TILES of which `want` tiles per device fit;
  the smallest where none does. Tiles that give the same input (planes smaller than them) count once. A
  tile's cost is the smallest one's, measured, times the ratio of their pixels."""
  by_shape: dict = {}
  for t in AUTO_TILES:
    by_shape.setdefault(tile_shape(t), t)
  shapes = list(by_shape)
  base = _per_tile(call, shapes[0], fixed)
  if base is None:
    return AUTO_TILES[0], None
  for shape in reversed(shapes):
    per = base * math.prod(shape) / math.prod(shapes[0])
    if min(int((room - fixed) // per), _host_cap(shape, n), max(MAX_PER_DEVICE, want)) >= want:
      return by_shape[shape], per
  return by_shape[shapes[0]], base


def _fit(call, shape: tuple[int, ...], *, fixed: int, per: float, room: float, cap: int) -> tuple[int, int | None]:
  """(tiles per device, bytes per device) of the largest call of at most `cap` tiles per device that fits `room`:
  the estimate from `per` bytes a tile, compiled and checked, refitted from what it needed until it fits (one
  tile per device when nothing fits, or after _ATTEMPTS compiles)."""
  k = min(max(1, int((room - fixed) // per)), cap)
  for _ in range(_ATTEMPTS):
    need = call(k, shape)
    if need is None or need <= room or k == 1:
      return k, need
    per = max(per, (need - fixed) / k)
    k = max(1, min(k - 1, int((room - fixed) // per)))
  return 1, call(1, shape)
