"""Host (numpy/scipy) version of `jax_iso.degrade.fold`: one image (H, W) a call.

Same model and parameters as the device op, randomness from a `numpy.random.Generator`, written the way the
ssTEM restoration reference simulates a support-film fold on the host: endpoints by rejection sampling, the
flow from the signed distance to the line in numpy, a bilinear warp (`scipy.ndimage.map_coordinates`, order 1,
mode 'mirror' as on the device), the dark band, the contrast box. Returns (y, aux) like the device op.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

BOX_FEATHER = 8.0


def _draw(rng: np.random.Generator, value_range: tuple[float, float]) -> float:
  lo, hi = (float(v) for v in value_range)
  return lo if lo == hi else float(rng.uniform(lo, hi))


def _border_point(rng: np.random.Generator, side: int, h: int, w: int, margin: float) -> np.ndarray:
  mh, mw = min(margin, 0.2 * (h - 1)), min(margin, 0.2 * (w - 1))
  if side in (0, 2):
    return np.array([0.0 if side == 0 else h - 1.0, rng.uniform(mw, w - 1 - mw)])
  return np.array([rng.uniform(mh, h - 1 - mh), w - 1.0 if side == 1 else 0.0])


def fold_endpoints(rng: np.random.Generator, h: int, w: int, margin: float = 50.0) -> np.ndarray:
  """Two points (y, x) on two different borders, >= margin from corners, >= min(h, w) / 2 apart."""
  while True:
    side1 = int(rng.integers(0, 4))
    side2 = (side1 + int(rng.integers(1, 4))) % 4
    p1, p2 = _border_point(rng, side1, h, w, margin), _border_point(rng, side2, h, w, margin)
    if np.hypot(*(p2 - p1)) >= 0.5 * min(h, w):
      return np.stack([p1, p2])


def fold(rng: np.random.Generator, x: np.ndarray, *, line_width: tuple[float, float] = (5.0, 20.0),
         fold_width: tuple[float, float] = (10.0, 80.0), slope: tuple[float, float] = (1e-5, 0.1),
         band_darkness: tuple[float, float] = (0.75, 1.0), contrast_box: tuple[float, float] = (50.0, 200.0),
         box_contrast: tuple[float, float] = (0.4, 1.0), margin: float = 50.0,
         band_edge: float = 3.0) -> tuple[np.ndarray, dict]:
  """One support-film fold across an image (H, W) (model: `jax_iso.degrade.fold`)."""
  h, w = x.shape
  ends = fold_endpoints(rng, h, w, margin)
  lw, fw, k = _draw(rng, line_width), _draw(rng, fold_width), _draw(rng, slope)
  dark = _draw(rng, band_darkness)
  box_h, box_w = _draw(rng, contrast_box), _draw(rng, contrast_box)
  c = _draw(rng, box_contrast)
  u_box = rng.uniform()

  t = (ends[1] - ends[0]) / np.hypot(*(ends[1] - ends[0]))
  normal = np.array([-t[1], t[0]])
  yy, xx = np.mgrid[:h, :w].astype(np.float32)
  d = (yy - ends[0, 0]) * normal[0] + (xx - ends[0, 1]) * normal[1]
  a, sign = np.abs(d), np.sign(d)
  fe = max(fw, lw)
  pull = np.maximum(0.0, (fe - lw) - k * (a - lw))
  src = np.where(a >= lw, a + pull, a * (fe / lw if lw > 0 else 1.0))
  step = sign * (src - a)
  warped = ndimage.map_coordinates(x.astype(np.float32), [yy + step * normal[0], xx + step * normal[1]],
                                   order=1, mode="mirror")

  centre = ends[0] + u_box * (ends[1] - ends[0])
  box = (np.clip((0.5 * box_h - np.abs(yy - centre[0])) / BOX_FEATHER + 0.5, 0.0, 1.0)
         * np.clip((0.5 * box_w - np.abs(xx - centre[1])) / BOX_FEATHER + 0.5, 0.0, 1.0))
  if c != 1.0:
    mean = (warped * box).sum() / max(box.sum(), 1e-6)
    warped = warped + (c - 1.0) * box * (warped - mean)

  if lw > 0:
    r = np.clip((lw - a) / min(band_edge, lw), 0.0, 1.0) if band_edge > 0 else (a < lw).astype(np.float32)
    band = r * r * (3.0 - 2.0 * r)
  else:
    band = np.zeros_like(a)
  y = warped * (1.0 - dark * band)

  shown = np.where(a >= fe, np.minimum(a, lw + (a - fe) / (1.0 - k)), a * (lw / fe if fe > 0 else 1.0))
  back = sign * (shown - a)
  aux = {"mask": band.astype(np.float32), "flow": np.stack([back * normal[0], back * normal[1]]),
         "lost": (a < fe).astype(np.float32), "box": box.astype(np.float32), "endpoints": ends,
         "angle": math.atan2(t[0], t[1]) % math.pi, "line_width": lw, "fold_width": fw, "slope": k,
         "darkness": dark, "box_contrast": c}
  return y.astype(x.dtype), aux
