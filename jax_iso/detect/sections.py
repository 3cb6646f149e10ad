"""Per-section measurements of the detectors of `jax_iso.detect` (numpy + scipy.ndimage): what one section, with
at most its two neighbours, shows; the decisions against the volume are in `damage` (ssTEM damage, whose
docstring describes the method) and `lost` (the lost sections to inpaint).

    maps = section_maps(read_section(src, z, f), float(f), do_fold=True)   # s, u, thumb, stats (+ line, band)
    images = small_sections(src)                                         # [Z, h, w] for `lost`

Reading at work resolution (block means of f x f), the maps `s` and `u`, correlation, sharpness, the straight
dark band of a fold (Hough peak, line fit, profile across, continuity, mask) and the dark blobs (score, region,
mask). Sizes are in full-resolution px; `px` = full-resolution px per work px. `small_sections` reads every
section at most `SMALL_EDGE` px a side (a regular subsample) and 2 x 2 averaged, for `lost`'s tests. A section
whose standard deviation is at most `BLANK_FRACTION` of the volume's typical one is blank (both detectors).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage as ndi

BLANK_FRACTION = 0.1    # a blank (constant) section: std <= this x the typical section's
SMALL_EDGE = 512        # px: `small_sections` subsamples sections to at most this size

SMOOTH = 1.5            # px: Gaussian sigma of the map `s`
THUMB_EDGE = 256        # px: correlations are taken on block means of at most this size

HOUGH_EDGE = 256        # px: the Hough transform runs on the dark mask averaged to at most this size
FOLD_LEVEL = 0.5        # dark mask: s < FOLD_LEVEL x m
FOLD_WIDTHS = (6, 12, 24, 40)  # px: strip widths tried along a line
FOLD_GAP, FOLD_FLANK = 2, 8    # px: gap between the strip and its flanks, flank width
FOLD_CHORD = 0.45       # a line must cross >= this share of the short side
FOLD_SCORE = 0.45       # strip dark share minus flank dark share
FOLD_CONTRAST = 0.35    # profile core <= this x the tissue beside the band
FOLD_MIN_WIDTH = 6.0    # px: full width at half depth
FOLD_CONTINUITY = 0.8   # share of 16 px pieces along the line where the band core is dark
FOLD_REACH = 48         # px: half-extent of the profile across the line
FOLD_SIDE = (25, 45)    # px: |d| range of the tissue beside the band
FOLD_KEPT = 0.6         # a neighbour this dark (x the tissue beside) along the band: tissue, not a fold

BLOB_CORE = -1.6        # u: darker than nearly all membrane pixels
BLOB_AREA = 6           # px
BLOB_RING = (2, 6)      # px: the ring around a blob, its surroundings
BLOB_EDGE = -1.0        # u: the blob's rim, for its mask
BLOB_REACH = 6          # px


@dataclasses.dataclass
class Line:
  score: float               # Hough strip score
  theta: float = 0.0         # normal direction (radians): d = x cos(theta) + y sin(theta) - rho (work px)
  rho: float = 0.0
  half_width: float = 0.0    # work px, to the half-depth edge
  contrast: float = 1.0      # core / beside
  continuity: float = 0.0
  length: float = 0.0        # work px, along the line inside the section
  ok: bool = False


@dataclasses.dataclass
class Blob:
  """A dark blob of one section only: its darkness against its surroundings and its region (work res)."""
  score: float               # darkest u inside minus the median u of a ring around it (more negative: darker)
  box: tuple[slice, slice]
  region: np.ndarray         # bool, over box


@dataclasses.dataclass
class Stats:
  """What the scan of `damage` keeps of one section: numbers, its best line and its blobs."""
  std: float = 0.0
  median: float = 0.0
  contrast: float = 0.0
  sharpness: float = float("nan")
  corr_next: float = float("nan")      # with the next section
  corr_mid: float = float("nan")       # with the mean of both neighbours
  corr_across: float = float("nan")    # between both neighbours
  line: Line | None = None
  blobs: list[Blob] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- reading


def _block_mean(img: np.ndarray, f: int) -> np.ndarray:
  if f == 1:
    return img
  h, w = img.shape[0] // f * f, img.shape[1] // f * f
  return img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))


def read_section(src, z: int, f: int) -> np.ndarray:
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


def small_sections(src) -> np.ndarray:
  """[Z, h, w] float64: every section subsampled to at most `SMALL_EDGE` px a side and 2 x 2 averaged."""
  n_z, n_y, n_x = (int(n) for n in src.shape)
  sy, sx = max(1, n_y // SMALL_EDGE), max(1, n_x // SMALL_EDGE)
  out = []
  for z in range(n_z):
    img = np.asarray(src[z, ::sy, ::sx], np.float64)
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    if h and w:
      img = img[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    out.append(img)
  return np.stack(out)


def correlation(a: np.ndarray, b: np.ndarray, flat: float = float("nan")) -> float:
  """Pearson correlation of two images; `flat` when either is constant."""
  a, b = a - a.mean(), b - b.mean()
  den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
  return float((a * b).sum()) / den if den > 0 else flat


# ---------------------------------------------------------------------------------------------------- per section


@dataclasses.dataclass
class Maps:
  """One section's maps at work resolution."""
  img: np.ndarray        # the section
  s: np.ndarray          # smoothed
  u: np.ndarray          # standardised
  thumb: np.ndarray      # block mean for correlations
  stats: Stats
  band: np.ndarray | None = None   # the fold band found, if any


