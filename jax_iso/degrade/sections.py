"""Section defects of serial-section stacks: missing sections and section-to-section misalignment.

Both ops act on stacks (..., D, H, W) and keep the contract of `jax_iso.degrade.checks`. Per-section values
(which sections are missing, each section's shift) are drawn once per call and shared by the leading axes.

- `missing_sections`: runs of consecutive sections lost in cutting or imaging (ssTEM restoration reference,
  "MS": a section replaced by blank). Lost sections are filled with one mode per call: "blank" (a constant,
  as the references do), "mean" (the section's own mean: content gone, exposure kept), "duplicate" (the nearest
  intact section, as when a section is imaged twice or a slice is repeated to keep the Z grid) or "interpolate"
  (the distance-weighted mean of the nearest intact sections below and above: how curated data sets patch a
  lost section; CREMI val crop slice 3 here is 0.9994-correlated with the mean of slices 2 and 4).
- `interpolate_missing`: flagged sections (its own flags per stack) bridged like the "interpolate" fill, for
  consumers that know which sections are lost (EMformer's lost frames, `clip_pair`'s baseline).
- `misalignment`: every section translated by its own sub-pixel (dy, dx), the residual jitter of section
  registration (`max_shift` default (0, 2) px; adjacent sections of the real ssTEM stacks in ../shared/data
  match best at median offsets of 1.8-3.5 px, drift of oblique structures included, so real jitter is at most
  that). Separable linear interpolation, edge mode 'nearest' (same as `scipy.ndimage.shift(order=1,
  mode='nearest')`), as two 2-tap banded matrices per section applied with matmuls (faster than gathers).

Neither op clips: fills and linear interpolation stay inside the input's range (blank_value aside).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jax_iso.degrade import checks

FILLS = ("blank", "mean", "duplicate", "interpolate")


def _int_range(name: str, value, *, low: int) -> tuple[int, int]:
  """A (lo, hi) pair of integers with low <= lo <= hi; ValueError naming `name` otherwise."""
  lo, hi = checks.check_range(name, value, low=low)
  if lo != int(lo) or hi != int(hi):
    raise ValueError(f"{name} must be a (lo, hi) pair of integers, got {value!r}")
  return int(lo), int(hi)


def _check_fills(fills) -> tuple[str, ...]:
  if isinstance(fills, str):
    fills = (fills,)
  fills = tuple(fills)
  if not fills or any(f not in FILLS for f in fills):
    raise ValueError(f"fills must be a non-empty tuple of {FILLS}, got {fills!r}")
  return fills


def _nearest_intact(missing: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """For every section: the nearest intact section (ties go down), and the nearest intact one at or below and
  at or above it; -1 where there is none. missing: [D] bool."""
  n = missing.shape[0]
  z = jnp.arange(n)
  offset = z[None, :] - z[:, None]                                       # [D, D]: j - i
  big = 4 * n
  dist = jnp.where(missing[None, :], big, 2 * jnp.abs(offset) + (offset > 0))  # ties prefer the lower section
  nearest = jnp.argmin(dist, axis=1)
  nearest = jnp.where(jnp.min(dist, axis=1) < big, nearest, -1)
  below = jnp.max(jnp.where(~missing[None, :] & (offset <= 0), z[None, :], -1), axis=1)
  above = jnp.min(jnp.where(~missing[None, :] & (offset >= 0), z[None, :], big), axis=1)
  above = jnp.where(above < big, above, -1)
  return nearest.astype(jnp.int32), below.astype(jnp.int32), above.astype(jnp.int32)


def _between(x: jax.Array, below: jax.Array, above: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(Every section of x [..., D, H, W] as the distance-weighted mean of sections `below` and `above` [D] (one
  side where the other is -1), valid [D]: False where both are -1)."""
  z = jnp.arange(x.shape[-3])
  lo = jnp.where(below >= 0, below, above)
  hi = jnp.where(above >= 0, above, below)
  t = jnp.where(hi > lo, (z - lo) / jnp.maximum(hi - lo, 1), 0.0).astype(x.dtype)
  mix = (jnp.take(x, jnp.maximum(lo, 0), axis=-3) * (1.0 - t)[:, None, None]
         + jnp.take(x, jnp.maximum(hi, 0), axis=-3) * t[:, None, None])
  return mix, lo >= 0


