"""PSNR on [0, 1] intensities: whole volume and per plane orientation.

The MSE is clipped at 1e-10, so a PSNR is at most 100 dB (identical volumes give 100, not infinity).
Squared errors are summed along X on the device (float32) and the rest in float64 on the host.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso.metrics import checks

MSE_FLOOR = 1e-10  # PSNR is at most 10 * log10(1 / MSE_FLOOR) = 100 dB


@jax.jit
def plane_sse(pred_zyx: jax.Array, ref_zyx: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Sums of squared errors: over X -> [Z, Y], and over Y -> [Z, X]."""
  err2_zyx = jnp.square(pred_zyx.astype(jnp.float32) - ref_zyx.astype(jnp.float32))
  return err2_zyx.sum(axis=2), err2_zyx.sum(axis=1)


def psnr_db(mse: np.ndarray | float) -> np.ndarray:
  """10 * log10(1 / mse) for data range 1, with mse clipped at MSE_FLOOR."""
  return 10.0 * np.log10(1.0 / np.maximum(np.asarray(mse, np.float64), MSE_FLOOR))


def psnr_from_sse(sse_xy_z: np.ndarray, sse_xz_y: np.ndarray, sse_yz_x: np.ndarray,
                  shape: tuple[int, int, int]) -> dict[str, float]:
  """PSNR of the volume and mean per-plane PSNR per orientation, from per-plane sums of squared errors."""
  z, y, x = shape
  return {
      "psnr": float(psnr_db(sse_xy_z.sum() / (z * y * x))),
      "xy": float(psnr_db(sse_xy_z / (y * x)).mean()),
      "xz": float(psnr_db(sse_xz_y / (z * x)).mean()),
      "yz": float(psnr_db(sse_yz_x / (z * y)).mean()),
  }


def _sse_per_plane(pred: Any, ref: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
  shape = checks.pair_shape(pred, ref)
  sums = plane_sse(jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32))
  sse_zy, sse_zx = (np.asarray(s, np.float64) for s in sums)
  return sse_zy.sum(axis=1), sse_zy.sum(axis=0), sse_zx.sum(axis=0), shape


def psnr(pred: Any, ref: Any) -> float:
  """PSNR (dB) of the whole volume on [0, 1] intensities; MSE clipped at 1e-10 (at most 100 dB)."""
  sse_xy_z, sse_xz_y, sse_yz_x, shape = _sse_per_plane(pred, ref)
  return psnr_from_sse(sse_xy_z, sse_xz_y, sse_yz_x, shape)["psnr"]


def psnr_per_orientation(pred: Any, ref: Any) -> dict[str, float]:
  """Mean per-plane PSNR (dB) over xy (z = const), xz (y = const) and yz (x = const) planes.

  Each plane's MSE is clipped at 1e-10, so a plane contributes at most 100 dB.
  """
  sse_xy_z, sse_xz_y, sse_yz_x, shape = _sse_per_plane(pred, ref)
  out = psnr_from_sse(sse_xy_z, sse_xz_y, sse_yz_x, shape)
  return {k: out[k] for k in ("xy", "xz", "yz")}
