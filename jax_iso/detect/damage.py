"""Damaged sections and regions of a serial-section volume, found without labels (numpy + scipy.ndimage).

    found, masks = detect_damage(src)        # [SectionDamage(index=7, kinds=("fold",), ...)], {7: bool [Y, X]}
    kinds = parse_kinds("fold,precipitate")  # or "auto": every kind

Every section is read once, in order, three at a time (a section and its two neighbours), at full resolution up
to `WORK_EDGE` px a side (larger ones are averaged in whole blocks; masks come back at full resolution).
Adjacent ssTEM sections differ a lot (ISBI 2012: correlation ~0.25), so the tests read a section's own content
first, and its neighbours only to compare whole-section numbers or to see whether something dark continues
there (then it is tissue: damage is in one section only). Thresholds adapt to the volume: a section's number is
compared with the median of the same number over the volume (or its 4 nearest sections), the spread taken as
1.4826 MAD, and it must also clear a fixed margin, so a clean volume's own scatter is not flagged. Intensities
are used as they are (any dtype and scale, 0 = black). Sizes are in full-resolution px (~4-10 nm), the units
the simulators of `jax_iso.degrade` draw in; the numbers quoted were measured on the real volumes of
../shared/data (ISBI 2012, CREMI, Drosophila VNC: ssTEM; FlyEM: FIB-SEM) with those simulators.

Maps: `s` = the section smoothed by a Gaussian of `SMOOTH` = 1.5 px (noise off; 3-6 px membranes and blobs
kept), `m` = median(s), `C` = interquartile range of s (robust: a band or blobs cover far less than a quarter of
a section) and `u` = (s - m) / C, in which membranes lie at -1 to -2 in every volume.

- missing: a constant section (blank or mean-filled: std <= `BLANK_FRACTION` of the median section's, as in
  `lost`); a copy of a neighbour, or the mean of its two neighbours (a patched section, like CREMI val
  slice 3): 1 - correlation <= `COPY_FRACTION` of the volume's typical 1 - correlation of the same kind (5x
  closer than real neighbours: ssTEM neighbours correlate at 0.25-0.8, FlyEM's 10 nm ones at ~0.95, copies at
  1). Of a run of identical sections the lower one is kept as the original, unless its upper end fits its outer
  neighbours better by `COPY_MARGIN` x (1 - typical) at both 1 and 2 sections away (a real neighbour is closer
  than those beyond a copy); a run at the start of the volume keeps its upper end.
- defocus: sharpness = log(rms(x - G1 x) / rms(x - G8 x)), the finest detail against all detail up to 8 px
  (no unit: contrast changes leave it alone), away from a fold band (+ `SHARP_FOLD` px of pulled tissue) and
  blobs, more than `DEFOCUS_MADS` spreads and `DEFOCUS_MARGIN` below the median of its 4 nearest sections. A blur
  of sigma 2 px lowers it by 0.76 (CREMI, already smooth) to 1.35 (VNC); real neighbours scatter by 0.02-0.11.
- fold: a straight dark band across the section. Dark mask s < `FOLD_LEVEL` m (a band keeps <= 25 % of the
  tissue's brightness; even the simulator's thinnest, half-width 5 px at darkness 0.75, stays below 0.5 m),
  averaged to <= `HOUGH_EDGE` px and summed along every line (Hough, 1 degree steps) whose chord is >=
  `FOLD_CHORD` of the short side (a fold crosses the section). Score: the dark share of a strip along the line
  (6-40 px wide, as bands are 10-40 px) minus that of the darker of two strips beside it. Simulated folds score
  >= 0.72, the best line of a real section <= 0.53 (curved, short membranes in dark surroundings). The best
  line is refitted at full resolution and kept when it still crosses >= `FOLD_CHORD` of the short side, its
  profile across has a core <= `FOLD_CONTRAST` of the tissue beside (folds <= 0.26; membranes >= 0.42), it is
  >= `FOLD_MIN_WIDTH` px wide at half depth, dark along >= `FOLD_CONTINUITY` of its length, and neither
  neighbour is dark along it (< `FOLD_KEPT` of its surroundings).
  Flagged when the score is also >= `FOLD_SCORE` and >= the volume's median + `FOLD_MADS` spreads (capped at
  `FOLD_SURE`: a volume full of straight dark lines raises its own bar). Mask: the band to its half-depth edges
  + 2 px (the soft edge), dilated.
- precipitate: deposits are black, compact and in one section, and the reference simulator also washes the
  section out (contrast x 0.3-0.5 about a pivot). Either sign is enough: (1) C < `CONTRAST_DROP` of the median
  of its 4 nearest sections (simulated: 0.3-0.6; real sections: >= 0.73, CREMI), unless the section is
  defocused or folded (a fold's box loses contrast too); (2) a blob: a region of u < `BLOB_CORE` of >=
  `BLOB_AREA` px, off any fold band, that no neighbour shows (a neighbour's mean u over it is less than half
  as dark: synapses and other dark tissue continue over several sections), scored by its darkest u minus the
  median u of a ring `BLOB_RING` px around it; a section's best score more than `BLOB_MADS` spreads and
  `BLOB_MARGIN` below the volume's median best score (over >= `BLOB_SECTIONS` sections; with fewer, below
  `BLOB_TYPICAL` - `BLOB_ALONE`).
  Real ISBI precipitates: train slice 20 at -1.99, 4.8 spreads below the typical -0.84. Mask: the blobs (all of
  a washed-out section's; else those past the limit, and those more than `BLOB_MARGIN` below the typical within
  `BLOB_CLUSTER` px of one: a cluster's paler dots) with their rim (u < `BLOB_EDGE` within `BLOB_REACH` px),
  dilated; a washed-out section without blobs has an empty mask.

Missing and defocused sections are left out of the other tests (and found whatever `kinds` asks for). With
fewer than 3 sections only the per-section tests run (constant, fold, blobs without the neighbour check).
Deterministic. ~0.05 s per 512^2 section, ~0.17 s per 1024^2 one on a CPU core.

This module scans the volume and makes the decisions against its statistics; the measurements of one section
(reading, the maps, sharpness, the fold's line search and band, the blobs) are in `jax_iso.detect.sections`,
which also holds their constants (`BLANK_FRACTION`, `SMOOTH`, `HOUGH_EDGE`, `FOLD_LEVEL`, `FOLD_CHORD`, `FOLD_SCORE`,
`FOLD_CONTRAST`, `FOLD_MIN_WIDTH`, `FOLD_CONTINUITY`, `FOLD_KEPT`, `BLOB_CORE`, `BLOB_AREA`, `BLOB_RING`,
`BLOB_EDGE`, `BLOB_REACH`).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage as ndi

from jax_iso.detect.sections import (BLANK_FRACTION, FOLD_SCORE, Blob, Maps, Stats, blob_mask, correlation, distance,
                                     find_blobs, fold_in_neighbours, read_section, section_maps, sharpness)
from jax_iso.errors import UserError

KINDS = ("missing", "fold", "precipitate", "defocus")

WORK_EDGE = 1024        # px: sections larger than this are averaged down in whole blocks for the analysis
MADS = 1.4826           # MAD -> standard deviation of a normal distribution

COPY_FRACTION = 0.2     # copy / patch: 1 - corr <= this x the volume's typical 1 - corr
COPY_MARGIN = 0.5       # x typical 1 - corr: how much better a run's upper end must fit to be its original

DEFOCUS_MADS = 4.0
DEFOCUS_MARGIN = 0.35   # log units (a factor 0.7 in the finest detail)
SHARP_BLOB = 8          # px: sharpness is measured this far from blobs
SHARP_FOLD = 40         # px: ... and from a fold band's edges (the simulator pulls in tissue from up to 80 px)

FOLD_MADS = 4.0         # a fold's score: >= FOLD_SCORE and this many spreads above the volume's median
FOLD_SURE = 0.6         # the volume's bar never rises above this score

CONTRAST_DROP = 0.65
BLOB_MADS = 4.0
BLOB_MARGIN = 0.6       # u
BLOB_SECTIONS = 5       # sections with blobs needed for the volume's typical blob score (else BLOB_TYPICAL)
BLOB_TYPICAL = -0.8     # score: the typical best blob of a real section (ISBI 2012: -0.84 train, -0.86 test)
BLOB_ALONE = 1.1        # below BLOB_TYPICAL, when too few sections have blobs to learn the volume's typical
BLOB_CLUSTER = 64       # px: paler blobs this near a distinct one join its mask


@dataclasses.dataclass(frozen=True)
class SectionDamage:
  index: int
  kinds: tuple[str, ...]     # a subset of KINDS, in KINDS order
  fraction: float            # share of the section's pixels in its mask
  detail: str                # a short human-readable reason


def parse_kinds(spec: str, flag: str = "artifacts") -> tuple[str, ...]:
  """'auto' (or 'all') -> KINDS; 'fold,precipitate' -> those, in KINDS order. UserError (naming `flag`) for an
  unknown kind."""
  spec = str(spec).strip()
  if spec in ("auto", "all"):
    return KINDS
  names = [part.strip() for part in spec.split(",") if part.strip()]
  unknown = [n for n in names if n not in KINDS]
  if unknown or not names:
    what = f"unknown kind {', '.join(map(repr, unknown))}" if unknown else "no kind given"
    raise UserError(f"{flag}={spec}: {what}; choose auto or a comma-separated subset of {', '.join(KINDS)}")
  return tuple(k for k in KINDS if k in names)


def _check_kinds(kinds) -> tuple[str, ...]:
  if isinstance(kinds, str):
    return parse_kinds(kinds)
  return parse_kinds(",".join(kinds))


# ---------------------------------------------------------------------------------------------------- the pass


def _work_factor(n_y: int, n_x: int) -> int:
  return max(1, math.ceil(max(n_y, n_x) / WORK_EDGE))


def _scan(src, kinds: tuple[str, ...]) -> tuple[list[Stats], dict[int, np.ndarray], int]:
  """One pass over the sections, three at a time: every section's numbers, its fold band (packed bits, work
  resolution) where it has one, and the work resolution's factor."""
  n_z, n_y, n_x = (int(n) for n in src.shape)
  f = _work_factor(n_y, n_x)
  do_fold = "fold" in kinds or "precipitate" in kinds     # a fold's box also washes contrast out
  stats: list[Stats] = []
  lines: dict[int, np.ndarray] = {}
  prev = cur = None
  for z in range(n_z + 1):
    nxt = section_maps(read_section(src, z, f), float(f), do_fold) if z < n_z else None
    if nxt is not None:
      stats.append(nxt.stats)
    if cur is not None:
      _with_neighbours(cur, [m for m in (prev, nxt) if m is not None] if n_z >= 3 else [], float(f),
                       "precipitate" in kinds)
      if nxt is not None:
        cur.stats.corr_next = correlation(cur.thumb, nxt.thumb)
      if prev is not None and nxt is not None:
        cur.stats.corr_mid = correlation(cur.thumb, prev.thumb + nxt.thumb)
        cur.stats.corr_across = correlation(prev.thumb, nxt.thumb)
      if cur.band is not None:
        lines[z - 1] = np.packbits(cur.band)
    prev, cur = cur, nxt
  return stats, lines, f


