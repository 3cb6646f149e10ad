"""How much white noise an image carries, estimated from the image alone.

`noise_sigma` is Donoho & Johnstone's (1994) robust estimator: the median absolute value of the finest diagonal
Haar wavelet coefficients, divided by 0.6745. For white noise of standard deviation sigma those coefficients
have standard deviation sigma; image structure adds only a few large coefficients, which the median ignores.
Texture finer than two pixels still counts as noise, so on EM the estimate is an upper bound.
"""
from __future__ import annotations

import numpy as np

MAD_TO_SIGMA = 0.6744897501960817   # median |N(0, 1)|


def haar_diagonal(images: np.ndarray) -> np.ndarray:
  """The finest diagonal Haar coefficients (a - b - c + d) / 2 of every 2x2 block of images [..., H, W]."""
  x = np.asarray(images, np.float64)
  if x.ndim < 2 or x.shape[-2] < 2 or x.shape[-1] < 2:
    raise ValueError(f"images must be [..., H, W] with H, W >= 2, got shape {x.shape}")
  h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
  x = x[..., :h, :w]
  return (x[..., 0::2, 0::2] - x[..., 0::2, 1::2] - x[..., 1::2, 0::2] + x[..., 1::2, 1::2]) / 2


def noise_sigma(images: np.ndarray) -> float:
  """Standard deviation of the white noise in images [..., H, W] (same units as the images)."""
  return float(np.median(np.abs(haar_diagonal(images))) / MAD_TO_SIGMA)
