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
  `bad_sections`); a copy of a neighbour, or the mean of its two neighbours (a patched section, like CREMI val
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
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage as ndi

from jax_iso.errors import UserError
from jax_iso.infer.bad_sections import BLANK_FRACTION

KINDS = ("missing", "fold", "precipitate", "defocus")

WORK_EDGE = 1024        # px: sections larger than this are averaged down in whole blocks for the analysis
SMOOTH = 1.5            # px: Gaussian sigma of the map `s`
MADS = 1.4826           # MAD -> standard deviation of a normal distribution

COPY_FRACTION = 0.2     # copy / patch: 1 - corr <= this x the volume's typical 1 - corr
COPY_MARGIN = 0.5       # x typical 1 - corr: how much better a run's upper end must fit to be its original
THUMB_EDGE = 256        # px: correlations are taken on block means of at most this size

DEFOCUS_MADS = 4.0
DEFOCUS_MARGIN = 0.35   # log units (a factor 0.7 in the finest detail)
SHARP_BLOB = 8          # px: sharpness is measured this far from blobs
SHARP_FOLD = 40         # px: ... and from a fold band's edges (the simulator pulls in tissue from up to 80 px)

HOUGH_EDGE = 256        # px: the Hough transform runs on the dark mask averaged to at most this size
FOLD_LEVEL = 0.5        # dark mask: s < FOLD_LEVEL x m
FOLD_WIDTHS = (6, 12, 24, 40)  # px: strip widths tried along a line
FOLD_GAP, FOLD_FLANK = 2, 8    # px: gap between the strip and its flanks, flank width
FOLD_CHORD = 0.45       # a line must cross >= this share of the short side
FOLD_SCORE = 0.45       # strip dark share minus flank dark share
FOLD_MADS = 4.0         # ... and this many spreads above the volume's median score
FOLD_CONTRAST = 0.35    # profile core <= this x the tissue beside the band
FOLD_MIN_WIDTH = 6.0    # px: full width at half depth
FOLD_CONTINUITY = 0.8   # share of 16 px pieces along the line where the band core is dark
FOLD_REACH = 48         # px: half-extent of the profile across the line
FOLD_SIDE = (25, 45)    # px: |d| range of the tissue beside the band
FOLD_KEPT = 0.6         # a neighbour this dark (x the tissue beside) along the band: tissue, not a fold
FOLD_SURE = 0.6         # the volume's bar never rises above this score

CONTRAST_DROP = 0.65
BLOB_CORE = -1.6        # u: darker than nearly all membrane pixels
BLOB_AREA = 6           # px
BLOB_MADS = 4.0
BLOB_MARGIN = 0.6       # u
BLOB_RING = (2, 6)      # px: the ring around a blob, its surroundings
BLOB_SECTIONS = 5       # sections with blobs needed for the volume's typical blob score (else BLOB_TYPICAL)
BLOB_TYPICAL = -0.8     # score: the typical best blob of a real section (ISBI 2012: -0.84 train, -0.86 test)
BLOB_ALONE = 1.1        # below BLOB_TYPICAL, when too few sections have blobs to learn the volume's typical
BLOB_EDGE = -1.0        # u: the blob's rim, for its mask
BLOB_REACH = 6          # px
BLOB_CLUSTER = 64       # px: paler blobs this near a distinct one join its mask


@dataclasses.dataclass(frozen=True)
class SectionDamage:
  index: int
  kinds: tuple[str, ...]     # a subset of KINDS, in KINDS order
  fraction: float            # share of the section's pixels in its mask
  detail: str                # a short human-readable reason


@dataclasses.dataclass
class _Line:
  score: float               # Hough strip score
  theta: float = 0.0         # normal direction (radians): d = x cos(theta) + y sin(theta) - rho (work px)
  rho: float = 0.0
  half_width: float = 0.0    # work px, to the half-depth edge
  contrast: float = 1.0      # core / beside
  continuity: float = 0.0
  length: float = 0.0        # work px, along the line inside the section
  ok: bool = False


@dataclasses.dataclass
class _Blob:
  """A dark blob of one section only: its darkness against its surroundings and its region (work res)."""
  score: float               # darkest u inside minus the median u of a ring around it (more negative: darker)
  box: tuple[slice, slice]
  region: np.ndarray         # bool, over box


@dataclasses.dataclass
class _Stats:
  """What the pass keeps of one section: numbers, its best line and its blobs."""
  std: float = 0.0
  median: float = 0.0
  contrast: float = 0.0
  sharpness: float = float("nan")
  corr_next: float = float("nan")      # with the next section
  corr_mid: float = float("nan")       # with the mean of both neighbours
  corr_across: float = float("nan")    # between both neighbours
  line: _Line | None = None
  blobs: list[_Blob] = dataclasses.field(default_factory=list)


def parse_kinds(spec: str, flag: str = "--artifacts") -> tuple[str, ...]:
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


# ---------------------------------------------------------------------------------------------------- reading


def _block_mean(img: np.ndarray, f: int) -> np.ndarray:
  if f == 1:
    return img
  h, w = img.shape[0] // f * f, img.shape[1] // f * f
  return img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def _work_factor(n_y: int, n_x: int) -> int:
  return max(1, math.ceil(max(n_y, n_x) / WORK_EDGE))


def _read(src, z: int, f: int) -> np.ndarray:
  """Section z as float32 at work resolution (block means of f x f, read in strips of rows)."""
  n_y = int(src.shape[1])
  if f == 1:
    return np.asarray(src[z], np.float32)
  rows = []
  step = f * max(1, (1 << 24) // max(1, int(src.shape[2])) // f)     # strips of <= ~16 M px
  for y0 in range(0, n_y // f * f, step):
    strip = np.asarray(src[z, y0:min(y0 + step, n_y // f * f)], np.float32)
    rows.append(_block_mean(strip, f))
  return np.concatenate(rows).astype(np.float32)


def _robust(values) -> tuple[float, float]:
  """(median, 1.4826 MAD) of the finite values; (nan, nan) when there are none."""
  v = np.asarray([a for a in values if np.isfinite(a)], np.float64)
  if not len(v):
    return float("nan"), float("nan")
  med = float(np.median(v))
  return med, MADS * float(np.median(np.abs(v - med)))


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
  a, b = a - a.mean(), b - b.mean()
  den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
  return float((a * b).sum()) / den if den > 0 else float("nan")


# ---------------------------------------------------------------------------------------------------- per section


@dataclasses.dataclass
class _Maps:
  """One section's maps at work resolution."""
  img: np.ndarray        # the section
  s: np.ndarray          # smoothed
  u: np.ndarray          # standardised
  thumb: np.ndarray      # block mean for correlations
  stats: _Stats
  band: np.ndarray | None = None   # the fold band found, if any


def _maps(img: np.ndarray, px: float, do_fold: bool) -> _Maps:
  """The per-section maps and numbers; px = full-resolution px per work px."""
  st = _Stats()
  st.std = float(img.std())
  s = ndi.gaussian_filter(img, SMOOTH / px)
  q25, q50, q75 = np.percentile(s, [25, 50, 75])
  st.median, st.contrast = float(q50), float(q75 - q25)
  u = (s - st.median) / st.contrast if st.contrast > 0 else np.zeros_like(s)
  band = None
  if do_fold and st.contrast > 0 and st.median > 0:
    st.line = _find_line(s, st.median, px)
    if st.line.ok:
      band = _line_mask(s.shape, st.line, px)
  thumb = _block_mean(img, max(1, math.ceil(max(img.shape) / THUMB_EDGE)))
  return _Maps(img, s, u, thumb.astype(np.float64), st, band)


def _sharpness(img: np.ndarray, px: float, away: np.ndarray | None) -> float:
  """log(rms(x - G1 x) / rms(x - G8 x)) over the pixels outside `away` (where a fold or blobs took the fine
  detail); nan for a flat section."""
  fine = img - ndi.gaussian_filter(img, 1.0 / px)
  coarse = img - ndi.gaussian_filter(img, 8.0 / px)
  if away is not None and (~away).mean() > 0.25:
    fine, coarse = fine[~away], coarse[~away]
  a, b = float(np.mean(fine * fine)), float(np.mean(coarse * coarse))
  return 0.5 * math.log(a / b) if a > 0 and b > 0 else float("nan")


# ---------------------------------------------------------------------------------------------------- folds

_CHORDS: dict[tuple[int, int], np.ndarray] = {}
_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 1.0))


def _hough(weights: np.ndarray) -> np.ndarray:
  """[angles, 2 diag + 1] sums of `weights` along lines x cos + y sin = rho (rho in 1 px bins, offset diag)."""
  h, w = weights.shape
  diag = int(math.ceil(math.hypot(h, w)))
  ys, xs = np.nonzero(weights > 0)
  rho = np.rint(xs[:, None] * np.cos(_ANGLES) + ys[:, None] * np.sin(_ANGLES)).astype(np.int64) + diag
  index = (np.arange(len(_ANGLES)) * (2 * diag + 1))[None, :] + rho
  acc = np.bincount(index.ravel(), weights=np.repeat(weights[ys, xs].astype(np.float64), len(_ANGLES)),
                    minlength=len(_ANGLES) * (2 * diag + 1))
  return acc.reshape(len(_ANGLES), 2 * diag + 1)


def _strip_sums(acc: np.ndarray, lo: int, hi: int) -> np.ndarray:
  """Sums of acc over rho + [lo, hi) for every rho (zero beyond the ends)."""
  c = np.concatenate([np.zeros((acc.shape[0], 1)), np.cumsum(acc, axis=1)], axis=1)
  r = np.arange(acc.shape[1])
  n = acc.shape[1]
  return c[:, np.clip(r + hi, 0, n)] - c[:, np.clip(r + lo, 0, n)]


def _hough_peak(dark: np.ndarray, px: float) -> tuple[float, float, float, float]:
  """(score, theta, rho, strip width) of the best straight dark strip of `dark` (rho, width in dark's px)."""
  shape = dark.shape
  if shape not in _CHORDS:
    _CHORDS[shape] = _hough(np.ones(shape))
  chord = _CHORDS[shape]
  acc = _hough(dark)
  long = chord >= FOLD_CHORD * min(shape)
  best = (-1.0, 0.0, 0.0, 0.0)
  gap, flank = max(1, round(FOLD_GAP / px)), max(2, round(FOLD_FLANK / px))
  for width in FOLD_WIDTHS:
    k = max(1, round(width / px))
    lo, hi = -(k // 2), -(k // 2) + k
    share = lambda a, b: _strip_sums(acc, a, b) / np.maximum(_strip_sums(chord, a, b), 1.0)
    score = share(lo, hi) - np.maximum(share(lo - gap - flank, lo - gap), share(hi + gap, hi + gap + flank))
    score = np.where(long, score, -1.0)
    i, j = np.unravel_index(int(np.argmax(score)), score.shape)
    if score[i, j] > best[0]:
      diag = (acc.shape[1] - 1) // 2
      best = (float(score[i, j]), float(_ANGLES[i]), float(j - diag + (lo + hi - 1) / 2.0), float(k))
  return best


def _fit_line(mask: np.ndarray, theta: float, rho: float, reach: float) -> tuple[float, float]:
  """(theta, rho) of the total least squares line through the pixels of `mask` within `reach` of the line."""
  ys, xs = np.nonzero(mask)
  d = xs * math.cos(theta) + ys * math.sin(theta) - rho
  near = np.abs(d) <= reach
  if near.sum() < 10:
    return theta, rho
  xs, ys = xs[near].astype(np.float64), ys[near].astype(np.float64)
  cx, cy = xs.mean(), ys.mean()
  cov = np.cov(np.stack([xs - cx, ys - cy]))
  _, evecs = np.linalg.eigh(cov)
  nx, ny = evecs[:, 0]                         # normal: the smallest eigenvalue's vector
  if nx * math.cos(theta) + ny * math.sin(theta) < 0:
    nx, ny = -nx, -ny
  return math.atan2(ny, nx), nx * cx + ny * cy


def _distance(shape: tuple[int, int], theta: float, rho: float) -> np.ndarray:
  yy = np.arange(shape[0], dtype=np.float32)[:, None]
  xx = np.arange(shape[1], dtype=np.float32)[None, :]
  return xx * np.float32(math.cos(theta)) + yy * np.float32(math.sin(theta)) - np.float32(rho)


def _find_line(s: np.ndarray, m: float, px: float) -> _Line:
  """The best straight dark band of the smoothed section s (median m), checked (see the module docstring)."""
  dark = (s < FOLD_LEVEL * m).astype(np.float32)
  fa = max(1, math.ceil(max(s.shape) / HOUGH_EDGE))
  score, theta, rho_a, width_a = _hough_peak(_block_mean(dark, fa), px * fa)
  line = _Line(score)
  if score < FOLD_SCORE:
    return line
  rho = rho_a * fa + (fa - 1) / 2.0 * (math.cos(theta) + math.sin(theta))   # block centres -> work px
  line.theta, line.rho = _fit_line(dark > 0, theta, rho, width_a * fa / 2.0 + 6.0 / px)
  half = _measure_band(s, line, px)
  if half is None:
    return line
  line.continuity, line.length = _continuity(s, line, half, px)
  line.ok = (line.contrast <= FOLD_CONTRAST and 2 * line.half_width * px >= FOLD_MIN_WIDTH
             and line.continuity >= FOLD_CONTINUITY and line.length >= FOLD_CHORD * min(s.shape))
  return line


def _measure_band(s: np.ndarray, line: _Line, px: float) -> float | None:
  """Centres `line` on its band and sets its half-width and contrast from the mean profile of s across it;
  returns the half-depth level (None without tissue beside it)."""
  d = _distance(s.shape, line.theta, line.rho)
  reach = round(FOLD_REACH / px)
  near = np.abs(d) <= reach
  bins = np.rint(d[near] + reach).astype(np.int64)
  counts = np.bincount(bins, minlength=2 * reach + 1)[:2 * reach + 1]
  profile = np.bincount(bins, weights=s[near], minlength=2 * reach + 1)[:2 * reach + 1] / np.maximum(counts, 1)
  offsets = np.abs(np.arange(2 * reach + 1) - reach)
  side = (offsets >= FOLD_SIDE[0] / px) & (offsets <= FOLD_SIDE[1] / px) & (counts > 0)
  if not side.any():
    return None
  beside = float(np.median(profile[side]))
  centre = np.flatnonzero(offsets <= max(1.0, 4.0 / px))
  k0 = int(centre[np.argmin(profile[centre])])
  half = 0.5 * (float(profile[k0]) + beside)
  left, right = k0, k0
  while left > 0 and profile[left - 1] < half:
    left -= 1
  while right < 2 * reach and profile[right + 1] < half:
    right += 1
  line.rho += 0.5 * (left + right) - reach
  line.half_width = 0.5 * (right - left + 1)
  line.contrast = float(profile[k0]) / beside if beside > 0 else 1.0
  return half


def _continuity(s: np.ndarray, line: _Line, half: float, px: float) -> tuple[float, float]:
  """(share of 16 px pieces along the line where its core is mostly below `half`, length inside the section)."""
  ys, xs = np.nonzero(np.abs(_distance(s.shape, line.theta, line.rho)) <= max(1.0, line.half_width / 2.0))
  if not len(ys):
    return 0.0, 0.0
  t = -xs * math.sin(line.theta) + ys * math.cos(line.theta)
  piece = np.floor((t - t.min()) / (16.0 / px)).astype(np.int64)
  n_piece = np.bincount(piece)
  dark_share = np.bincount(piece, weights=s[ys, xs] < half) / np.maximum(n_piece, 1)
  used = n_piece >= max(2, 0.25 * n_piece.max())              # not the clipped pieces at the ends
  return float(np.mean(dark_share[used] > 0.5)), float(t.max() - t.min())


def _in_neighbours(cur: _Maps, neighbours: list[_Maps], px: float) -> bool:
  """Whether a neighbour is dark along the band of `cur` too (its mean there below FOLD_KEPT of the median of
  the tissue 5-20 px beyond the band's edges)."""
  line = cur.stats.line
  d = np.abs(_distance(cur.s.shape, line.theta, line.rho)) - line.half_width
  beside = (d >= 5.0 / px) & (d <= 20.0 / px)
  for nb in neighbours:
    if nb.stats.contrast > 0 and beside.any():
      ref = float(np.median(nb.s[beside]))
      if ref > 0 and float(nb.s[cur.band].mean()) < FOLD_KEPT * ref:
        return True
  return False


def _line_mask(shape: tuple[int, int], line: _Line, px: float) -> np.ndarray:
  """The band to its half-depth edges and 2 px beyond (its soft edge)."""
  return np.abs(_distance(shape, line.theta, line.rho)) <= line.half_width + 2.0 / px


# ---------------------------------------------------------------------------------------------------- blobs


def _blobs(u: np.ndarray, neighbours: list[np.ndarray], px: float, band: np.ndarray | None) -> list[_Blob]:
  """The section's own compact dark blobs (see the module docstring), each with its score and region; none on
  a fold's band."""
  dark = u < BLOB_CORE
  if band is not None:
    dark &= ~ndi.binary_dilation(band, iterations=max(1, round(BLOB_REACH / px)))
  labels, n = ndi.label(dark)
  if n == 0:
    return []
  area = np.bincount(labels.ravel(), minlength=n + 1)[1:]
  min_area = max(1.0, BLOB_AREA / (px * px))
  reach, inner, outer = (max(1, round(r / px)) for r in (BLOB_REACH, BLOB_RING[0], BLOB_RING[1]))
  pad = max(reach, outer) + 1
  found = []
  for i, sl in enumerate(ndi.find_objects(labels)):
    if area[i] < min_area:
      continue
    core = labels[sl] == i + 1
    own = float(u[sl][core].mean())
    if any(float(nb[sl][core].mean()) <= 0.5 * own for nb in neighbours):
      continue                                        # dark in a neighbour too: tissue
    box = tuple(slice(max(a.start - pad, 0), min(a.stop + pad, n_a)) for a, n_a in zip(sl, u.shape))
    ub = u[box]
    core = labels[box] == i + 1
    ring = ndi.binary_dilation(core, iterations=outer) & ~ndi.binary_dilation(core, iterations=inner)
    score = float(ub[core].min() - np.median(ub[ring])) if ring.any() else float(ub[core].min())
    region = core | (ndi.binary_dilation(core, iterations=reach) & (ub < BLOB_EDGE))
    found.append(_Blob(score, box, region))
  return found


def _blob_mask(shape: tuple[int, int], blobs: list[_Blob]) -> np.ndarray:
  mask = np.zeros(shape, bool)
  for blob in blobs:
    mask[blob.box] |= blob.region
  return mask


# ---------------------------------------------------------------------------------------------------- the pass


def _scan(src, kinds: tuple[str, ...]) -> tuple[list[_Stats], dict[int, np.ndarray], int]:
  """One pass over the sections, three at a time: every section's numbers, its fold band (packed bits, work
  resolution) where it has one, and the work resolution's factor."""
  n_z, n_y, n_x = (int(n) for n in src.shape)
  f = _work_factor(n_y, n_x)
  do_fold = "fold" in kinds or "precipitate" in kinds     # a fold's box also washes contrast out
  stats: list[_Stats] = []
  lines: dict[int, np.ndarray] = {}
  prev = cur = None
  for z in range(n_z + 1):
    nxt = _maps(_read(src, z, f), float(f), do_fold) if z < n_z else None
    if nxt is not None:
      stats.append(nxt.stats)
    if cur is not None:
      _with_neighbours(cur, [m for m in (prev, nxt) if m is not None] if n_z >= 3 else [], float(f),
                       "precipitate" in kinds)
      if nxt is not None:
        cur.stats.corr_next = _correlation(cur.thumb, nxt.thumb)
      if prev is not None and nxt is not None:
        cur.stats.corr_mid = _correlation(cur.thumb, prev.thumb + nxt.thumb)
        cur.stats.corr_across = _correlation(prev.thumb, nxt.thumb)
      if cur.band is not None:
        lines[z - 1] = np.packbits(cur.band)
    prev, cur = cur, nxt
  return stats, lines, f


def _with_neighbours(cur: _Maps, neighbours: list[_Maps], px: float, do_blobs: bool) -> None:
  """What needs the neighbours (none for a volume of < 3 sections): the fold check, blobs, sharpness."""
  st = cur.stats
  if cur.band is not None and _in_neighbours(cur, neighbours, px):
    st.line.ok, cur.band = False, None                   # dark in a neighbour too: tissue, not a fold
  away = None
  if cur.band is not None:                               # the band and the tissue it pulled in (warped, smoother)
    away = np.abs(_distance(cur.s.shape, st.line.theta, st.line.rho)) <= st.line.half_width + SHARP_FOLD / px
  if do_blobs and st.contrast > 0:
    st.blobs = _blobs(cur.u, [m.u for m in neighbours if m.stats.contrast > 0], px, cur.band)
    if st.blobs:
      near = ndi.binary_dilation(_blob_mask(cur.u.shape, st.blobs), iterations=max(1, round(SHARP_BLOB / px)))
      away = near if away is None else away | near
  if st.std > 0:
    st.sharpness = _sharpness(cur.img, px, away)


# ---------------------------------------------------------------------------------------------------- decisions


def _near(values: list[float], k: int, skip: set[int], reach: int = 2) -> float:
  """Median of values at k +- 1..reach (not k, not in skip, finite); nan when there are none."""
  picked = [values[i] for i in range(k - reach, k + reach + 1)
            if 0 <= i < len(values) and i != k and i not in skip and np.isfinite(values[i])]
  return float(np.median(picked)) if picked else float("nan")


def _original(stats: list[_Stats], a: int, b: int, margin: float) -> int:
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


def _missing(stats: list[_Stats]) -> dict[int, str]:
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


def _defocus(stats: list[_Stats], skip: set[int]) -> dict[int, str]:
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


def _folds(stats: list[_Stats], lines: dict[int, np.ndarray], skip: set[int], f: int) -> dict[int, str]:
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


def _precipitates(stats: list[_Stats], skip: set[int], explained: set[int], f: int
                  ) -> tuple[dict[int, str], dict[int, list[_Blob]]]:
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


def _centre(blob: _Blob) -> np.ndarray:
  return np.array([0.5 * (a.start + a.stop) for a in blob.box])


def _cluster(blobs: list[_Blob], limit: float, lower: float, reach: float) -> list[_Blob]:
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


def _reasons(stats: list[_Stats], lines: dict[int, np.ndarray], kinds: tuple[str, ...], f: int
             ) -> tuple[dict[int, dict[str, str]], dict[int, list[_Blob]]]:
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
        small |= _blob_mask(work_shape, regions.get(k, []))
      mask = _full_mask(small, f, (n_y, n_x), int(dilate))
    masks[k] = mask
    found.append(SectionDamage(k, kk, float(mask.mean()), "; ".join(reasons[k][kind] for kind in kk)))
  return found, masks