def _with_neighbours(cur: Maps, neighbours: list[Maps], px: float, do_blobs: bool) -> None:
  """What needs the neighbours (none for a volume of < 3 sections): the fold check, blobs, sharpness."""
  st = cur.stats
  if cur.band is not None and fold_in_neighbours(cur, neighbours, px):
    st.line.ok, cur.band = False, None                   # dark in a neighbour too: tissue, not a fold
  away = None
  if cur.band is not None:                               # the band and the tissue it pulled in (warped, smoother)
    away = np.abs(distance(cur.s.shape, st.line.theta, st.line.rho)) <= st.line.half_width + SHARP_FOLD / px
  if do_blobs and st.contrast > 0:
    st.blobs = find_blobs(cur.u, [m.u for m in neighbours if m.stats.contrast > 0], px, cur.band)
    if st.blobs:
      near = ndi.binary_dilation(blob_mask(cur.u.shape, st.blobs), iterations=max(1, round(SHARP_BLOB / px)))
      away = near if away is None else away | near
  if st.std > 0:
    st.sharpness = sharpness(cur.img, px, away)


# ---------------------------------------------------------------------------------------------------- decisions


def _robust(values) -> tuple[float, float]:
  """(median, 1.4826 MAD) of the finite values; (nan, nan) when there are none."""
  v = np.asarray([a for a in values if np.isfinite(a)], np.float64)
  if not len(v):
    return float("nan"), float("nan")
  med = float(np.median(v))
  return med, MADS * float(np.median(np.abs(v - med)))


