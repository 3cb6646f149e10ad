"""The section grid: how an anisotropic volume's sections sit on the fine (isotropic) grid.

Convention, used everywhere in jax_iso (simulation, reconstruction output, evaluation):
- fine slice i occupies [i, i+1) in continuous Z coordinates, so its centre is at i + 0.5;
- with anisotropy factor s (integer or fractional) and phase p (default 0, in fine slices), section k integrates
  the fine slices in [k*s + p, (k+1)*s + p); its centre lies at (k + 0.5)*s + p - 0.5 in fine-slice index units;
- only complete sections exist: n_fine fine slices give floor((n_fine - p) / s) sections;
- N sections reconstruct to round(N*s) fine slices (round half up), slice j being fine slice j.
"""
from __future__ import annotations

import math

_EPS = 1e-9  # tolerance for float error in k*s (e.g. 3 * 0.1)


def section_count(n_fine: int, factor: float, phase: float = 0.0) -> int:
  """Number of complete sections that `n_fine` fine slices give at `factor` (and `phase`)."""
  return max(0, int(math.floor((n_fine - phase) / factor + _EPS)))


def fine_count(n_sections: int, factor: float) -> int:
  """Number of fine slices that `n_sections` sections reconstruct to: round(N*s), halves rounded up."""
  return int(math.floor(n_sections * factor + 0.5 + _EPS))


def section_centre(k, factor: float, phase: float = 0.0):
  """Centre of section k in fine-slice index units: (k + 0.5)*s + phase - 0.5 (works on arrays)."""
  return (k + 0.5) * factor + phase - 0.5
