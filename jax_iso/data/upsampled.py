"""A low-resolution volume seen on a finer lateral grid: EMDiffuse-r's condition, read lazily region by region.

    hr_view = UpsampledVolume(lr_src, scale=2)     # shape (Z, 2Y, 2X); cubic (Keys) in Y and X
    hr_view[z, y0:y1, x0:x1]                        # reads only the LR rows and columns those pixels need

Pixel k of the fine grid sits at fine index k of the section grid of its coarse axis (coarse pixel i covers fine
pixels i*s ... (i+1)*s - 1, `jax_iso.degrade.grid`), exactly as `degrade.lateral.lateral_undersample` interpolates
synthetic training inputs back (`degrade.resample.interp_weights`), so training and inference conditions agree.
"""
from __future__ import annotations

import numpy as np

from jax_iso.degrade.resample import interp_weights


def _axis_slice(key, n: int) -> slice:
  if isinstance(key, slice):
    start, stop, step = key.indices(n)
    if step != 1:
      raise IndexError("UpsampledVolume reads contiguous regions only (step 1)")
    return slice(start, stop)
  if isinstance(key, (int, np.integer)):
    k = int(key) + (n if key < 0 else 0)
    return slice(k, k + 1)
  raise IndexError(f"UpsampledVolume takes ints and slices, got {key!r}")


class UpsampledVolume:
  """`src` (Z, Y, X; an array-like read with basic indexing) on a lateral grid `scale` times finer: float32."""

  def __init__(self, src, scale: int = 2, method: str = "cubic"):
    self.src, self.scale, self.method = src, int(scale), method
    z, y, x = (int(n) for n in src.shape)
    self.shape = (z, y * self.scale, x * self.scale)
    self.dtype = np.dtype(np.float32)
    self.path = getattr(src, "path", None)
    self._weights = [interp_weights(n, float(self.scale), method, n_out=n * self.scale) for n in (y, x)]

  def __getitem__(self, key) -> np.ndarray:
    key = key if isinstance(key, tuple) else (key,)
    key = key + (slice(None),) * (3 - len(key))
    squeeze = [isinstance(k, (int, np.integer)) for k in key]
    zs, ys, xs = (_axis_slice(k, n) for k, n in zip(key, self.shape))
    (iy, wy), (ix, wx) = ((i[s], w[s]) for (i, w), s in zip(self._weights, (ys, xs)))
    y0, y1, x0, x1 = int(iy.min(initial=0)), int(iy.max(initial=0)) + 1, int(ix.min(initial=0)), int(ix.max(initial=0)) + 1
    coarse = np.asarray(self.src[zs, y0:y1, x0:x1], np.float32)            # [z, ry, rx]
    rows = np.einsum("zytx,yt->zyx", coarse[:, iy - y0, :], wy) if iy.size else coarse[:, :0]
    out = np.einsum("zyxt,xt->zyx", rows[:, :, ix - x0], wx) if ix.size else rows[:, :, :0]
    return out[tuple(0 if s else slice(None) for s in squeeze)]

  def close(self) -> None:
    if hasattr(self.src, "close"):
      self.src.close()