def _near(values: list[float], k: int, skip: set[int], reach: int = 2) -> float:
  """Median of values at k +- 1..reach (not k, not in skip, finite); nan when there are none."""
  picked = [values[i] for i in range(k - reach, k + reach + 1)
            if 0 <= i < len(values) and i != k and i not in skip and np.isfinite(values[i])]
  return float(np.median(picked)) if picked else float("nan")


def _original(stats: list[Stats], a: int, b: int, margin: float) -> int:
  """Which end of the run a..b of identical sections is the original: the lower one, unless the upper one fits
  its outer neighbours better, by `margin`, at both distances (1 and 2 away: a real neighbour is closer than the
  sections beyond a copy; both must agree, as a neighbour may itself be damaged). A run at the start of the
  volume keeps its upper end."""
  n_z = len(stats)
  nan = float("nan")
  before = [stats[a - 1].corr_next if a >= 1 else nan, stats[a - 1].corr_across if a >= 2 else nan]
  after = [stats[b].corr_next if b < n_z - 1 else nan, stats[b + 1].corr_across if b < n_z - 2 else nan]
  if a == 0 and b < n_z - 1:
    return b                          # a run at the start: the copies fill it from the only side there is
  gains = [y - x for x, y in zip(before, after) if np.isfinite(x) and np.isfinite(y)]
  return b if len(gains) == 2 and min(gains) > margin else a