def interpolate_missing(x: jax.Array, missing: jax.Array) -> jax.Array:
  """x [..., D, H, W] with every section flagged in `missing` [..., D] (bool; its own flags per leading index)
  replaced by the distance-weighted mean of its nearest intact sections below and above (the nearest one alone
  at the ends); intact sections bitwise unchanged; nothing changed where no section is intact."""
  n_sec = x.shape[-3]
  if missing.shape != x.shape[:-2]:
    raise ValueError(f"missing {missing.shape} must have the stack's leading shape and D: {x.shape[:-2]}")

  def one(xi, mi):
    _, below, above = _nearest_intact(mi)
    mix, valid = _between(xi, below, above)
    return jnp.where((mi & valid)[:, None, None], mix, xi)

  flat = jax.vmap(one)(x.reshape((-1,) + x.shape[-3:]), missing.reshape(-1, n_sec).astype(bool))
  return flat.reshape(x.shape)


def missing_sections(key: jax.Array, x: jax.Array, *, runs: tuple[int, int] = (1, 1),
                     run_length: tuple[int, int] = (1, 3),
                     fills: tuple[str, ...] = ("blank", "mean", "duplicate"),
                     blank_value: float = 0.0) -> tuple[jax.Array, dict]:
  """Keyed op: runs of consecutive missing sections in a stack (..., D, H, W), filled by one drawn mode.

  Draws n ~ U{runs} runs (inclusive integers; static maximum runs[1], unused runs masked), each of length
  L ~ U{run_length} (inclusive) starting uniformly at 0..D-L (runs may touch or overlap). One fill mode is drawn
  per call from `fills` (see the module docstring; "blank" = `blank_value`). "duplicate" and "interpolate" use
  intact sections only; a stack with none left is filled with `blank_value`. runs (0, 0) is the identity.

  Returns y (intact sections bitwise unchanged) and aux {'mask': [..., D] float32, 1 = missing;
  'fill': int32 index into `fills`; 'n_runs': int32; 'starts', 'lengths': [runs[1]] int32 (length 0 = unused);
  'source': [D] int32, the nearest intact section of each section (itself when intact, -1 when none)}.
  """
  x = checks.check_float(x, min_ndim=3)
  n_sec = x.shape[-3]
  runs = _int_range("runs", runs, low=0)
  run_length = _int_range("run_length", run_length, low=1)
  if run_length[1] > n_sec:
    raise ValueError(f"run_length={run_length} exceeds the {n_sec} sections of the stack")
  fills = _check_fills(fills)
  blank_value = float(blank_value)
  max_runs = runs[1]
  lead = x.shape[:-3]
  if max_runs == 0:
    z = jnp.arange(n_sec, dtype=jnp.int32)
    return x, {"mask": jnp.zeros(lead + (n_sec,), jnp.float32), "fill": jnp.zeros((), jnp.int32),
               "n_runs": jnp.zeros((), jnp.int32), "starts": jnp.zeros((0,), jnp.int32),
               "lengths": jnp.zeros((0,), jnp.int32), "source": z}

  k_n, k_len, k_start, k_fill = jax.random.split(key, 4)
  n_runs = jax.random.randint(k_n, (), runs[0], runs[1] + 1, jnp.int32)
  lengths = jax.random.randint(k_len, (max_runs,), run_length[0], run_length[1] + 1, jnp.int32)
  lengths = jnp.where(jnp.arange(max_runs) < n_runs, lengths, 0)
  span = (n_sec - lengths + 1).astype(jnp.float32)                        # start in 0..D-L
  starts = jnp.minimum(jnp.floor(jax.random.uniform(k_start, (max_runs,)) * span).astype(jnp.int32),
                       n_sec - lengths)
  z = jnp.arange(n_sec, dtype=jnp.int32)
  missing = jnp.any((z[None, :] >= starts[:, None]) & (z[None, :] < (starts + lengths)[:, None]), axis=0)
  fill = jax.random.randint(k_fill, (), 0, len(fills), jnp.int32)
  nearest, below, above = _nearest_intact(missing)

  xf = x.astype(jnp.float32)                                              # [..., D, H, W]
  blank = jnp.full_like(xf, blank_value)
  candidates = []
  for mode in fills:
    if mode == "blank":
      candidates.append(blank)
    elif mode == "mean":
      candidates.append(jnp.broadcast_to(jnp.mean(xf, axis=(-2, -1), keepdims=True), xf.shape))
    elif mode == "duplicate":
      dup = jnp.take(xf, jnp.maximum(nearest, 0), axis=-3)
      candidates.append(jnp.where((nearest >= 0)[:, None, None], dup, blank))
    else:  # interpolate between the nearest intact sections below and above (one side where only one exists)
      mix, valid = _between(xf, below, above)
      candidates.append(jnp.where(valid[:, None, None], mix, blank))
  filled = candidates[0]
  for i, cand in enumerate(candidates[1:], start=1):
    filled = jnp.where(fill == i, cand, filled)
  y = jnp.where(missing[:, None, None], filled.astype(x.dtype), x)
  aux = {"mask": jnp.broadcast_to(missing.astype(jnp.float32), lead + (n_sec,)), "fill": fill,
         "n_runs": n_runs, "starts": starts, "lengths": lengths, "source": nearest}
  return y, aux


