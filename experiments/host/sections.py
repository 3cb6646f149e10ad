"""Host (numpy/scipy) versions of `jax_iso.degrade.sections`: one stack (D, H, W) a call.

Same parameters and models as the device ops, randomness from a `numpy.random.Generator`, written the way the
reference codes do it on the host (Python loops over runs and sections, `scipy.ndimage.shift` per section).
Each returns (y, aux) with y of the dtype of x and aux the drawn values as Python / numpy values.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def missing_sections(rng: np.random.Generator, x: np.ndarray, *, runs: tuple[int, int] = (1, 1),
                     run_length: tuple[int, int] = (1, 3),
                     fills: tuple[str, ...] = ("blank", "mean", "duplicate"),
                     blank_value: float = 0.0) -> tuple[np.ndarray, dict]:
  """Runs of consecutive missing sections, filled by one mode drawn from `fills` (see the device op)."""
  n_sec = x.shape[0]
  n_runs = int(rng.integers(runs[0], runs[1] + 1))
  missing = np.zeros(n_sec, bool)
  lengths = []
  for _ in range(n_runs):
    length = int(rng.integers(run_length[0], run_length[1] + 1))
    start = int(rng.integers(0, n_sec - length + 1))
    missing[start:start + length] = True
    lengths.append(length)
  fill = int(rng.integers(0, len(fills)))
  mode = fills[fill]
  aux = {"mask": missing.astype(np.float32), "fill": fill, "n_runs": n_runs, "lengths": lengths}
  if not missing.any():
    return x, aux
  y = x.copy()
  intact = np.flatnonzero(~missing)
  for z in np.flatnonzero(missing):
    if mode == "blank" or (mode in ("duplicate", "interpolate") and intact.size == 0):
      y[z] = blank_value
    elif mode == "mean":
      y[z] = x[z].mean()
    elif mode == "duplicate":
      y[z] = x[intact[np.argmin(np.abs(intact - z))]]   # ties go to the lower section, as on the device
    else:
      below, above = intact[intact < z], intact[intact > z]
      if below.size and above.size:
        lo, hi = below[-1], above[0]
        t = (z - lo) / (hi - lo)
        y[z] = (1.0 - t) * x[lo] + t * x[hi]
      else:
        y[z] = x[below[-1]] if below.size else x[above[0]]
  return y, aux


def misalignment(rng: np.random.Generator, x: np.ndarray, *,
                 max_shift: tuple[float, float] = (0.0, 2.0)) -> tuple[np.ndarray, dict]:
  """Each section shifted by its own (dy, dx) ~ U[-m, m], m ~ U[max_shift]; linear, edge mode 'nearest'."""
  lo, hi = max_shift
  m = lo if lo == hi else float(rng.uniform(lo, hi))
  shifts = rng.uniform(-1.0, 1.0, (x.shape[0], 2)) * m
  if m == 0.0:
    return x, {"shifts": shifts, "max_shift": m}
  y = np.empty_like(x)
  for z in range(x.shape[0]):
    y[z] = ndimage.shift(x[z], shifts[z], order=1, mode="nearest")
  return y, {"shifts": shifts, "max_shift": m}