def _missing(stats: list[Stats]) -> dict[int, str]:
  n_z = len(stats)
  std = np.array([s.std for s in stats])
  typical = float(np.median(std[std > 0])) if (std > 0).any() else 0.0
  found = {k: f"constant (std {std[k] / typical:.2f} of typical)" if typical > 0 else "constant"
           for k in range(n_z) if std[k] <= BLANK_FRACTION * typical}
  if n_z < 3:
    return found
  pair = [s.corr_next for s in stats[:-1]]
  pair_typ, _ = _robust(pair)
  if np.isfinite(pair_typ):
    limit = 1.0 - COPY_FRACTION * max(1.0 - pair_typ, 1e-3)
    k = 0
    while k < n_z - 1:
      if np.isfinite(pair[k]) and pair[k] >= limit and k not in found and k + 1 not in found:
        end = k + 1                              # a run of identical sections k..end
        while end < n_z - 1 and np.isfinite(pair[end]) and pair[end] >= limit:
          end += 1
        keep = _original(stats, k, end, COPY_MARGIN * max(1.0 - pair_typ, 1e-3))
        for i in range(k, end + 1):
          if i != keep:
            found[i] = f"copy of section {keep} (correlation {pair[i] if i < keep else pair[i - 1]:.4f})"
        k = end + 1
      else:
        k += 1
  mid = [s.corr_mid for s in stats]
  mid_typ, _ = _robust(mid)
  if np.isfinite(mid_typ):
    limit = 1.0 - COPY_FRACTION * max(1.0 - mid_typ, 1e-3)
    for k in range(1, n_z - 1):
      best = all(not np.isfinite(mid[i]) or mid[i] <= mid[k] for i in (k - 1, k + 1))
      lone = k not in found and k - 1 not in found and k + 1 not in found    # a lost neighbour: no mean
      if lone and np.isfinite(mid[k]) and mid[k] >= limit and best:
        found[k] = f"mean of sections {k - 1} and {k + 1} (correlation {mid[k]:.4f})"
  return found


