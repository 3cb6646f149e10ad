"""Slab sizes that keep a plane-wise reconstruction inside a host memory budget.

A slab of S planes [Zf, L] holds, per plane: the source block (Z x L, its dtype), and about eight float32
copies of the tiled extent (the resampled planes, the mirrored planes with their context, the blend
accumulator, the result, its transposed copy, and in the fusing pass the other orientation read back and the
fused volume). A fixed amount comes on top: the tile batches (gathered inputs, model outputs, blend
temporaries) and, in the fusing pass, the whole chunks decoded around a slab read back from the temporary store
(up to 64 planes). Measured as peak RSS growth with an identity model on a 160 x 320 x 352 output, the real use
was 0.5-1.5x the estimate (less for large slabs). The model's own activations are the device's business (on CPU
they come on top: choose `batch_size` for them). Slabs of 64 planes or more are multiples of 64, the chunk edge
of OME-Zarr outputs and of the temporary store, so chunks are written whole.
"""
from __future__ import annotations

import math

from jax_iso.infer.tiles import device_batch, plan_tiles

DEFAULT_BUDGET_BYTES = 1 << 30
CHUNK = 64            # slab quantum (chunk edge of OME-Zarr outputs and of the temporary store)
_FLOAT_COPIES = 8     # float32 copies of each plane's tiled extent alive during a slab
_BATCH_COPIES = 3     # input, output and blend temporaries of one tile batch


def plane_bytes(n_sections: int, plane_shape, *, tile, overlap: int, margin: int, multiple: int,
                src_itemsize: int = 1) -> int:
  """Host bytes one plane [Zf, L] costs during a slab."""
  plan = plan_tiles(plane_shape, tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  padded = (plan.rows.extent + 2 * plan.rows.margin) * (plan.cols.extent + 2 * plan.cols.margin)
  return 4 * _FLOAT_COPIES * padded + (4 + src_itemsize) * n_sections * plane_shape[1]


def batch_bytes(batch: int, tile_shape) -> int:
  """Host bytes of the tile batches in flight: `batch` float32 tiles of `tile_shape` (the model's input per
  tile), each held as input, output and blend temporaries."""
  return 4 * _BATCH_COPIES * int(batch) * math.prod(int(s) for s in tile_shape)


def fixed_bytes(plane_shape, *, tile, overlap: int, margin: int, multiple: int, batch_size: int) -> int:
  """Host bytes independent of the slab size: tile batches in flight, chunks decoded from the store."""
  plan = plan_tiles(plane_shape, tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  return batch_bytes(device_batch(batch_size), plan.window) + 4 * CHUNK * plane_shape[0] * plane_shape[1]


def slab_bytes(slab: int, n_sections: int, plane_shape, *, tile, overlap: int, margin: int, multiple: int,
               batch_size: int, src_itemsize: int = 1) -> int:
  """Estimated peak host bytes of a slab of `slab` planes."""
  kw = dict(tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  return (slab * plane_bytes(n_sections, plane_shape, src_itemsize=src_itemsize, **kw)
          + fixed_bytes(plane_shape, batch_size=batch_size, **kw))


def plan_slab(n_planes: int, n_sections: int, plane_shape, *, tile, overlap: int, margin: int, multiple: int,
              batch_size: int, budget_bytes: int = DEFAULT_BUDGET_BYTES, src_itemsize: int = 1) -> int:
  """The largest slab (planes per step, at least 1) whose `slab_bytes` fit `budget_bytes`.

  At 64 planes or more it is a multiple of 64; below, slabs are balanced (e.g. 2 x 50 rather than 60 + 40).
  """
  kw = dict(tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  free = budget_bytes - fixed_bytes(plane_shape, batch_size=batch_size, **kw)
  fit = max(1, free // plane_bytes(n_sections, plane_shape, src_itemsize=src_itemsize, **kw))
  if fit >= n_planes:
    return n_planes
  if fit >= CHUNK:
    return fit // CHUNK * CHUNK
  return math.ceil(n_planes / math.ceil(n_planes / fit))
