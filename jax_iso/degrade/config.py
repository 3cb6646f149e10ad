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
- `blind_noise_pair()`: the blind EMDiffuse-n's pairs: one kind of noise per crop, drawn from a mixture.
"""
from __future__ import annotations

import ml_collections

from jax_iso.degrade.pipeline import op_params

PROBS = {  # how often each op runs in a pipeline unless a preset says otherwise
    "gaussian_noise": 0.5, "poisson_gaussian_noise": 0.8, "scan_line_noise": 0.3, "correlated_noise": 0.3,
    "gaussian_blur": 0.5,
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


def between_pair(factor: float = 4.0, factors: tuple[float, float] | None = None) -> ml_collections.ConfigDict:
  """Stack -> sections along Y -> acquisition; two neighbouring sections and a fine slice between them
  (`pairs.between_pair`, vEMDiffuse). With `factors` (lo, hi) the factor is drawn per crop, told to the network
  as a fourth input channel (`model.factor_input`), and the sections' noise matched per crop (`match_noise`)."""
  return ml_collections.ConfigDict({
      "kind": "between", "factor": float(factor),
      "factors": None if factors is None else tuple(float(f) for f in factors), "match_noise": factors is not None,
      "profile": "box", "sigma": None, "support": 1.0, "acquisition": acquisition(blur_axes=(-1,))})


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


BLIND_KINDS = ("gaussian", "poisson_gaussian", "scan_line", "correlated")
BLIND_PROBS = (0.35, 0.35, 0.15, 0.15)


def blind_noise_pair() -> ml_collections.ConfigDict:
  """An image and its copy degraded by one kind of noise per crop (`pairs.noise_mixture_pair`), across the range
  EM shows, from barely noisy (PSNR ~45 dB) to very noisy (~16 dB), on intensities in [0, 1]:
  - "gaussian" (35 %): white Gaussian noise, sigma log-uniform in [0.005, 0.15];
  - "poisson_gaussian" (35 %): shot noise of dose log-uniform in [15, 2000] counts at intensity 1 (at intensity
    0.5, a standard deviation of 0.18 to 0.016) plus read noise in [0, 0.02];
  - "scan_line" (15 %): SEM scan-line offsets (in [0.005, 0.04]) and gains (in [0, 0.03]) per row over white noise
    (log-uniform in [0.005, 0.1]);
  - "correlated" (15 %): Gaussian noise blurred over 0.5-2 px and renormalised (sigma log-uniform in
    [0.005, 0.12]), plus white noise in half of the crops (log-uniform in [0.005, 0.05]).
  Every field is a config field: `pairs.kind_probs`, `pairs.components.gaussian.ops.gaussian_noise.sigma`, ..."""
  gaussian = pipeline_config(("gaussian_noise",))
  gaussian.ops.gaussian_noise.update({"prob": 1.0, "sigma": (0.005, 0.15), "log_scale": True})
  shot = pipeline_config(("poisson_gaussian_noise",))
  shot.ops.poisson_gaussian_noise.update({"prob": 1.0, "dose": (15.0, 2000.0), "read_sigma": (0.0, 0.02)})
  lines = pipeline_config(("gaussian_noise", "scan_line_noise"))
  lines.ops.gaussian_noise.update({"prob": 1.0, "sigma": (0.005, 0.1), "log_scale": True})
  lines.ops.scan_line_noise.update({"prob": 1.0, "sigma": (0.005, 0.04), "gain_sigma": (0.0, 0.03)})
  correlated = pipeline_config(("correlated_noise", "gaussian_noise"))
  correlated.ops.correlated_noise.update({"prob": 1.0, "sigma": (0.005, 0.12), "length": (0.5, 2.0),
                                          "log_scale": True})
  correlated.ops.gaussian_noise.update({"prob": 0.5, "sigma": (0.005, 0.05), "log_scale": True})
  components = dict(zip(BLIND_KINDS, (gaussian, shot, lines, correlated)))
  return ml_collections.ConfigDict({"kind": "noise_mixture", "kinds": BLIND_KINDS, "kind_probs": BLIND_PROBS,
                                    "components": components})


def lateral2d_pair(scale: int = 2) -> ml_collections.ConfigDict:
  """An image sampled `scale` times coarser in Y and X, then cubic back to its size (`pairs.lateral2d_pair`);
  the coarse image's noise (`pipeline`) is off by default: turn an op on to match a noisy low-resolution
  acquisition."""
  return ml_collections.ConfigDict({"kind": "lateral2d", "scale": int(scale), "profile": "box", "sigma": None,
                                    "method": "cubic", "phase": (0.0, 1.0),
                                    "pipeline": pipeline_config(())})
