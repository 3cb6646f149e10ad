"""Lost and damaged sections of a volume: which to inpaint (`inpaint=auto`), or the indices a user gives.

    found = detect_bad_sections(src)          # [BadSection(index=12, reason="blank", ...), ...]
    missing = parse_inpaint("12,57", n_z)     # or "auto"
    missing = find_missing(src, "auto")       # what inpaint=auto (or "I,J") inpaints, printed

Every section is read at most 512 x 512 (a regular subsample) and smoothed by 2 x 2 averaging, so noise and size
matter little (`sections.small_sections`). Two tests, each against the volume's own typical section (robust
statistics, so a few bad sections do not move the thresholds):
- blank: a section whose standard deviation is below `BLANK_FRACTION` (`sections`) of the median section's (an
  empty or saturated frame, a lost section written as a constant);
- outlier: a section unlike both its neighbours while they are alike across it: its best Pearson correlation
  with an adjacent section (the better of the two, so a good section next to a bad one is not flagged) lies more
  than `OUTLIER_MADS` robust standard deviations (1.4826 MAD) and `OUTLIER_MARGIN` below the median of all
  sections' best correlations, and the sections on either side of it (up to 3 apart, so a pair of bad sections
  is bridged too) correlate better with each other than it does with either. Real
  tissue changing fast (a membrane crossing the sections) lowers the correlation across it as well, and is
  left alone.
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np

from jax_iso.detect.sections import BLANK_FRACTION, correlation, small_sections
from jax_iso.errors import UserError

OUTLIER_MADS = 6.0
OUTLIER_MARGIN = 0.1


@dataclasses.dataclass(frozen=True)
class BadSection:
  index: int
  reason: str          # "blank" or "outlier"
  value: float         # its standard deviation (blank) or best neighbour correlation (outlier)
  typical: float       # the volume's median of the same


def _bridge(images: np.ndarray, ok: np.ndarray, k: int) -> float:
  """The best correlation between usable sections on either side of k, at most 3 apart (beside it at an end)."""
  n = len(images)
  if 0 < k < n - 1:
    pairs = [(i, j) for i in (k - 1, k - 2) for j in (k + 1, k + 2) if i >= 0 and j < n and j - i <= 3]
  else:
    near = (1, 2) if k == 0 else (n - 3, n - 2)
    pairs = [near] if min(near) >= 0 and max(near) < n and near[0] != k else []
  values = [correlation(images[i], images[j], flat=0.0) for i, j in pairs if ok[i] and ok[j]]
  return max(values, default=-1.0)


def detect_bad_sections(src) -> list[BadSection]:
  """Blank and outlier sections of `src` (Z, Y, X), in index order."""
  images = small_sections(src)
  n_z = images.shape[0]
  std = images.reshape(n_z, -1).std(axis=1)
  typical_std = float(np.median(std))
  blank = std <= BLANK_FRACTION * typical_std
  found = {int(k): BadSection(int(k), "blank", float(std[k]), typical_std) for k in np.flatnonzero(blank)}
  if n_z < 3:
    return [found[k] for k in sorted(found)]
  pair = np.array([0.0 if blank[k] or blank[k + 1] else correlation(images[k], images[k + 1], flat=0.0)
                   for k in range(n_z - 1)])
  best = np.full(n_z, -1.0)
  best[:-1] = np.maximum(best[:-1], pair)
  best[1:] = np.maximum(best[1:], pair)
  ok = ~blank
  if ok.sum() >= 3:
    typical = float(np.median(best[ok]))
    spread = 1.4826 * float(np.median(np.abs(best[ok] - typical)))
    limit = typical - max(OUTLIER_MADS * spread, OUTLIER_MARGIN)
    for k in np.flatnonzero(ok & (best < limit)):
      if _bridge(images, ok, int(k)) > best[k]:
        found[int(k)] = BadSection(int(k), "outlier", float(best[k]), typical)
  return [found[k] for k in sorted(found)]


def parse_inpaint(spec: str, n_z: int) -> list[int] | str:
  """'auto', or the sorted distinct section indices of 'I,J,...' (each checked against the volume's n_z)."""
  spec = str(spec).strip()
  if spec == "auto":
    return "auto"
  indices = []
  for part in spec.split(","):
    part = part.strip()
    try:
      k = int(part)
    except ValueError:
      raise UserError(f"inpaint={spec}: {part!r} is not a section index; pass inpaint=auto or indices like "
                      "inpaint=12,57") from None
    if not 0 <= k < n_z:
      raise UserError(f"inpaint={spec}: section {k} is out of range: the input has sections 0 to {n_z - 1}")
    indices.append(k)
  return sorted(set(indices))


def check_missing(missing: list[int], n_z: int) -> None:
  """A one-line UserError when nothing would be left to inpaint from."""
  if len(missing) >= n_z:
    raise UserError(f"every one of the {n_z} sections is marked missing; nothing is left to inpaint from: check "
                    "the input, or pass the lost sections' indices with inpaint=I,J")


def find_missing(src, spec: str, *, log: bool = True) -> list[int]:
  """The sections to inpaint for inpaint=`spec` ("auto": detected, printed; "I,J": those)."""
  parsed = parse_inpaint(spec, int(src.shape[0]))
  if parsed == "auto":
    found = detect_bad_sections(src)
    check_missing([f.index for f in found], int(src.shape[0]))
    if log:
      if found:
        listed = ", ".join(f"{f.index} ({f.reason}: {'std' if f.reason == 'blank' else 'neighbour correlation'} "
                           f"{f.value:.3g}, typical {f.typical:.3g})" for f in found)
        print(f"inpaint: {len(found)} lost or damaged section(s) found: {listed}", file=sys.stderr, flush=True)
      else:
        print("inpaint: no blank or outlier section found; nothing to inpaint", file=sys.stderr, flush=True)
    parsed = [f.index for f in found]
  check_missing(parsed, int(src.shape[0]))
  return parsed
