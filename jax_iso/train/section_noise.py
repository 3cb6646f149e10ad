"""Noise of the synthetic sections matched to the noise of the volume's real sections.

A real section is one image: it carries the noise of one xy image of the volume. A synthetic section made from a
lateral patch averages about `s` rows of it, which divides the white-noise variance by `s`. So the training
inputs would be cleaner than the volume's sections, and the model would take the sections' noise for structure.
`config.section_noise` closes the gap:
- "match" (default of the U-Net config): estimate the noise sigma of the volume's xy planes
  (`metrics.noise_level`, on [0, 1] intensities) and add Gaussian noise of `sigma * sqrt(1 - 1/s)` to each
  synthetic section, restoring `sigma`;
- a number: add Gaussian noise of that sigma (on [0, 1]);
- "off": add nothing beyond the config's acquisition pipeline.
"""
from __future__ import annotations

import contextlib
import copy
import math
import numbers

import numpy as np

from jax_iso.errors import UserError
from jax_iso.metrics.noise_level import noise_sigma

MODES = ("match", "off")
PLANES = 8     # xy planes per volume the estimate reads
EDGE = 1024    # ... each cropped to at most EDGE x EDGE around its centre


def check(value) -> str | float:
  """The mode ("match", "off") or the sigma of `value` (a number, also given as text on the command line)."""
  if isinstance(value, str) and value not in MODES:
    with contextlib.suppress(ValueError):   # text that is not a number is refused below
      value = float(value)
  ok = value in MODES or (isinstance(value, numbers.Real) and not isinstance(value, bool)
                          and math.isfinite(value) and 0 <= value < 1)
  if not ok:
    raise UserError(f"section_noise={value!r} must be 'match', 'off' or a noise sigma in [0, 1); set e.g. "
                    "section_noise=match")
  return value


def volume_sigma(volumes, intensity, planes: int = PLANES) -> float:
  """Median over volumes of the noise sigma of up to `planes` evenly spaced xy sections (central EDGE^2 crops),
  on [0, 1]."""
  found = []
  for v in volumes:
    zs = np.unique(np.linspace(0, v.shape[0] - 1, planes).round().astype(int))
    y0, x0 = max(0, (v.shape[1] - EDGE) // 2), max(0, (v.shape[2] - EDGE) // 2)
    crops = [v[int(z), y0:y0 + EDGE, x0:x0 + EDGE] for z in zs]
    found.append(noise_sigma(np.stack([intensity.to_unit(np.asarray(c)) for c in crops])))
  return float(np.median(found))


def resolve(value, pairs: dict, factor: float, volumes, intensity) -> tuple[dict, dict]:
  """(pairs with the added section noise, {'mode', 'volume_sigma', 'added_sigma'}) for config.section_noise."""
  value = check(value)
  if value == "off":
    return pairs, {"mode": "off"}
  if value == "match":
    sigma = volume_sigma(volumes, intensity)
    added = sigma * math.sqrt(max(0.0, 1.0 - 1.0 / factor))
    info = {"mode": "match", "volume_sigma": round(sigma, 6), "added_sigma": round(added, 6)}
  else:
    added = float(value)
    info = {"mode": "fixed", "added_sigma": added}
  if added <= 0:
    return pairs, info
  pairs = copy.deepcopy(pairs)
  acq = pairs["acquisition"]
  acq["order"] = list(acq["order"]) + ([] if "gaussian_noise" in acq["order"] else ["gaussian_noise"])
  acq["ops"]["gaussian_noise"].update({"prob": 1.0, "sigma": [added, added]})
  return pairs, info
