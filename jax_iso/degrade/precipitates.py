"""Staining precipitates (SP) of serial-section TEM: dark deposits on a washed-out section.

The model follows the SP simulation of Deng et al. (TMI 2022, reference `simu_sp`, METHODS.md), with the
reference's external bank of real precipitate masks replaced by procedurally generated blobs:
1. The whole section's contrast changes: the reference maps 0-255 intensities v to a*v + (170 - 147*a),
   a ~ U[0.3, 0.5]. On [0, 1] we write it as y0 = pivot + a*(x - pivot) (a = 1 is the identity). The reference's
   own fixed point is (170 - 147*a) / (255*(1 - a)): 0.705 at a = 0.3, 0.727 at a = 0.4, 0.757 at a = 0.5; the
   least-squares pivot over a ~ U[0.3, 0.5] is 0.7254 (= 185/255), which reproduces the reference within
   4/255 (at a = 0.3 and 0.5; rms 2.2/255). Default pivot 0.725.
2. Up to `count[1]` dark blobs, non-overlapping, placed largest first, each darkening the section
   multiplicatively (a deposit absorbs electrons; the reference multiplies the image by a graded mask too):
   y = y0 * (1 - D), D = m * (1 - t) * (1 + g * xi).
   - m, the blob's coverage: 1 inside, a smooth step of width w = edge + edge_fraction * r px centred on the
     outline (large deposits have wide, fuzzy edges), 0 outside.
   - t, its transmission: `core_value` inside a core of `core_size` times the outline radius, rising smoothly
     to `rim_value` at the outline (the grey rim around a black core).
   - xi, per-pixel noise with ~2 px grains; g ~ U[grain] once per call (granular deposits).
   - Outline r * (1 + sum_k a_k cos(k*theta - phi_k)), k = 2..6, a_k ~ irregularity * U[0, 1] * 2/k (lobed,
     irregular; sum a_k <= 0.8), r set so that the area inside the outline is exactly the drawn area.
   - Areas from a truncated power law p(A) ~ A^-area_exponent on `area` (many small, few large).
   - Placement: the first of `tries` uniform candidate centres whose bounding circle keeps `gap` px from the
     blobs already placed (a blob that fits nowhere is dropped); with probability `cluster_prob` a blob is a
     satellite, its candidates in a ring just outside a random earlier blob, so that clusters of dots form.
Blob parameters are drawn per blob, the contrast once per call; the blob layout is shared by the leading axes of
`x`, the grain noise is independent per pixel and per leading index. Each blob is rendered over the full frame
(n_max static, unused blobs masked), in fused elementwise passes: 32 x 256 x 256 in ~36 ms on the 2-core CPU.
Defaults were tuned against the precipitates of the real ISBI 2012 ssTEM volumes (4 x 4 x 50 nm; e.g. train
slice 20 around y 115-160, x 330-440; train slice 4 at (257, 80); test slice 13 at (412, 409)): black cores
at 0.2-5 % of the local background (the data are histogram-equalised), 1-4 px grey halos, lobed outlines,
satellites; there they measure a few px^2 to ~600 px^2. The default area range also reaches the tens of
thousands of px^2 of the reference's bank (rarely: power law). `core_value` (0, 0.2) lets them be black.
The op does not clip (with a <= 1 and x in [0, 1], y stays in [0, 1]).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax

from jax_iso.degrade.checks import check_float, check_range, uniform

HARMONICS = 5        # angular harmonics k = 2 .. HARMONICS + 1 of a blob's outline
MAX_LOBES = 0.8      # cap of sum_k a_k: the outline radius stays >= 0.2 r
SATELLITE_REACH = 8.0  # px: a satellite sits within (parent bound + this) beyond the parent's bounding circle


def _power_law(key: jax.Array, n: int, area: tuple[float, float], exponent: float) -> jax.Array:
  """n areas from p(A) ~ A^-exponent truncated to [lo, hi] (inverse CDF; exponent 1 is log-uniform)."""
  lo, hi = area
  if lo == hi:
    return jnp.full((n,), lo, jnp.float32)
  u = jax.random.uniform(key, (n,), jnp.float32)
  if abs(exponent - 1.0) < 1e-6:
    a = lo * (hi / lo) ** u
  else:
    e = 1.0 - exponent
    a = (lo ** e + u * (hi ** e - lo ** e)) ** (1.0 / e)
  return jnp.clip(a, lo, hi)


def _place(key: jax.Array, bound: jax.Array, used: jax.Array, satellite: jax.Array, height: int, width: int,
           tries: int, gap: float) -> tuple[jax.Array, jax.Array]:
  """Centres for blobs in order (largest first): each takes the first of `tries` candidates whose bounding
  circle keeps `gap` px from those already placed; a blob with no free candidate is dropped. Candidates are
  uniform over the image, or for a satellite, in a ring just outside a random earlier blob (a cluster).

  bound: [n] bounding radii; used, satellite: [n] bool. Returns (centres [n, 2] (y, x) px, placed [n] bool).
  """
  n = bound.shape[0]
  k_u, k_p, k_r, k_a = jax.random.split(key, 4)
  size = jnp.array([height, width], jnp.float32)
  uniform_cand = jax.random.uniform(k_u, (n, tries, 2), jnp.float32) * size - 0.5          # [n, T, 2]
  pick = jax.random.uniform(k_p, (n,))
  ring = jax.random.uniform(k_r, (n, tries))
  angle = jax.random.uniform(k_a, (n, tries), maxval=2.0 * math.pi)

  def body(i, state):
    centres, placed = state
    earlier = placed & (jnp.arange(n) < i)
    cum = jnp.cumsum(earlier.astype(jnp.float32))
    parent = jnp.argmax(cum > pick[i] * cum[-1])                                 # uniform among earlier
    reach = bound[parent] + bound[i] + gap + ring[i] * (bound[parent] + SATELLITE_REACH)      # [T]
    near = centres[parent] + reach[:, None] * jnp.stack([jnp.sin(angle[i]), jnp.cos(angle[i])], axis=-1)
    cand = jnp.where(satellite[i] & (cum[-1] > 0), near, uniform_cand[i])        # [T, 2]
    dist = jnp.sqrt(jnp.sum((cand[:, None, :] - centres[None]) ** 2, axis=-1))    # [T, n]
    inside = jnp.all((cand >= -0.5) & (cand < size - 0.5), axis=-1)               # [T]
    ok_t = inside & jnp.all((dist >= bound[i] + bound + gap) | ~placed, axis=1)
    t = jnp.argmax(ok_t)
    ok = ok_t[t] & used[i]
    centres = centres.at[i].set(jnp.where(ok, cand[t], centres[i]))
    return centres, placed.at[i].set(ok)

  init = (jnp.zeros((n, 2), jnp.float32), jnp.zeros((n,), bool))
  return lax.fori_loop(0, n, body, init)


def _smoothstep(t: jax.Array) -> jax.Array:
  t = jnp.clip(t, 0.0, 1.0)
  return t * t * (3.0 - 2.0 * t)


def _render(height: int, width: int, centre, radius, amp, phase, edge, core, rim, core_size):
  """Coverage m and darkness m * (1 - t) of one blob (scalars; amp, phase [K]): ([H, W], [H, W])."""
  dy = jnp.arange(height, dtype=jnp.float32)[:, None] - centre[0]                 # [H, 1]
  dx = jnp.arange(width, dtype=jnp.float32)[None, :] - centre[1]                  # [1, W]
  d = jnp.sqrt(dy * dy + dx * dx)                                                 # [H, W]
  inv = 1.0 / jnp.maximum(d, 1e-6)
  c1, s1 = dx * inv, dy * inv                                                     # cos, sin theta
  # sum_k a_k cos(k theta - phi_k) = Re(sum_k c_k u^k), u = e^(i theta), c_k = a_k e^(-i phi_k): Horner in u.
  cr, ci = amp * jnp.cos(phase), -amp * jnp.sin(phase)                            # [K]
  pr, pi = cr[-1], ci[-1]
  for k in range(HARMONICS - 2, -1, -1):
    pr, pi = pr * c1 - pi * s1 + cr[k], pr * s1 + pi * c1 + ci[k]
  c2, s2 = c1 * c1 - s1 * s1, 2.0 * c1 * s1                                       # u^2: lowest harmonic 2
  outline = jnp.maximum(radius * (1.0 + pr * c2 - pi * s2), 1e-3)                 # R(theta) > 0
  m = _smoothstep(0.5 + (outline - d) / edge)                                     # 1/2 on the outline
  ramp = _smoothstep((d / outline - core_size) / jnp.maximum(1.0 - core_size, 1e-6))
  return m, m * (1.0 - (core + (rim - core) * ramp))


def precipitates(key: jax.Array, x: jax.Array, *,
                 count: tuple[int, int] = (1, 8),
                 area: tuple[float, float] = (5.0, 20000.0),
                 area_exponent: float = 1.3,
                 core_value: tuple[float, float] = (0.0, 0.2),
                 rim_value: tuple[float, float] = (0.45, 0.9),
                 core_size: tuple[float, float] = (0.2, 0.8),
                 edge: tuple[float, float] = (1.0, 4.0),
                 edge_fraction: float = 0.15,
                 irregularity: tuple[float, float] = (0.1, 0.5),
                 grain: tuple[float, float] = (0.0, 0.3),
                 cluster_prob: float = 0.3,
                 global_contrast: tuple[float, float] = (0.3, 0.5),
                 pivot: float = 0.725,
                 gap: float = 2.0,
                 tries: int = 16) -> tuple[jax.Array, dict]:
  """Staining precipitates on images (..., H, W): a global contrast change and dark blobs (see module doc).

  Args:
    key: random key.
    x: float images (..., H, W), intensities in [0, 1].
    count: (lo, hi) integers: number of blobs, uniform on {lo, ..., hi}; hi is the static maximum n_max.
    area: (lo, hi) px^2 > 0: blob area (inside the outline) from a truncated power law.
    area_exponent: p(A) ~ A^-area_exponent (>= 0; 1 = log-uniform, 0 = uniform).
    core_value: transmission of the core (0 black, 1 no darkening).
    rim_value: transmission at the outline, reached from the core by a smooth ramp.
    core_size: core radius as a fraction of the outline radius, in [0, 1].
    edge: width in px of the soft edge across the outline (>= 0), plus `edge_fraction` times the radius.
    edge_fraction: soft edge width per px of blob radius (>= 0): large deposits have wide, fuzzy edges.
    irregularity: outline harmonic amplitude, in [0, 0.5] (0 = round).
    grain: amplitude of the per-pixel (~2 px grains) modulation of the darkness, in [0, 1], once per call.
    cluster_prob: probability that a blob is placed as a satellite next to an earlier blob (clusters).
    global_contrast: a of y0 = pivot + a*(x - pivot), drawn once per call (reference U[0.3, 0.5]; (1, 1) = off).
    pivot: intensity the contrast change keeps fixed (0.725 fits the reference best, see module doc).
    gap: minimum px between the bounding circles of two blobs (keeps them apart after the soft edge).
    tries: candidate positions per blob; a blob that fits at none of them is dropped.

  Returns:
    y like x, and aux {'mask': [..., H, W] float32 coverage of the union of blobs (1 inside, soft edge, 0
    outside, where y equals the contrast-changed x exactly), 'count': int32 blobs placed, 'areas': [n_max]
    drawn areas of the placed blobs, largest first (0 for unused), 'centres': [n_max, 2] (y, x) px,
    'contrast': a, 'grain': g}. count (0, 0) with global_contrast (1, 1) is exactly the identity.
  """
  x = check_float(x)
  count = check_range("count", count, low=0)
  if any(c != int(c) for c in count):
    raise ValueError(f"count must be a pair of integers, got {count!r}")
  area = check_range("area", area, low=0.0)
  if area[0] <= 0:
    raise ValueError(f"area must be > 0 px^2, got {area!r}")
  if not (math.isfinite(area_exponent) and area_exponent >= 0):
    raise ValueError(f"area_exponent must be a finite number >= 0, got {area_exponent!r}")
  core_value = check_range("core_value", core_value, low=0.0, high=1.0)
  rim_value = check_range("rim_value", rim_value, low=0.0, high=1.0)
  core_size = check_range("core_size", core_size, low=0.0, high=1.0)
  edge = check_range("edge", edge, low=0.0)
  irregularity = check_range("irregularity", irregularity, low=0.0, high=0.5)
  grain = check_range("grain", grain, low=0.0, high=1.0)
  if not 0.0 <= cluster_prob <= 1.0:
    raise ValueError(f"cluster_prob must lie in [0, 1], got {cluster_prob!r}")
  global_contrast = check_range("global_contrast", global_contrast, low=0.0)
  if not (math.isfinite(pivot) and 0.0 <= pivot <= 1.0):
    raise ValueError(f"pivot must lie in [0, 1], got {pivot!r}")
  if not (math.isfinite(edge_fraction) and edge_fraction >= 0):
    raise ValueError(f"edge_fraction must be a finite number >= 0, got {edge_fraction!r}")
  if not (math.isfinite(gap) and gap >= 0):
    raise ValueError(f"gap must be >= 0 px, got {gap!r}")
  if int(tries) != tries or tries < 1:
    raise ValueError(f"tries must be an integer >= 1, got {tries!r}")

  n_max, (height, width) = int(count[1]), x.shape[-2:]
  (k_contrast, k_count, k_area, k_irr, k_amp, k_phase, k_edge, k_sat, k_place, k_core, k_rim, k_csize, k_grain,
   k_noise) = jax.random.split(key, 14)
  a = uniform(k_contrast, global_contrast)
  n = jax.random.randint(k_count, (), int(count[0]), n_max + 1)
  xf = x.astype(jnp.float32)                                                      # [..., H, W]
  y0 = xf + (a - 1.0) * (xf - pivot)                                              # exact x when a == 1
  if n_max == 0:
    aux = {"mask": jnp.zeros(x.shape, jnp.float32), "count": jnp.int32(0),
           "areas": jnp.zeros((0,), jnp.float32), "centres": jnp.zeros((0, 2), jnp.float32), "contrast": a,
           "grain": jnp.float32(0.0)}
    return (x if global_contrast == (1.0, 1.0) else y0.astype(x.dtype)), aux

  used = jnp.arange(n_max) < n
  areas = -jnp.sort(-jnp.where(used, _power_law(k_area, n_max, area, area_exponent), 0.0))  # largest first
  irr = uniform(k_irr, irregularity, (n_max,))
  ks = jnp.arange(2, HARMONICS + 2, dtype=jnp.float32)
  amp = irr[:, None] * jax.random.uniform(k_amp, (n_max, HARMONICS)) * (2.0 / ks)      # [n, K]
  amp = amp * jnp.minimum(1.0, MAX_LOBES / jnp.maximum(jnp.sum(amp, axis=1, keepdims=True), 1e-6))
  phase = jax.random.uniform(k_phase, (n_max, HARMONICS), maxval=2.0 * math.pi)
  radius = jnp.sqrt(areas / (math.pi * (1.0 + 0.5 * jnp.sum(amp * amp, axis=1))))
  e = jnp.maximum(uniform(k_edge, edge, (n_max,)) + edge_fraction * radius, 1e-3)   # soft edge width, px
  bound = radius * (1.0 + jnp.sum(amp, axis=1)) + 0.5 * e
  satellite = jax.random.uniform(k_sat, (n_max,)) < cluster_prob
  centres, placed = _place(k_place, bound, used, satellite, height, width, int(tries), float(gap))
  core = uniform(k_core, core_value, (n_max,))
  rim = uniform(k_rim, rim_value, (n_max,))
  csize = uniform(k_csize, core_size, (n_max,))
  g = uniform(k_grain, grain)

  # Coverage and darkness in two separate passes, one fused full-frame loop per blob and per map, each into a
  # single [H, W] accumulator: on CPU an [n_max, H, W] intermediate, or two accumulators in one pass, cost 3-6x.
  blobs = (centres, radius, amp, phase, e, core, rim, csize, placed.astype(jnp.float32))
  mask = darkness = jnp.zeros((height, width), jnp.float32)
  for i in range(n_max):
    _, dark = _render(height, width, *(b[i] for b in blobs[:-1]))
    darkness = darkness + dark * blobs[-1][i]
  blobs = lax.optimization_barrier(blobs)      # keeps XLA from merging the two passes into one slow one
  for i in range(n_max):
    m, _ = _render(height, width, *(b[i] for b in blobs[:-1]))
    mask = mask + m * blobs[-1][i]
  mask = jnp.minimum(mask, 1.0)                                                   # [H, W]
  if grain != (0.0, 0.0):
    u = jax.random.uniform(k_noise, x.shape[:-2] + (height + 1, width + 1), jnp.float32, -1.0, 1.0)
    u = lax.optimization_barrier(u)             # drawn once, not once per shifted read
    u = u[..., 1:, :] + u[..., :-1, :]
    xi = 0.5 * (u[..., 1:] + u[..., :-1])       # [..., H, W] 2 x 2 box: grains of ~2 px, std as U[-1, 1]
    darkness = darkness * (1.0 + g * xi)                                          # [..., H, W]
  darkness = jnp.clip(darkness, 0.0, 1.0)
  y = y0 * (1.0 - darkness)
  aux = {"mask": jnp.broadcast_to(mask, x.shape), "count": jnp.sum(placed).astype(jnp.int32),
         "areas": jnp.where(placed, areas, 0.0), "centres": centres, "contrast": a,
         "grain": g}
  return y.astype(x.dtype), aux
