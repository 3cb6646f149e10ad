"""Support-film folds (SFF) of serial-section TEM, with the band mask and the flow that unfolds them.

Model (ssTEM restoration reference, Deng et al. TMI 2022; METHODS.md): a straight fold line joins two points on
two different image borders, each >= `margin` px from the corners (margin scaled to <= 0.2 x the border for
small images), the points >= min(H, W) / 2 apart. At signed distance d from the line, tissue is pulled towards
the fold along the line's normal: the pixel at |d| = a >= w (w = band half-width) shows the tissue from
    A(a) = a + max(0, (f - w) - k (a - w)),    f = max(fold_width, w), k = slope,
so the strip |A| < f is folded under (lost) and the band |d| < w is the fold itself. The band shows the
folded-under strip compressed into it (A = a f / w: pleats along the fold, continuous with the outside),
darkened by the factor (1 - darkness x band profile). A box of `contrast_box` px sides centred on a random
point of the line gets its contrast scaled by U[box_contrast] about the box's own mean. Bilinear warp.

Where we depart from the reference, and why (tuned on real ssTEM: ISBI 2012, Drosophila L3 VNC, CREMI):
- Band darkness U[0.75, 1.0] instead of always 0. A fold stacks three layers of film and tissue, so it is the
  darkest structure of a section but often shows the overlapped tissue. In the real sections membranes (5th
  intensity percentile) sit at 0.23-0.40 of the median brightness; darkness >= 0.75 keeps the band's mean at
  <= 0.25 of the local tissue, i.e. darker than membranes, while < ~0.9 leaves the pleated texture visible.
- A soft band edge: smoothstep over `band_edge` = 3 px (10-90 % in ~2 px, about the blur of membrane edges
  in these 4-5 nm images, where membranes are 3-6 px lines) instead of the reference's aliased 1-px step.
- The box's edges are feathered over 8 px (a hard-edged rectangle is a tell no real section has).
- Tissue pulled in from beyond the image (the far field of each side moves by up to f - w px) is mirrored at
  the border; the reference clamps, which smears streaks along the border. Neither is real: for full
  realism fold a tile with f px of extra context on each side and crop afterwards (the op and its aux crop
  consistently).

Because the displacement is 1-D along the normal and monotonic (k < 1), the inverse is closed form: an
unfolded point at distance A >= f is shown at a = min(A, w + (A - f) / (1 - k)); aux['flow'] is that
inverse flow, unfolded(p) = y(p + flow(p)) = x(p) outside the lost strip and the contrast box, wherever
p + flow(p) lies inside the image. Not clipped: warping, darkening and box_contrast <= 1 keep values inside
the input's range.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jax_iso.degrade import checks

N_CANDIDATES = 8  # endpoint pairs drawn at once; the first valid one is used (rejection with a static count)
BOX_FEATHER = 8.0  # px over which the contrast box's edges fade (the reference's hard-edged box is a tell)


def _border_point(side: jax.Array, u: jax.Array, h: int, w: int, margin: float) -> tuple[jax.Array, jax.Array]:
  """Point (y, x) on image border `side` (0 top, 1 right, 2 bottom, 3 left) at fraction u of its free part."""
  mh, mw = min(margin, 0.2 * (h - 1)), min(margin, 0.2 * (w - 1))
  along_y = mh + u * (h - 1 - 2 * mh)
  along_x = mw + u * (w - 1 - 2 * mw)
  py = jnp.select([side == 0, side == 2], [0.0, float(h - 1)], along_y)
  px = jnp.select([side == 1, side == 3], [float(w - 1), 0.0], along_x)
  return py, px


def fold_endpoints(key: jax.Array, h: int, w: int, margin: float = 50.0) -> jax.Array:
  """Two points [2, 2] (y, x) on two different borders, >= margin from corners and >= min(h, w) / 2 apart."""
  k_side, k_other, k_u = jax.random.split(key, 3)
  side1 = jax.random.randint(k_side, (N_CANDIDATES,), 0, 4)
  side2 = (side1 + jax.random.randint(k_other, (N_CANDIDATES,), 1, 4)) % 4
  u = jax.random.uniform(k_u, (2, N_CANDIDATES))
  y1, x1 = _border_point(side1, u[0], h, w, margin)
  y2, x2 = _border_point(side2, u[1], h, w, margin)
  ok = jnp.hypot(y2 - y1, x2 - x1) >= 0.5 * min(h, w)
  # None valid (rare): the first candidate's point joined to the opposite border, always far enough.
  y2f, x2f = _border_point((side1[0] + 2) % 4, u[1, 0], h, w, margin)
  i = jnp.argmax(ok)
  y2s = jnp.where(ok[i], y2[i], y2f)
  x2s = jnp.where(ok[i], x2[i], x2f)
  y1s = jnp.where(ok[i], y1[i], y1[0])
  x1s = jnp.where(ok[i], x1[i], x1[0])
  return jnp.stack([jnp.stack([y1s, x1s]), jnp.stack([y2s, x2s])]).astype(jnp.float32)


def _mirror(c: jax.Array, n: int) -> jax.Array:
  """Coordinates reflected about the first and last pixel centres (scipy mode 'mirror'), then clamped."""
  c = jnp.abs(c)
  c = jnp.where(c > n - 1, 2.0 * (n - 1) - c, c)
  return jnp.clip(c, 0.0, n - 1.0)


def bilinear_warp(x: jax.Array, cy: jax.Array, cx: jax.Array) -> jax.Array:
  """x [..., H, W] sampled at (cy, cx) [H, W] by bilinear interpolation, edge mode 'mirror'
  (`scipy.ndimage.map_coordinates(order=1, mode='mirror')` within one image size beyond the border)."""
  h, w = x.shape[-2:]
  cy, cx = _mirror(cy, h), _mirror(cx, w)
  y0, x0 = jnp.floor(cy), jnp.floor(cx)
  fy, fx = cy - y0, cx - x0
  y0, x0 = y0.astype(jnp.int32), x0.astype(jnp.int32)
  ya, yb = y0, jnp.minimum(y0 + 1, h - 1)
  xa, xb = x0, jnp.minimum(x0 + 1, w - 1)
  flat = x.reshape(x.shape[:-2] + (h * w,))
  tap = lambda yi, xi: jnp.take(flat, (yi * w + xi).reshape(-1), axis=-1).reshape(x.shape)
  top = tap(ya, xa) * (1.0 - fx) + tap(ya, xb) * fx
  bottom = tap(yb, xa) * (1.0 - fx) + tap(yb, xb) * fx
  return top * (1.0 - fy) + bottom * fy


def fold(key: jax.Array, x: jax.Array, *, line_width: tuple[float, float] = (5.0, 20.0),
         fold_width: tuple[float, float] = (10.0, 80.0), slope: tuple[float, float] = (1e-5, 0.1),
         band_darkness: tuple[float, float] = (0.75, 1.0), contrast_box: tuple[float, float] = (50.0, 200.0),
         box_contrast: tuple[float, float] = (0.4, 1.0), margin: float = 50.0,
         band_edge: float = 3.0) -> tuple[jax.Array, dict]:
  """Keyed op: one support-film fold across images (..., H, W) (see the module docstring for the model).

  Ranges (px unless said; reference values): line_width = band half-width w (5, 20); fold_width = f, the
  distance whose tissue is folded under (10, 80); slope = k in [0, 1), how fast the pull fades away from the
  fold (1e-5, 0.1); band_darkness = fraction of the band's brightness removed, 1 = black (ours, (0.75, 1));
  contrast_box = box side lengths, drawn independently (50, 200); box_contrast = contrast factor in the box
  (0.4, 1). `margin`: endpoint distance from corners (50); `band_edge`: width of the band's soft edge (3).
  Zero strength: line_width (0, 0), fold_width (0, 0) and box_contrast (1, 1) give y == x exactly.

  Returns y and aux {'mask': [..., H, W] band profile (1 inside, soft edge), 'flow': [..., 2, H, W] (dy, dx)
  inverse flow, unfolded(p) = y(p + flow(p)), 'lost': [..., H, W] 1 on the folded-under strip (unfolded frame),
  'box': [..., H, W] contrast-box weight (1 inside, feathered edge), 'endpoints': [2, 2] (y, x), 'angle' (line
  direction, radians in [0, pi)), 'line_width', 'fold_width', 'slope', 'darkness', 'box_contrast'}.
  """
  x = checks.check_float(x, min_ndim=2)
  line_width = checks.check_range("line_width", line_width, low=0.0)
  fold_width = checks.check_range("fold_width", fold_width, low=0.0)
  slope = checks.check_range("slope", slope, low=0.0)
  if slope[1] >= 1.0:
    raise ValueError(f"slope must lie in [0, 1) (the pull must stay monotonic), got {slope!r}")
  band_darkness = checks.check_range("band_darkness", band_darkness, low=0.0, high=1.0)
  contrast_box = checks.check_range("contrast_box", contrast_box, low=0.0)
  box_contrast = checks.check_range("box_contrast", box_contrast, low=0.0)
  if not margin >= 0:
    raise ValueError(f"margin must be >= 0, got {margin!r}")
  if not band_edge >= 0:
    raise ValueError(f"band_edge must be >= 0, got {band_edge!r}")
  h, w = x.shape[-2:]
  if h < 2 or w < 2:
    raise ValueError(f"x must be at least 2 x 2 in its last two axes, got shape {x.shape}")

  keys = jax.random.split(key, 8)
  ends = fold_endpoints(keys[0], h, w, float(margin))                    # [2, 2] (y, x)
  lw = checks.uniform(keys[1], line_width)
  fw = checks.uniform(keys[2], fold_width)
  k = checks.uniform(keys[3], slope)
  dark = checks.uniform(keys[4], band_darkness)
  box_hw = checks.uniform(keys[5], contrast_box, (2,))
  c = checks.uniform(keys[6], box_contrast)
  u_box = jax.random.uniform(keys[7])

  t = ends[1] - ends[0]
  t = t / jnp.linalg.norm(t)                                             # line direction (ty, tx)
  normal = jnp.stack([-t[1], t[0]])                                      # (ny, nx)
  angle = jnp.mod(jnp.arctan2(t[0], t[1]), jnp.pi)
  yy = jnp.arange(h, dtype=jnp.float32)[:, None]
  xx = jnp.arange(w, dtype=jnp.float32)[None, :]
  d = (yy - ends[0, 0]) * normal[0] + (xx - ends[0, 1]) * normal[1]      # [H, W] signed distance
  a = jnp.abs(d)
  sign = jnp.sign(d)
  fe = jnp.maximum(fw, lw)                                               # folded-under distance (>= band)

  # Forward: the fold at distance a shows the tissue from distance src (band: the lost strip, compressed).
  pull = jnp.maximum(0.0, (fe - lw) - k * (a - lw))
  squeeze = jnp.where(lw > 0, fe / jnp.maximum(lw, 1e-6), 1.0)
  src = jnp.where(a >= lw, a + pull, a * squeeze)
  step = sign * (src - a)                                                # [H, W] along the normal
  warped = bilinear_warp(x.astype(jnp.float32), yy + step * normal[0], xx + step * normal[1])

  # Contrast box centred on the line, scaled about its own mean (per image).
  centre = ends[0] + u_box * (ends[1] - ends[0])
  ramp_y = jnp.clip((0.5 * box_hw[0] - jnp.abs(yy - centre[0])) / BOX_FEATHER + 0.5, 0.0, 1.0)
  ramp_x = jnp.clip((0.5 * box_hw[1] - jnp.abs(xx - centre[1])) / BOX_FEATHER + 0.5, 0.0, 1.0)
  box = ramp_y * ramp_x                                                  # [H, W], feathered edges
  box_mean = jnp.sum(warped * box, axis=(-2, -1), keepdims=True) / jnp.maximum(jnp.sum(box), 1e-6)
  warped = warped + (c - 1.0) * box * (warped - box_mean)

  # Dark band with a smoothstep edge `band_edge` px wide, inside |d| < w.
  edge = jnp.minimum(jnp.float32(band_edge), lw)
  ramp = jnp.clip((lw - a) / jnp.maximum(edge, 1e-6), 0.0, 1.0)
  band = jnp.where(lw > 0, ramp * ramp * (3.0 - 2.0 * ramp), 0.0)         # [H, W]
  y = warped * (1.0 - dark * band)

  # Inverse: an unfolded point at distance A is shown at distance a(A) (lost strip: inside the band).
  shown = jnp.where(a >= fe, jnp.minimum(a, lw + (a - fe) / (1.0 - k)),
                    a * jnp.where(fe > 0, lw / jnp.maximum(fe, 1e-6), 1.0))
  back = sign * (shown - a)
  flow = jnp.stack([back * normal[0], back * normal[1]])                 # [2, H, W]
  lost = (a < fe).astype(jnp.float32)

  lead = x.shape[:-2]
  aux = {"mask": jnp.broadcast_to(band, lead + (h, w)), "flow": jnp.broadcast_to(flow, lead + (2, h, w)),
         "lost": jnp.broadcast_to(lost, lead + (h, w)), "box": jnp.broadcast_to(box, lead + (h, w)),
         "endpoints": ends, "angle": angle, "line_width": lw, "fold_width": fw, "slope": k,
         "darkness": dark, "box_contrast": c}
  return y.astype(x.dtype), aux
