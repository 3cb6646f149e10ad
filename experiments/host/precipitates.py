"""Host (numpy) version of `jax_iso.degrade.precipitates`: one image (H, W) or stack (D, H, W) a call.

Same model and parameters as the device op, randomness from a `numpy.random.Generator`, written the way the ssTEM
restoration reference (`simu_sp`) makes stain precipitates on the host: the global contrast change on the whole
image, then blob by blob, largest first, a position found by rejection sampling against the blobs already
placed, and the blob's graded mask multiplied into the image inside its bounding box only. As on the device, a
stack shares one blob layout and gets independent grain noise per slice. Returns (y, aux) like the device op
(aux scalars as Python numbers, arrays as numpy).
"""
from __future__ import annotations

import math

import numpy as np

HARMONICS = 5          # outline harmonics k = 2 .. HARMONICS + 1 (as on the device)
MAX_LOBES = 0.8        # cap of sum_k a_k
SATELLITE_REACH = 8.0  # px


def _draw(rng: np.random.Generator, value_range, size=None):
  lo, hi = (float(v) for v in value_range)
  if lo == hi:
    return lo if size is None else np.full(size, lo)
  return rng.uniform(lo, hi, size)


def power_law_areas(rng: np.random.Generator, n: int, area: tuple[float, float], exponent: float) -> np.ndarray:
  """n areas from p(A) ~ A^-exponent truncated to [lo, hi] (inverse CDF; exponent 1 is log-uniform)."""
  lo, hi = (float(v) for v in area)
  u = rng.uniform(size=n)
  if lo == hi:
    return np.full(n, lo)
  if abs(exponent - 1.0) < 1e-6:
    return lo * (hi / lo) ** u
  e = 1.0 - exponent
  return np.clip((lo ** e + u * (hi ** e - lo ** e)) ** (1.0 / e), lo, hi)


def _smoothstep(t: np.ndarray) -> np.ndarray:
  t = np.clip(t, 0.0, 1.0)
  return t * t * (3.0 - 2.0 * t)


def _blob(yy, xx, cy, cx, r, amp, phase, edge, core, rim, core_size):
  """Coverage and darkness of one blob on the pixel grid yy, xx (a window of the image)."""
  dy, dx = yy - cy, xx - cx
  d = np.hypot(dy, dx)
  theta = np.arctan2(dy, dx)
  shape = np.ones_like(d)
  for j in range(HARMONICS):
    shape += amp[j] * np.cos((j + 2) * theta - phase[j])
  outline = np.maximum(r * shape, 1e-3)
  m = _smoothstep(0.5 + (outline - d) / edge)
  ramp = _smoothstep((d / outline - core_size) / max(1.0 - core_size, 1e-6))
  return m, m * (1.0 - (core + (rim - core) * ramp))


def precipitates(rng: np.random.Generator, x: np.ndarray, *, count=(1, 8), area=(5.0, 20000.0),
                 area_exponent: float = 1.3, core_value=(0.0, 0.2), rim_value=(0.45, 0.9),
                 core_size=(0.2, 0.8), edge=(1.0, 4.0), edge_fraction: float = 0.15, irregularity=(0.1, 0.5),
                 grain=(0.0, 0.3), cluster_prob: float = 0.3, global_contrast=(0.3, 0.5), pivot: float = 0.725,
                 gap: float = 2.0, tries: int = 16) -> tuple[np.ndarray, dict]:
  """Staining precipitates on an image (H, W) or a stack (D, H, W) (model: `jax_iso.degrade.precipitates`)."""
  h, w = x.shape[-2:]
  a = float(_draw(rng, global_contrast))
  xf = x.astype(np.float32)
  y0 = xf + np.float32(a - 1.0) * (xf - np.float32(pivot))
  n_max = int(count[1])
  n = int(rng.integers(int(count[0]), n_max + 1))

  areas = np.sort(power_law_areas(rng, n, area, area_exponent))[::-1]
  mask = np.zeros((h, w), np.float32)
  darkness = np.zeros((h, w), np.float32)
  placed = []                                            # (cy, cx, bounding radius)
  out_areas, centres = np.zeros(n_max, np.float32), np.zeros((n_max, 2), np.float32)
  for i, ar in enumerate(areas):
    amp = _draw(rng, irregularity) * rng.uniform(size=HARMONICS) * (2.0 / np.arange(2, HARMONICS + 2))
    amp *= min(1.0, MAX_LOBES / max(amp.sum(), 1e-6))
    phase = rng.uniform(0.0, 2.0 * math.pi, HARMONICS)
    r = math.sqrt(ar / (math.pi * (1.0 + 0.5 * np.sum(amp * amp))))
    e = max(float(_draw(rng, edge)) + edge_fraction * r, 1e-3)
    bound = r * (1.0 + amp.sum()) + 0.5 * e
    satellite = bool(placed) and rng.uniform() < cluster_prob
    parent = placed[int(rng.integers(len(placed)))] if satellite else None
    spot = None
    for _ in range(tries):                               # rejection sampling of the position
      if satellite:
        py, px, pb = parent
        reach = pb + bound + gap + rng.uniform() * (pb + SATELLITE_REACH)
        ang = rng.uniform(0.0, 2.0 * math.pi)
        cy, cx = py + reach * math.sin(ang), px + reach * math.cos(ang)
        if not (-0.5 <= cy < h - 0.5 and -0.5 <= cx < w - 0.5):
          continue
      else:
        cy, cx = rng.uniform(0.0, h) - 0.5, rng.uniform(0.0, w) - 0.5
      if all(math.hypot(cy - qy, cx - qx) >= bound + qb + gap for qy, qx, qb in placed):
        spot = (cy, cx)
        break
    if spot is None:
      continue
    cy, cx = spot
    core, rim, csize = _draw(rng, core_value), _draw(rng, rim_value), _draw(rng, core_size)
    y_lo, y_hi = max(0, int(math.floor(cy - bound))), min(h, int(math.ceil(cy + bound)) + 1)
    x_lo, x_hi = max(0, int(math.floor(cx - bound))), min(w, int(math.ceil(cx + bound)) + 1)
    yy, xx = np.mgrid[y_lo:y_hi, x_lo:x_hi].astype(np.float32)
    m, dark = _blob(yy, xx, cy, cx, r, amp, phase, e, core, rim, csize)
    mask[y_lo:y_hi, x_lo:x_hi] += m
    darkness[y_lo:y_hi, x_lo:x_hi] += dark
    out_areas[i], centres[i] = ar, spot                # slot i, as on the device (0 where dropped)
    placed.append((cy, cx, bound))

  g = float(_draw(rng, grain))
  if g > 0:
    u = rng.uniform(-1.0, 1.0, x.shape[:-2] + (h + 1, w + 1)).astype(np.float32)
    u = u[..., 1:, :] + u[..., :-1, :]
    darkness = darkness * (1.0 + g * 0.5 * (u[..., 1:] + u[..., :-1]))
  y = y0 * (1.0 - np.clip(darkness, 0.0, 1.0))
  aux = {"mask": np.broadcast_to(np.minimum(mask, 1.0), x.shape), "count": len(placed), "areas": out_areas,
         "centres": centres, "contrast": a, "grain": g}
  return y.astype(x.dtype, copy=False), aux