def _defocus(stats: list[Stats], skip: set[int]) -> dict[int, str]:
  sharp = [s.sharpness for s in stats]
  if len(stats) < 3:
    return {}
  resid = [sharp[k] - _near(sharp, k, skip) if k not in skip else float("nan") for k in range(len(stats))]
  _, spread = _robust(resid)
  if not np.isfinite(spread):
    return {}
  limit = max(DEFOCUS_MADS * spread, DEFOCUS_MARGIN)
  return {k: f"fine detail x{math.exp(r):.2f} of its neighbours'" for k, r in enumerate(resid)
          if np.isfinite(r) and r < -limit}


def _folds(stats: list[Stats], lines: dict[int, np.ndarray], skip: set[int], f: int) -> dict[int, str]:
  scores = [s.line.score if s.line is not None else float("nan") for s in stats]
  typical, spread = _robust([v for k, v in enumerate(scores) if k not in skip])
  limit = max(FOLD_SCORE, min(typical + FOLD_MADS * spread, FOLD_SURE)) if np.isfinite(typical) else FOLD_SCORE
  found = {}
  for k in lines:
    line = stats[k].line
    if k not in skip and line.score >= limit:
      found[k] = (f"dark band {2 * line.half_width * f:.0f} px wide across {line.length * f:.0f} px, "
                  f"{line.contrast:.2f} of the tissue beside it")
  return found


def _precipitates(stats: list[Stats], skip: set[int], explained: set[int], f: int
                  ) -> tuple[dict[int, str], dict[int, list[Blob]]]:
  """({section: reason}, {section: the blobs of its mask}). A contrast drop of a section in `explained`
  (defocused, folded: a fold's box loses contrast too) is not taken for a precipitate."""
  n_z = len(stats)
  found = {}
  if n_z >= 3:
    con = [s.contrast for s in stats]
    for k in range(n_z):
      ref = _near(con, k, skip)
      if k not in skip and k not in explained and ref > 0 and con[k] < CONTRAST_DROP * ref:
        found[k] = f"contrast {con[k] / ref:.2f} of its neighbours'"
  regions = {k: stats[k].blobs for k in found}          # washed out: every blob of its own
  best = {k: min(b.score for b in s.blobs) for k, s in enumerate(stats) if k not in skip and s.blobs}
  usual = [v for k, v in best.items() if k not in found]
  if len(usual) >= BLOB_SECTIONS:
    typical, spread = _robust(usual)
    typical = min(BLOB_TYPICAL, typical)
    limit = typical - max(BLOB_MADS * spread, BLOB_MARGIN)
  else:                                   # too few to learn from: as distinct as ISBI's real precipitates
    typical, limit = BLOB_TYPICAL, BLOB_TYPICAL - BLOB_ALONE
  for k, v in best.items():
    if v < limit:
      n = sum(b.score < limit for b in stats[k].blobs)
      why = f"{n} dark blob{'s' * (n > 1)} ({v:.1f} below their surroundings)"
      found[k] = f"{found[k]}; {why}" if k in found else why
      if k not in regions:
        regions[k] = _cluster(stats[k].blobs, limit, typical - BLOB_MARGIN, BLOB_CLUSTER / f)
  return found, regions


def _centre(blob: Blob) -> np.ndarray:
  return np.array([0.5 * (a.start + a.stop) for a in blob.box])


