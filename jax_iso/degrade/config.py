"""Degradation settings as ml_collections ConfigDicts: every op's parameters, pipelines and pair makers.

The defaults of each op are read from its signature (one source of truth: the op's docstring says where each
range comes from), so `ops()` always lists every parameter a user can change as a config field,
e.g. `pairs.acquisition.ops.gaussian_blur.sigma="(0.0, 2.0)"`. The presets below choose which ops run, in
which order and how often, for each kind of training pair:

- `acquisition()`: what imaging adds to a section: in-plane blur (defocus), intensity jitter, uneven
  illumination, dose-dependent shot noise, SEM scan-line noise (A2I-3DEM's "noise, artifacts, distortions").
- `axial_pair(factor)`: A2I-3DEM / CARE / vEMDiffuse-a pairs; blur acts along X only (axis -2 stands for Z).
- `clip_pair(factor)`: EMformer pairs, with a dropped frame for inpainting.
- `section_pair()`: ssTEM restoration pairs: fold / precipitates / missing section in the middle section.
- `noise_pair()`: EMDiffuse-n denoising pairs.
"""
from __future__ import annotations

import ml_collections

from jax_iso.degrade.pipeline import op_params

PROBS = {  # how often each op runs in a pipeline unless a preset says otherwise
    "gaussian_noise": 0.5, "poisson_gaussian_noise": 0.8, "scan_line_noise": 0.3, "gaussian_blur": 0.5,
    "intensity_jitter": 0.8, "illumination": 0.3, "missing_sections": 0.2, "misalignment": 0.3, "fold": 0.3,
    "precipitates": 0.3, "lateral_undersample": 1.0,
}


def ops() -> ml_collections.ConfigDict:
  """Every pipeline op with `prob` and its default parameters."""
  cfg = ml_collections.ConfigDict()
  for name, prob in PROBS.items():
    cfg[name] = ml_collections.ConfigDict({"prob": prob, **op_params(name)})
  cfg.lateral_undersample.factor = 4.0  # the only parameter without a default
  return cfg


def pipeline_config(order: tuple[str, ...], clip: bool = True) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict({"order": tuple(order), "ops": ops(), "clip": clip})


def acquisition(blur_axes: tuple[int, ...] = (-2, -1)) -> ml_collections.ConfigDict:
  """Imaging degradations of one section, in physical order (optics, sample, detector)."""
  cfg = pipeline_config(("gaussian_blur", "intensity_jitter", "illumination", "poisson_gaussian_noise",
                         "scan_line_noise"))
  cfg.ops.gaussian_blur.axes = tuple(blur_axes)
  return cfg


def axial_pair(factor: float = 4.0) -> ml_collections.ConfigDict:
  """Lateral patch -> sections along axis -2 -> acquisition -> cubic back to full size (`pairs.axial_pair`)."""
  return ml_collections.ConfigDict({
      "kind": "axial", "factor": float(factor), "profile": "box", "sigma": None, "phase": (0.0, 1.0),
      "method": "cubic", "support": 1.0, "acquisition": acquisition(blur_axes=(-1,))})


def any_factor_pair(factors: tuple[float, float] = (2.0, 12.0)) -> ml_collections.ConfigDict:
  """Lateral patch -> sections along axis -2 at a factor drawn from `factors`, their noise matched to the
  patch's -> cubic back (`any_factor.any_factor_pair`); the acquisition degradations off, as for `axial_pair`
  in the self-supervised configs."""
  cfg = ml_collections.ConfigDict({
      "kind": "any_factor", "factors": tuple(float(f) for f in factors), "match_noise": True, "method": "cubic",
      "acquisition": acquisition(blur_axes=(-1,))})
  cfg.acquisition.order = ()
  return cfg


def clip_pair(factor: float = 4.0) -> ml_collections.ConfigDict:
  """Stack of frames -> sections along Y -> acquisition; a frame dropped half the time (`pairs.clip_pair`)."""
  return ml_collections.ConfigDict({
      "kind": "clip", "factor": float(factor), "profile": "box", "sigma": None, "drop_prob": 0.5, "drop_run": 1,
      "interpolate": False, "method": "cubic", "support": 1.0,
      "acquisition": acquisition(blur_axes=(-1,))})


def between_pair(factor: float = 4.0) -> ml_collections.ConfigDict:
  """Stack -> sections along Y -> acquisition; two neighbouring sections and a fine slice between them
  (`pairs.between_pair`, vEMDiffuse)."""
  return ml_collections.ConfigDict({
      "kind": "between", "factor": float(factor), "profile": "box", "sigma": None, "support": 1.0,
      "acquisition": acquisition(blur_axes=(-1,))})


def section_pair() -> ml_collections.ConfigDict:
  """Three sections, the middle one folded, stained or missing (`pairs.section_pair`); 64 px of context around
  the crop so that folds pull in real tissue (outputs are cropped by `context`)."""
  fold = op_params("fold")
  precipitates = op_params("precipitates")
  return ml_collections.ConfigDict({
      "kind": "section", "kinds": ("fold", "precipitates", "missing"), "kind_probs": (1 / 3, 1 / 3, 1 / 3),
      "fold": fold, "precipitates": precipitates, "missing_fills": ("blank", "mean", "duplicate"),
      "context": 64, "acquisition": pipeline_config(())})


def noise_pair() -> ml_collections.ConfigDict:
  """An image and its noisier copy (`pairs.noise_pair`): shot, read and scan-line noise."""
  cfg = pipeline_config(("poisson_gaussian_noise", "scan_line_noise"))
  cfg.ops.poisson_gaussian_noise.prob = 1.0
  return ml_collections.ConfigDict({"kind": "noise", "pipeline": cfg})


def lateral2d_pair(scale: int = 2) -> ml_collections.ConfigDict:
  """An image sampled `scale` times coarser in Y and X, then cubic back to its size (`pairs.lateral2d_pair`);
  the coarse image's noise (`pipeline`) is off by default: turn an op on to match a noisy low-resolution
  acquisition."""
  return ml_collections.ConfigDict({"kind": "lateral2d", "scale": int(scale), "profile": "box", "sigma": None,
                                    "method": "cubic", "phase": (0.0, 1.0),
                                    "pipeline": pipeline_config(())})