def linear_shift_matrix(n: int, shift: jax.Array) -> jax.Array:
  """[..., n, n] matrices A with (A @ v)[i] = v(i - shift) by linear interpolation, edge mode 'nearest'.

  shift: [...] in pixels (any float). Two taps a row: floor(i - shift) and the next, clamped to [0, n - 1]; the
  weights come from the shift's fractional part alone (no float32 rounding of i - shift).
  """
  whole = jnp.floor(shift)
  frac = shift - whole                                                   # [0, 1): exact for small shifts
  step = (frac > 0).astype(jnp.int32)
  i0 = jnp.arange(n, dtype=jnp.int32) - whole.astype(jnp.int32)[..., None] - step[..., None]   # [..., n]
  f = jnp.where(frac > 0, 1.0 - frac, 0.0)[..., None, None]            # weight of tap i0 + 1
  j = jnp.arange(n, dtype=jnp.int32)
  a = jnp.clip(i0, 0, n - 1)[..., None] == j                             # [..., n, n]
  b = jnp.clip(i0 + 1, 0, n - 1)[..., None] == j
  return jnp.where(a, 1.0 - f, 0.0) + jnp.where(b, f, 0.0)


def misalignment(key: jax.Array, x: jax.Array, *,
                 max_shift: tuple[float, float] = (0.0, 2.0)) -> tuple[jax.Array, dict]:
  """Keyed op: each section of a stack (..., D, H, W) translated by its own sub-pixel shift.

  m ~ U[max_shift] once per call (pixels, default (0, 2)), then (dy, dx) ~ U[-m, m] per section; y_section(p)
  = x_section(p - shift) by separable linear interpolation with edge mode 'nearest' (the values of
  `scipy.ndimage.shift(order=1, mode='nearest')`). max_shift (0, 0) is the identity.

  Returns y and aux {'shifts': [..., D, 2] (dy, dx) float32, 'max_shift': m}.
  """
  x = checks.check_float(x, min_ndim=3)
  max_shift = checks.check_range("max_shift", max_shift, low=0.0)
  n_sec, h, w = x.shape[-3:]
  lead = x.shape[:-3]
  if max_shift == (0.0, 0.0):
    return x, {"shifts": jnp.zeros(lead + (n_sec, 2), jnp.float32), "max_shift": jnp.zeros((), jnp.float32)}
  k_m, k_s = jax.random.split(key)
  m = checks.uniform(k_m, max_shift)
  shifts = jax.random.uniform(k_s, (n_sec, 2), jnp.float32, -1.0, 1.0) * m   # [D, 2] (dy, dx)
  ay = linear_shift_matrix(h, shifts[:, 0])                                # [D, H, H]
  ax = linear_shift_matrix(w, shifts[:, 1])                                # [D, W, W]
  xf = x.astype(jnp.float32)
  hp = jax.lax.Precision.HIGHEST
  t = jnp.einsum("...dhw,dvw->...dhv", xf, ax, precision=hp)               # shift along W
  y = jnp.einsum("...dhv,dgh->...dgv", t, ay, precision=hp)                # shift along H
  return y.astype(x.dtype), {"shifts": jnp.broadcast_to(shifts, lead + (n_sec, 2)), "max_shift": m}
