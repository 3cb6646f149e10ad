"""PSNR and SSIM per orientation of large volumes, computed slab by slab along Z in bounded memory.

Blocks of `slab + 10` z planes overlap by 10 planes (the SSIM window along Z needs 5 planes on each side),
so every xz / yz SSIM row and every plane's squared error is counted exactly once. All blocks have the same
shape (the last one is shifted back to end at the volume's end), so the kernels compile once.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso import progress as progress_lib
from jax_iso.errors import UserError
from jax_iso.metrics import checks
from jax_iso.metrics import signal_to_noise as psnr_lib
from jax_iso.metrics import ssim as ssim_lib
from jax_iso.metrics.reading import ToUnit, read_unit

HALO = ssim_lib.RADIUS  # SSIM rows need this many planes on each side


def block_starts(depth: int, block: int, step: int) -> list[int]:
  """Start planes of blocks of `block` planes every `step` planes; the last block ends at `depth`."""
  if block >= depth:
    return [0]
  return list(range(0, depth - block, step)) + [depth - block]


def _blocks(pred: Any, ref: Any, starts: list[int], block: int, pred_to_unit: ToUnit | None,
            ref_to_unit: ToUnit | None, show: bool) -> Iterator[tuple[int, jax.Array, jax.Array]]:
  items = progress_lib.track(starts, "PSNR/SSIM slabs") if show else starts
  for a in items:
    p = jnp.asarray(read_unit(pred, np.s_[a:a + block], pred_to_unit, "pred_to_unit"))
    r = jnp.asarray(read_unit(ref, np.s_[a:a + block], ref_to_unit, "ref_to_unit"))
    yield a, p, r


def plane_metrics(pred: Any, ref: Any, *, slab: int = 32, pred_to_unit: ToUnit | None = None,
                  ref_to_unit: ToUnit | None = None, progress: bool = False) -> dict[str, float]:
  """PSNR (whole and per orientation) and SSIM per orientation, reading `slab`-plane blocks along Z.

  Returns {'psnr', 'psnr_xy', 'psnr_xz', 'psnr_yz', 'ssim_xy', 'ssim_xz', 'ssim_yz'}; equal (to float32
  rounding) to `psnr`, `psnr_per_orientation` and `ssim_per_orientation` on the whole arrays.
  """
  shape = checks.pair_shape(pred, ref)
  checks.check_ssim_size(shape)
  if int(slab) < 1:
    raise UserError(f"slab={slab} must be a positive number of z planes, e.g. 32.")
  z, y, x = shape
  block = min(z, int(slab) + 2 * HALO)
  starts = block_starts(z, block, int(slab))
  sse_xy_z, sse_xz_y, sse_yz_x = np.zeros(z), np.zeros(y), np.zeros(x)
  ssim_sum = np.zeros(3)  # xy, xz, yz
  rows_done = centres_done = 0  # first plane / first SSIM centre row not yet counted

  def accumulate(a: int, outputs: tuple[jax.Array, ...]) -> None:
    nonlocal rows_done, centres_done
    sse_zy, sse_zx, ssim_xy_z, ssim_xz_c, ssim_yz_c = (np.asarray(o, np.float64) for o in outputs)
    lo = rows_done - a  # first row of this block not counted by an earlier block
    sse_xy_z[a + lo:a + block] = sse_zy[lo:].sum(axis=1)
    sse_xz_y[:] += sse_zy[lo:].sum(axis=0)
    sse_yz_x[:] += sse_zx[lo:].sum(axis=0)
    c_lo = max(centres_done - (a + HALO), 0)
    ssim_sum[:] += (ssim_xy_z[lo:].sum(), ssim_xz_c[c_lo:].sum(), ssim_yz_c[c_lo:].sum())
    rows_done, centres_done = a + block, a + block - HALO

  pending = None  # keeps one block in flight so reading the next block overlaps the computation
  for a, p, r in _blocks(pred, ref, starts, block, pred_to_unit, ref_to_unit, progress):
    outputs = (*psnr_lib.plane_sse(p, r), *ssim_lib.ssim_plane_sums(p, r))
    if pending is not None:
      accumulate(*pending)
    pending = (a, outputs)
  accumulate(*pending)

  psnr = psnr_lib.psnr_from_sse(sse_xy_z, sse_xz_y, sse_yz_x, shape)
  ssim = ssim_lib.ssim_from_sums(*(float(s) for s in ssim_sum), shape)
  return {"psnr": psnr["psnr"], **{f"psnr_{k}": psnr[k] for k in ("xy", "xz", "yz")},
          **{f"ssim_{k}": float(ssim[k]) for k in ("xy", "xz", "yz")}}
