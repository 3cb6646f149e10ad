"""Resolution from an FSC curve: where it first falls below the 1/7 or the half-bit threshold."""
from __future__ import annotations

import dataclasses

import numpy as np

from jax_iso.errors import UserError

ONE_SEVENTH = 1.0 / 7.0
CRITERIA = ("1/7", "halfbit")
FIRST_SHELL = 2  # shells 0 (DC) and 1 are never taken as a crossing


def halfbit_threshold(n: np.ndarray | float) -> np.ndarray:
  """Half-bit threshold (van Heel & Schatz 2005) for shells of `n` voxels (full spectrum); NaN if n <= 0."""
  n = np.asarray(n, np.float64)
  with np.errstate(divide="ignore", invalid="ignore"):
    inv_sqrt = np.where(n > 0, 1.0 / np.sqrt(np.where(n > 0, n, 1.0)), np.nan)
  return (0.2071 + 1.9102 * inv_sqrt) / (1.2071 + 0.9102 * inv_sqrt)


@dataclasses.dataclass(frozen=True)
class ResolutionValue:
  """A resolution read off an FSC curve.

  resolution: 1 / frequency, in nm (in voxels when no spacing was given).
  frequency: the crossing frequency in 1/nm (1/voxel without spacing).
  limited: True when the curve never fell below the threshold up to this direction's Nyquist frequency; the
    value is then the Nyquist resolution and the true resolution is at least this good ("<=").
  """
  resolution: float
  frequency: float
  limited: bool

  def __str__(self) -> str:
    return f"{'<=' if self.limited else ''}{self.resolution:.3g}"


def crossing(freq: np.ndarray, curve: np.ndarray, threshold: np.ndarray | float,
             nyquist: float) -> ResolutionValue:
  """First frequency (shell >= FIRST_SHELL, <= nyquist) where `curve` falls below `threshold`.

  Interpolates linearly between the last shell at or above the threshold and the first shell below it. Empty
  shells (NaN) are skipped. Without a crossing the Nyquist resolution is returned with `limited=True`.
  """
  freq = np.asarray(freq, np.float64)
  excess = np.asarray(curve, np.float64) - np.broadcast_to(np.asarray(threshold, np.float64), freq.shape)
  usable = np.flatnonzero((freq <= nyquist * (1 + 1e-9)) & np.isfinite(excess))
  prev = None  # last usable shell at or above the threshold
  for i in usable:
    if excess[i] >= 0:
      prev = i
      continue
    if i < FIRST_SHELL:
      prev = None
      continue
    if prev is None:
      f = freq[i]
    else:  # excess goes from >= 0 at prev to < 0 at i
      t = excess[prev] / (excess[prev] - excess[i])
      f = freq[prev] + t * (freq[i] - freq[prev])
    return ResolutionValue(resolution=float(1.0 / f), frequency=float(f), limited=False)
  return ResolutionValue(resolution=float(1.0 / nyquist), frequency=float(nyquist), limited=True)


def check_criterion(criterion: str) -> None:
  if criterion not in CRITERIA:
    raise UserError(f"unknown FSC criterion {criterion!r}; use one of {', '.join(CRITERIA)}.")
