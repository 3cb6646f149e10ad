"""Host (numpy/scipy) training-pair makers, one example at a time, as the reference codes build pairs in their
data loaders: the baseline that experiments/bench_degrade.py measures `jax_iso.degrade.pairs` against.

They take the same configs (`jax_iso.degrade.config`) and do the same work: box sections at a random phase,
the acquisition ops in order with their probabilities, Keys cubic interpolation back; clip pairs with a dropped
frame; section pairs with a fold, precipitates or a missing middle section.
"""
from __future__ import annotations

import math

import numpy as np

from host import fold, intensity, noise, precipitates, sections

HOST_OPS = {
    "gaussian_noise": noise.gaussian_noise, "scan_line_noise": noise.scan_line_noise,
    # the device op uses the Gaussian approximation of shot noise; so does the host, for the same work
    "poisson_gaussian_noise": lambda rng, x, **p: noise.poisson_gaussian_noise(rng, x, exact=False, **p),
    "gaussian_blur": intensity.gaussian_blur, "intensity_jitter": intensity.intensity_jitter,
    "illumination": intensity.illumination, "missing_sections": sections.missing_sections,
    "misalignment": sections.misalignment, "fold": fold.fold, "precipitates": precipitates.precipitates,
}


def box_matrix(n: int, factor: float, phase: float, n_sec: int) -> np.ndarray:
  """[n_sec, n]: section k = mean of fine slices over [k*s + p, (k+1)*s + p) (overlap-weighted)."""
  start = np.arange(n_sec)[:, None] * factor + phase
  lo, hi = np.arange(n)[None, :], np.arange(n)[None, :] + 1.0
  return np.clip(np.minimum(hi, start + factor) - np.maximum(lo, start), 0, None) / factor


def cubic_matrix(n_sec: int, factor: float, phase: float, n_out: int, a: float = -0.5) -> np.ndarray:
  """[n_out, n_sec]: Keys cubic interpolation from section centres to fine slices, edges replicated."""
  q = (np.arange(n_out) + 0.5 - phase) / factor - 0.5
  m = np.zeros((n_out, n_sec))
  base = np.floor(q).astype(int)
  for off in range(-1, 3):
    t = np.abs(q - (base + off))
    w = np.where(t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1,
                 np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0))
    np.add.at(m, (np.arange(n_out), np.clip(base + off, 0, n_sec - 1)), w)
  return m


def acquisition(rng: np.random.Generator, x: np.ndarray, cfg: dict) -> np.ndarray:
  for name in cfg["order"]:
    params = dict(cfg["ops"][name])
    if rng.random() < params.pop("prob", 1.0):
      x, _ = HOST_OPS[name](rng, x, **params)
  return np.clip(x, 0.0, 1.0) if cfg.get("clip", True) else x


def axial_pair(rng: np.random.Generator, patch: np.ndarray, cfg: dict):
  factor = cfg["factor"]
  n = patch.shape[0]
  lo, hi = cfg["phase"]
  n_sec = int(math.floor(n / factor - hi + 1e-9))
  phase = rng.uniform(lo, hi) * factor
  sec = box_matrix(n, factor, phase, n_sec) @ patch
  sec = acquisition(rng, sec.astype(np.float32), cfg["acquisition"])
  return (cubic_matrix(n_sec, factor, phase, n) @ sec).astype(np.float32), patch


def clip_pair(rng: np.random.Generator, clip: np.ndarray, cfg: dict):
  factor = cfg["factor"]
  d, h, _ = clip.shape
  n_sec = int(math.floor(h / factor + 1e-9))
  n_out = int(math.floor(n_sec * factor + 0.5))
  box = box_matrix(h, factor, 0.0, n_sec)
  sec = np.stack([box @ frame for frame in clip]).astype(np.float32)
  sec = acquisition(rng, sec, cfg["acquisition"])
  if rng.random() < cfg["drop_prob"]:
    sec[rng.integers(d)] = 0.0
  return sec, clip[:, :n_out]


def section_pair(rng: np.random.Generator, triplet: np.ndarray, cfg: dict):
  kinds = cfg["kinds"]
  kind = kinds[rng.choice(len(kinds), p=np.asarray(cfg["kind_probs"]) / np.sum(cfg["kind_probs"]))]
  middle = triplet[1]
  flow = np.zeros((2,) + middle.shape, np.float32)
  if kind == "fold":
    damaged, aux = fold.fold(rng, middle, **cfg["fold"])
    mask, flow = aux["mask"], aux["flow"]
  elif kind == "precipitates":
    damaged, aux = precipitates.precipitates(rng, middle, **cfg["precipitates"])
    mask = aux["mask"]
  else:
    fill = cfg["missing_fills"][rng.integers(len(cfg["missing_fills"]))]
    damaged = {"blank": np.zeros_like(middle), "mean": np.full_like(middle, middle.mean()),
               "duplicate": triplet[0].copy()}[fill]
    mask = np.ones_like(middle)
  c = cfg["context"]
  inner = (slice(c, middle.shape[0] - c), slice(c, middle.shape[1] - c))
  inp = np.stack([triplet[0][inner], damaged[inner], triplet[2][inner]])
  return acquisition(rng, inp, cfg["acquisition"]), middle[inner], mask[inner], flow[(slice(None),) + inner]


PAIRS = {"axial": axial_pair, "clip": clip_pair, "section": section_pair}