def section_maps(img: np.ndarray, px: float, do_fold: bool) -> Maps:
  """The per-section maps and numbers; px = full-resolution px per work px."""
  st = Stats()
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
  return Maps(img, s, u, thumb.astype(np.float64), st, band)


def sharpness(img: np.ndarray, px: float, away: np.ndarray | None) -> float:
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


def distance(shape: tuple[int, int], theta: float, rho: float) -> np.ndarray:
  yy = np.arange(shape[0], dtype=np.float32)[:, None]
  xx = np.arange(shape[1], dtype=np.float32)[None, :]
  return xx * np.float32(math.cos(theta)) + yy * np.float32(math.sin(theta)) - np.float32(rho)


def _find_line(s: np.ndarray, m: float, px: float) -> Line:
  """The best straight dark band of the smoothed section s (median m), checked (see `damage`'s docstring)."""
  dark = (s < FOLD_LEVEL * m).astype(np.float32)
  fa = max(1, math.ceil(max(s.shape) / HOUGH_EDGE))
  score, theta, rho_a, width_a = _hough_peak(_block_mean(dark, fa), px * fa)
  line = Line(score)
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


def _measure_band(s: np.ndarray, line: Line, px: float) -> float | None:
  """Centres `line` on its band and sets its half-width and contrast from the mean profile of s across it;
  returns the half-depth level (None without tissue beside it)."""
  d = distance(s.shape, line.theta, line.rho)
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


def _continuity(s: np.ndarray, line: Line, half: float, px: float) -> tuple[float, float]:
  """(share of 16 px pieces along the line where its core is mostly below `half`, length inside the section)."""
  ys, xs = np.nonzero(np.abs(distance(s.shape, line.theta, line.rho)) <= max(1.0, line.half_width / 2.0))
  if not len(ys):
    return 0.0, 0.0
  t = -xs * math.sin(line.theta) + ys * math.cos(line.theta)
  piece = np.floor((t - t.min()) / (16.0 / px)).astype(np.int64)
  n_piece = np.bincount(piece)
  dark_share = np.bincount(piece, weights=s[ys, xs] < half) / np.maximum(n_piece, 1)
  used = n_piece >= max(2, 0.25 * n_piece.max())              # not the clipped pieces at the ends
  return float(np.mean(dark_share[used] > 0.5)), float(t.max() - t.min())


def fold_in_neighbours(cur: Maps, neighbours: list[Maps], px: float) -> bool:
  """Whether a neighbour is dark along the band of `cur` too (its mean there below FOLD_KEPT of the median of
  the tissue 5-20 px beyond the band's edges)."""
  line = cur.stats.line
  d = np.abs(distance(cur.s.shape, line.theta, line.rho)) - line.half_width
  beside = (d >= 5.0 / px) & (d <= 20.0 / px)
  for nb in neighbours:
    if nb.stats.contrast > 0 and beside.any():
      ref = float(np.median(nb.s[beside]))
      if ref > 0 and float(nb.s[cur.band].mean()) < FOLD_KEPT * ref:
        return True
  return False


def _line_mask(shape: tuple[int, int], line: Line, px: float) -> np.ndarray:
  """The band to its half-depth edges and 2 px beyond (its soft edge)."""
  return np.abs(distance(shape, line.theta, line.rho)) <= line.half_width + 2.0 / px


# ---------------------------------------------------------------------------------------------------- blobs


def find_blobs(u: np.ndarray, neighbours: list[np.ndarray], px: float, band: np.ndarray | None) -> list[Blob]:
  """The section's own compact dark blobs (see `damage`'s docstring), each with its score and region; none on a
  fold's band."""
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
    found.append(Blob(score, box, region))
  return found


def blob_mask(shape: tuple[int, int], blobs: list[Blob]) -> np.ndarray:
  mask = np.zeros(shape, bool)
  for blob in blobs:
    mask[blob.box] |= blob.region
  return mask