def _cluster(blobs: list[Blob], limit: float, lower: float, reach: float) -> list[Blob]:
  """The blobs past `limit`, and those past `lower` within `reach` px of one of them (a cluster's paler dots)."""
  sure = [b for b in blobs if b.score < limit]
  near = lambda b: any(np.hypot(*(_centre(b) - _centre(a))) <= reach for a in sure)
  return sure + [b for b in blobs if limit <= b.score < lower and near(b)]


def _unpack(packed: np.ndarray | None, work_shape: tuple[int, int]) -> np.ndarray:
  if packed is None:
    return np.zeros(work_shape, bool)
  return np.unpackbits(packed, count=work_shape[0] * work_shape[1]).reshape(work_shape).astype(bool)


def _full_mask(small: np.ndarray, f: int, shape: tuple[int, int], dilate: int) -> np.ndarray:
  """A work-resolution mask at full resolution, dilated by `dilate` px."""
  mask = np.zeros(shape, bool)
  big = np.repeat(np.repeat(small, f, axis=0), f, axis=1)
  mask[:big.shape[0], :big.shape[1]] = big
  if dilate > 0 and mask.any():
    r = int(dilate)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    mask = ndi.binary_dilation(mask, structure=yy * yy + xx * xx <= r * r)
  return mask


def _reasons(stats: list[Stats], lines: dict[int, np.ndarray], kinds: tuple[str, ...], f: int
             ) -> tuple[dict[int, dict[str, str]], dict[int, list[Blob]]]:
  """({section: {kind: reason}}, {section: its precipitate blobs}). Missing and defocused sections are found
  whatever `kinds` asks for, as the other tests must leave them alone."""
  found: dict[int, dict[str, str]] = {}
  missing = _missing(stats)
  skip = set(missing)
  defocus = _defocus(stats, skip)
  by_kind = {"missing": missing, "defocus": defocus}
  by_kind["fold"] = _folds(stats, lines, skip, f)
  regions = {}
  if "precipitate" in kinds:
    by_kind["precipitate"], regions = _precipitates(stats, skip, set(defocus) | set(by_kind["fold"]), f)
  for kind in kinds:
    for k, why in by_kind.get(kind, {}).items():
      found.setdefault(k, {})[kind] = why
  return found, regions


def detect_damage(src, *, kinds=KINDS, dilate: int = 4) -> tuple[list[SectionDamage], dict[int, np.ndarray]]:
  """Damaged sections of `src` (anything with .shape (Z, Y, X) and numpy indexing), found without labels.

  Returns the damaged sections in index order and {index: bool mask [Y, X]} for each: the whole section for
  missing and defocus, the regions (dilated by `dilate` px) for fold and precipitate (see the module docstring).
  """
  kinds = _check_kinds(kinds)
  if len(src.shape) != 3:
    raise UserError(f"damage detection needs a (Z, Y, X) volume, got shape {tuple(src.shape)}")
  if int(dilate) != dilate or dilate < 0:
    raise UserError(f"dilate must be a whole number of px >= 0, got {dilate!r}")
  n_z, n_y, n_x = (int(n) for n in src.shape)
  stats, lines, f = _scan(src, kinds)
  work_shape = (n_y // f, n_x // f)
  reasons, regions = _reasons(stats, lines, kinds, f)
  found, masks = [], {}
  for k in sorted(reasons):
    kk = tuple(kind for kind in KINDS if kind in reasons[k])
    if "missing" in kk or "defocus" in kk:
      mask = np.ones((n_y, n_x), bool)
    else:
      small = _unpack(lines.get(k), work_shape) if "fold" in kk else np.zeros(work_shape, bool)
      if "precipitate" in kk:
        small |= blob_mask(work_shape, regions.get(k, []))
      mask = _full_mask(small, f, (n_y, n_x), int(dilate))
    masks[k] = mask
    found.append(SectionDamage(k, kk, float(mask.mean()), "; ".join(reasons[k][kind] for kind in kk)))
  return found, masks
