"""2D SSIM (Wang et al. 2004) on every plane of each orientation of a volume.

Gaussian window of 11 taps (sigma 1.5), K1 = 0.01, K2 = 0.03, data range 1, 'valid' filtering (no padding),
so an SSIM map loses 5 pixels at each border. The score of an orientation is the mean of the SSIM maps of all
its planes. The window is applied separably along the two in-plane axes of the 3D array with shifted-slice
sums (on the 2-core CPU these were 1.6-1.9x faster than banded-matrix einsums).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jax_iso.metrics import checks

SIGMA = 1.5
RADIUS = 5  # 11 taps
K1, K2 = 0.01, 0.03
C1, C2 = K1**2, K2**2  # data range 1


def gaussian_taps(sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
  """Normalised Gaussian window [2 * radius + 1] (float32)."""
  t = np.arange(-radius, radius + 1, dtype=np.float64)
  taps = np.exp(-0.5 * (t / sigma) ** 2)
  return (taps / taps.sum()).astype(np.float32)


def _blur_valid(x: jax.Array, axis: int) -> jax.Array:
  """Gaussian window along `axis` without padding: that axis shrinks by 2 * RADIUS."""
  n_out = x.shape[axis] - 2 * RADIUS
  taps = gaussian_taps()
  out = taps[0] * lax.slice_in_dim(x, 0, n_out, axis=axis)
  for k in range(1, taps.size):
    out = out + taps[k] * lax.slice_in_dim(x, k, k + n_out, axis=axis)
  return out


def _ssim_map(moments: jax.Array) -> jax.Array:
  """SSIM map from the blurred moments [5, ...] = (mu_p, mu_r, E[p^2], E[r^2], E[p r])."""
  mu_p, mu_r, e_pp, e_rr, e_pr = moments
  var_p, var_r = e_pp - mu_p * mu_p, e_rr - mu_r * mu_r
  cov = e_pr - mu_p * mu_r
  num = (2.0 * mu_p * mu_r + C1) * (2.0 * cov + C2)
  den = (mu_p * mu_p + mu_r * mu_r + C1) * (var_p + var_r + C2)
  return num / den


@jax.jit
def ssim_plane_sums(pred_zyx: jax.Array, ref_zyx: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Sums of the valid SSIM maps of a block.

  Returns:
    xy_z: [Z] sum of the xy-plane map of each z plane, over (Y - 10) x (X - 10) pixels.
    xz_c: [Z - 10] sum over all xz planes (y) and valid x of the map row at z = c + 5.
    yz_c: [Z - 10] sum over all yz planes (x) and valid y of the map row at z = c + 5.
  """
  p, r = pred_zyx.astype(jnp.float32), ref_zyx.astype(jnp.float32)
  m = jnp.stack([p, r, p * p, r * r, p * r])  # [5, Z, Y, X]
  m_x = _blur_valid(m, 3)  # [5, Z, Y, X - 10]
  m_y = _blur_valid(m, 2)  # [5, Z, Y - 10, X]
  xy_z = _ssim_map(_blur_valid(m_x, 2)).sum(axis=(1, 2))
  xz_c = _ssim_map(_blur_valid(m_x, 1)).sum(axis=(1, 2))
  yz_c = _ssim_map(_blur_valid(m_y, 1)).sum(axis=(1, 2))
  return xy_z, xz_c, yz_c


def ssim_from_sums(xy: float, xz: float, yz: float, shape: tuple[int, int, int]) -> dict[str, float]:
  """Mean SSIM per orientation from the total map sums of a whole volume."""
  z, y, x = shape
  v = 2 * RADIUS
  return {"xy": xy / (z * (y - v) * (x - v)), "xz": xz / (y * (z - v) * (x - v)),
          "yz": yz / (x * (z - v) * (y - v))}


def ssim_per_orientation(pred: Any, ref: Any) -> dict[str, float]:
  """Mean 2D SSIM over the xy (z = const), xz (y = const) and yz (x = const) planes, intensities in [0, 1].

  Every axis needs at least 11 voxels. For volumes larger than memory use `evaluate`, which works in slabs.
  """
  shape = checks.pair_shape(pred, ref)
  checks.check_ssim_size(shape)
  sums = ssim_plane_sums(jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32))
  xy, xz, yz = (float(np.asarray(s, np.float64).sum()) for s in sums)
  return ssim_from_sums(xy, xz, yz, shape)


@jax.jit
def _ssim_xy_sums(pred_nyx: jax.Array, ref_nyx: jax.Array) -> jax.Array:
  p, r = pred_nyx.astype(jnp.float32), ref_nyx.astype(jnp.float32)
  m = jnp.stack([p, r, p * p, r * r, p * r])  # [5, N, Y, X]
  return _ssim_map(_blur_valid(_blur_valid(m, 3), 2)).sum(axis=(1, 2))


def ssim_xy(pred: Any, ref: Any) -> float:
  """Mean 2D SSIM of a stack of images [N, Y, X] (any N >= 1; Y, X >= 11), intensities in [0, 1]."""
  shape = checks.pair_shape(pred, ref)
  checks.check_ssim_size(shape[1:])
  sums = np.asarray(_ssim_xy_sums(jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32)), np.float64)
  return float(sums.sum() / (shape[0] * (shape[1] - 2 * RADIUS) * (shape[2] - 2 * RADIUS)))


def ssim_images(pred: jax.Array, ref: jax.Array) -> jax.Array:
  """[...] mean SSIM of each image [..., H, W] (H, W >= 11; traceable and differentiable, for training losses)."""
  p, r = pred.astype(jnp.float32), ref.astype(jnp.float32)
  m = jnp.stack([p, r, p * p, r * r, p * r])
  nd = m.ndim
  return _ssim_map(_blur_valid(_blur_valid(m, nd - 1), nd - 2)).mean(axis=(-2, -1))
