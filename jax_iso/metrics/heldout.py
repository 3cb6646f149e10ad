"""Real held-out sections against a method's prediction of them (`jax-iso validate`).

Validation keeps every other section of an anisotropic volume (factor s: sections of thickness s fine slices,
now 2s apart) and reconstructs them at factor 2s. On that fine grid (the section grid of `degrade.grid`, at
factor 2s), kept section j is centred at (j + 0.5) * 2s and is s thick; the held-out section between kept j and
j + 1 is centred at (j + 1) * 2s and integrates the fine slices over [(j + 1) * 2s - s / 2, (j + 1) * 2s + s / 2),
slices cut by an edge counted by the overlapping fraction: the box-profile section 2j + 1 of a grid of
thickness s and phase s / 2 (`degrade.axial.section_weights`). `integrate_heldout` computes that from the
prediction; `section_scores` compares the result with the real sections: PSNR, mean SSIM of the sections, and
the Fourier ring correlation (FRC) resolution, pooled over the sections (1/7 threshold).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso.degrade import axial
from jax_iso.metrics import checks
from jax_iso.metrics import fourier_shells as shells_lib
from jax_iso.metrics import resolution as resolution_lib
from jax_iso.metrics.signal_to_noise import psnr_db
from jax_iso.metrics.ssim import ssim_xy


def heldout_weights(n_fine: int, factor: float, n_heldout: int) -> tuple[np.ndarray, np.ndarray]:
  """(idx [n_heldout, taps], w [n_heldout, taps]): held-out section j = sum_t w[j, t] * fine[idx[j, t]].

  `factor` is the input's anisotropy s (the reconstruction is at 2s); held-out section j lies between kept
  sections j and j + 1.
  """
  idx, w = axial.section_weights(n_fine, factor, profile="box", phase=factor / 2)
  idx, w = np.asarray(idx)[1::2], np.asarray(w)[1::2]
  if len(idx) < n_heldout:
    raise ValueError(f"{n_fine} fine slices at x{2 * factor:g} hold {len(idx)} held-out sections, not {n_heldout}")
  return idx[:n_heldout], w[:n_heldout]


def integrate_heldout(pred: Any, factor: float, n_heldout: int,
                      to_unit: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
  """The held-out sections [n_heldout, Y, X] (float32 in [0, 1]) integrated from `pred`, a (Z, Y, X) array or
  lazy array-like on the factor-2s fine grid; reads only the slices each section covers."""
  idx, w = heldout_weights(int(pred.shape[0]), factor, n_heldout)
  out = []
  for rows, weights in zip(idx, w):
    used = weights > 0
    first, last = int(rows[used].min()), int(rows[used].max())
    block = np.asarray(pred[first:last + 1])
    block = (to_unit(block) if to_unit is not None else block).astype(np.float64)
    out.append(np.tensordot(weights[used], block[rows[used] - first], axes=1))
  return np.stack(out).astype(np.float32)


@functools.partial(jax.jit, static_argnames=("spacing", "n_rings", "width", "taper"))
def _ring_sums(a: jax.Array, b: jax.Array, *, spacing: tuple[float, float], n_rings: int, width: float,
               taper: float) -> jax.Array:
  """Per ring sums of [Re(Fa conj Fb), |Fa|^2, |Fb|^2, count] over all images of a, b [N, Y, X]."""
  n_y, n_x = a.shape[1:]
  win = (jnp.asarray(shells_lib.tukey_window(n_y, taper))[:, None]
         * jnp.asarray(shells_lib.tukey_window(n_x, taper))[None, :])
  fa = jnp.fft.rfft2((a - a.mean(axis=(1, 2), keepdims=True)) * win)
  fb = jnp.fft.rfft2((b - b.mean(axis=(1, 2), keepdims=True)) * win)
  fy = jnp.asarray(np.fft.fftfreq(n_y, spacing[0]), jnp.float32)[:, None]
  fx = jnp.asarray(np.arange(n_x // 2 + 1) / (n_x * spacing[1]), jnp.float32)[None, :]
  ring = jnp.floor(jnp.sqrt(fy * fy + fx * fx) / width + 0.5).astype(jnp.int32)
  ring = jnp.broadcast_to(jnp.minimum(ring, n_rings), fa.shape)  # row n_rings: the corners
  values = jnp.stack([(fa * jnp.conj(fb)).real, jnp.abs(fa)**2, jnp.abs(fb)**2,
                      jnp.ones(fa.shape, jnp.float32)], axis=-1) * shells_lib.rfft_weights(n_x)[:, None]
  return jax.ops.segment_sum(values.reshape(-1, 4), ring.reshape(-1), num_segments=n_rings + 1)


def frc(pred: Any, ref: Any, spacing_yx: Sequence[float] = (1.0, 1.0), *,
        taper: float = 0.25) -> tuple[np.ndarray, np.ndarray, float]:
  """Fourier ring correlation of two stacks [N, Y, X], pooled over the N images: (freq, curve, nyquist)."""
  checks.pair_shape(pred, ref)
  sy, sx = (float(s) for s in spacing_yx)
  n_y, n_x = pred.shape[1:]
  width = max(1.0 / (n_y * sy), 1.0 / (n_x * sx))
  nyquist = 1.0 / (2.0 * max(sy, sx))
  n_rings = int(math.floor(nyquist / width + 0.5)) + 1
  sums = np.asarray(_ring_sums(jnp.asarray(pred, jnp.float32), jnp.asarray(ref, jnp.float32), spacing=(sy, sx),
                               n_rings=n_rings, width=width, taper=float(taper)), np.float64)[:-1]
  cross, pa, pb, count = sums.T
  with np.errstate(divide="ignore", invalid="ignore"):
    curve = np.where((count > 0) & (pa * pb > 0), cross / np.sqrt(pa * pb), np.nan)
  return np.arange(n_rings) * width, curve, nyquist


def section_scores(pred: np.ndarray, ref: np.ndarray, spacing_yx: Sequence[float] = (1.0, 1.0)) -> dict[str, Any]:
  """PSNR (dB, over all sections), mean SSIM and FRC resolution (1/7; in the units of `spacing_yx`) of
  predicted sections [N, Y, X] against real ones, intensities in [0, 1]."""
  checks.pair_shape(pred, ref)
  mse = float(np.mean((np.asarray(pred, np.float64) - np.asarray(ref, np.float64)) ** 2))
  freq, curve, nyquist = frc(pred, ref, spacing_yx)
  res = resolution_lib.crossing(freq, curve, resolution_lib.ONE_SEVENTH, nyquist)
  return {"psnr": float(psnr_db(mse)), "ssim": ssim_xy(pred, ref), "frc_resolution": res.resolution,
          "frc_limited": res.limited}
