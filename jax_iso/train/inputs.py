"""The training volumes named by a config's `data` section: opened lazily, with anisotropy factor and intensity
window resolved and checked (one clear UserError for every bad input).

`data.path` names the volumes (comma-separated). With registered pairs (`pairs.kind = "registered"`),
`data.target` names their partners in the same order (the clean acquisition of each noisy one, or the
high-resolution one of each low-resolution one): each pair is read as one `data.PairedVolume`, the first
upsampled `data.scale` times in X and Y first (`data.UpsampledVolume`, EMDiffuse-r). A method whose task keeps
the voxel grid in Z (denoise, superres, restore) needs no anisotropy: its factor is None. `data.exclude` ("12,57")
names sections no training crop may touch (the damaged ones, for ssTEM restoration): one volume is then read as
the runs of sections between them (`data.SectionRun`), each long enough for a crop and its held-out band.

Pretraining on several volumes (`pairs.kind = "any_factor"`, or "between" with `pairs.factors`: the factor is
drawn per crop; or `data.weights` with `data.factor`: every volume taught that one factor; either way the volumes'
own voxel sizes need not agree): `data.weights` mixes them in given proportions, and `data.views = "all"` adds the
XZ and YZ planes of every isotropic volume as lateral planes (`data.views`), its weight shared by its three views.
`data.frame_spacing = F` reads every volume whose sections are closer than F lateral pixels at every s-th section
(s offsets, the weight shared): clips (EMformer) then have frames as far apart as a volume of factor F's sections.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from jax_iso import io, methods
from jax_iso.data.holdout import held_out
from jax_iso.data.paired import PairedVolume
from jax_iso.data.sections import clean_runs, parse_sections
from jax_iso.data.upsampled import UpsampledVolume
from jax_iso.data.views import isotropic_views, strided_views
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.io.factor import check_factor, resolve_factor


@dataclasses.dataclass
class Inputs:
  volumes: list                      # io.VolumeSource, (Z, Y, X) each (PairedVolume for registered pairs)
  factor: float | None               # anisotropy s = z / xy spacing; None for a 2D task
  spacing: tuple | None              # (z, y, x) nm of the anisotropic input, or None
  intensity: io.Intensity            # stored values <-> [0, 1]
  weights: tuple | None = None       # mixture weight of each of `volumes` (None: by their crop positions)

  def close(self) -> None:
    for v in self.volumes:
      v.close()


def crop_spec(config: Mapping) -> tuple[str, tuple[int, ...]]:
  """(crop kind, crop size) the pair maker of `config.pairs` needs (`jax_iso.data` crop kinds)."""
  kind, edge = config["pairs"]["kind"], int(config["data"]["crop"])
  if kind in ("axial", "any_factor", "noise", "noise_mixture", "lateral2d", "registered"):
    return "lateral", (edge, edge)
  if kind == "clip":
    return "clip", (int(config["data"].get("frames", 16)), edge, edge)
  if kind == "between":        # planes [frames, edge] between sections along Y (of the largest factor drawn)
    drawn = pairs.factor_range(config["pairs"])
    span = pairs.between_span(config["pairs"]["factor"] if drawn is None else drawn[1])
    return "clip", (int(config["data"].get("frames", edge)), span, edge)
  context = int(config["pairs"].get("context", 0))
  return "clip", (3, edge + 2 * context, edge + 2 * context)


def paths_of(cfg: Mapping, field: str = "path") -> list[str]:
  paths = [p.strip() for p in str(cfg.get(field) or "").split(",") if p.strip()]
  if not paths:
    raise UserError(f"no training volume: pass data.{field}=VOLUME (TIFF, zarr or N5)")
  return paths


def _iso_factor(cfg: Mapping, path: str, spacing, drawn: bool = False) -> tuple[float | None, tuple | None]:
  """(data.factor, the volume's spacing) for a method trained on an isotropic volume (vemdiffuse_i): the
  factor is the anisotropy to undo, given (None when the pair maker draws it per crop, `drawn`); the volume must
  not be anisotropic itself."""
  if cfg.get("factor") is None and not drawn:
    raise UserError(f"{path} is an isotropic training volume: pass data.factor=F, the anisotropy of the "
                    "volumes the model will reconstruct (reconstruct with train_iso=... sets it from the input)")
  if spacing is not None and spacing[0] > 1.2 * max(spacing[1], spacing[2]):
    raise UserError(f"{path} is anisotropic (voxel size {','.join(f'{v:g}' for v in spacing)} nm); this method "
                    "learns from an isotropic volume such as a FIB-SEM")
  return (None if drawn else check_factor(cfg["factor"])), spacing


def open_inputs(config: Mapping) -> Inputs:
  """Opens every volume of `config.data` and resolves factor, spacing and intensity (they must agree)."""
  cfg = config["data"]
  method = methods.get(config["method"])
  any_factor = pairs.factor_range(config["pairs"]) is not None    # the factor is drawn per crop: none to resolve
  mixture = bool(cfg.get("weights")) and method.task == "isotropic" and not any_factor   # one factor taught to all
  isotropic = method.task == "isotropic" and not any_factor and not mixture
  registered = config["pairs"]["kind"] == "registered"
  spacing_flag = io.parse_spacing(cfg["spacing"]) if cfg.get("spacing") else None
  paths = paths_of(cfg)
  targets = paths_of(cfg, "target") if registered else []
  if registered and len(targets) != len(paths):
    raise UserError(f"registered pairs: data.path names {len(paths)} volume(s) but data.target {len(targets)}; "
                    "give one target per input, in the same order")
  opened, volumes, factor, spacing = [], [], None, None
  try:
    for path in paths + targets:
      src = io.open_volume(path, channel=cfg.get("channel"), timepoint=cfg.get("timepoint"))
      opened.append(src)
      if src.dtype != opened[0].dtype:
        raise UserError(f"{path} is {src.dtype} but {opened[0].path} is {opened[0].dtype}; convert them to "
                        "one dtype")
      if src.dtype == np.float32:
        io.check_finite(src)
      if path in targets:
        continue
      if mixture:                    # pretraining on a mixture: every volume taught the factor data.factor names
        if cfg.get("factor") is None:
          raise UserError("data.weights mixes several volumes into one training run: pass data.factor=F, the "
                          "anisotropy the model learns to undo (the volumes' own voxel sizes need not agree)")
        factor = check_factor(cfg["factor"])
      elif method.train_iso:         # an isotropic volume, taught the anisotropy data.factor names (or drawn)
        f, sp = _iso_factor(cfg, path, spacing_flag or src.spacing, drawn=any_factor)
        factor, spacing = f, sp
      elif isotropic:
        f, sp = resolve_factor(cfg.get("factor"), spacing_flag, src.spacing, src.spacing_origin)
        if factor is not None and abs(f - factor) > 0.01 * factor:
          raise UserError(f"{path} has anisotropy {f:g} but {opened[0].path} has {factor:g}; train on volumes "
                          "with one voxel size, or pass data.spacing=Z,Y,X")
        factor, spacing = (f, sp) if factor is None else (factor, spacing)
      elif spacing is None:
        spacing = spacing_flag or src.spacing
    intensity = io.intensity_of(opened[0], mode=cfg.get("normalize", "dtype"))
    volumes = opened
    if registered:
      scale = int(cfg.get("scale") or 1)
      up = (lambda v: UpsampledVolume(v, scale)) if scale > 1 else (lambda v: v)
      volumes = [PairedVolume(up(a), b, names=("data.path", "data.target"), dtype=np.float32 if scale > 1 else None)
                 for a, b in zip(opened[:len(paths)], opened[len(paths):])]
    if cfg.get("exclude"):
      volumes = _runs(config, opened)
    weights = cfg.get("weights") or None
    if weights is not None and len(weights) != len(paths):
      raise UserError(f"data.weights gives {len(weights)} weight(s) for the {len(paths)} volume(s) of data.path; "
                      "give one per volume, in the same order")
    if cfg.get("views", "lateral") == "all":
      volumes, weights = _with_views(volumes, weights)
    elif cfg.get("views", "lateral") != "lateral":
      raise UserError(f"data.views={cfg['views']!r} must be 'lateral' (XY planes) or 'all' (also the XZ and YZ "
                      "planes of isotropic volumes)")
    if cfg.get("frame_spacing"):
      volumes, weights = _frame_spaced(volumes, weights, cfg["frame_spacing"])
  except BaseException:
    for v in opened:
      v.close()
    raise
  return Inputs(volumes, factor, spacing, intensity, None if weights is None else tuple(weights))


def frame_step(spacing, frame_spacing: float) -> int:
  """Sections to step so that consecutive frames lie `frame_spacing` lateral pixels apart (at least 1): 4 for a
  10 nm isotropic volume at frame_spacing 4, 1 for a 40 x 10 x 10 nm one (its sections already are)."""
  if spacing is None:
    return 1
  return max(1, int(round(float(frame_spacing) * min(spacing[1], spacing[2]) / spacing[0])))


def _frame_spaced(volumes: list, weights, frame_spacing) -> tuple[list, list | None]:
  """Every volume (view) whose sections are closer than `data.frame_spacing` lateral pixels as its strided views
  (`frame_step`): clips of them have frames as far apart as an anisotropic volume's sections (EMformer learns
  to fill a lost section from neighbours as far away as it will meet them). A volume's weight is shared by its
  views."""
  try:
    frame_spacing = float(frame_spacing)
  except (TypeError, ValueError):
    frame_spacing = -1.0
  if not frame_spacing > 0:
    raise UserError(f"data.frame_spacing={frame_spacing!r} must be a positive number of lateral pixels between "
                    "consecutive frames (e.g. the factor), or 0 for the volumes' own sections")
  out, shares = [], []
  for i, v in enumerate(volumes):
    views = strided_views(v, frame_step(getattr(v, "spacing", None), frame_spacing))
    out += views
    shares += [(1.0 if weights is None else float(weights[i])) / len(views)] * len(views)
  return out, (None if weights is None and len(out) == len(volumes) else shares)


def _with_views(volumes: list, weights) -> tuple[list, list | None]:
  """Every isotropic volume (known voxel size, Z within 20 % of Y and X) as its three views (`data.views`), its
  weight shared among them."""
  out, shares = [], []
  for i, v in enumerate(volumes):
    sp = getattr(v, "spacing", None)
    views = isotropic_views(v) if sp is not None and sp[0] <= 1.2 * min(sp[1], sp[2]) else [v]
    out += views
    shares += [(1.0 if weights is None else float(weights[i])) / len(views)] * len(views)
  return out, (None if weights is None and len(out) == len(volumes) else shares)


def _runs(config: Mapping, opened: list) -> list:
  """The one training volume as its runs between the `data.exclude` sections (see the module docstring)."""
  cfg = config["data"]
  if len(opened) != 1:
    raise UserError(f"data.exclude={cfg['exclude']} names sections of one volume, but data.path names "
                    f"{len(opened)}; train on one volume, or drop data.exclude")
  src = opened[0]
  n = int(src.shape[0])
  bad = parse_sections(cfg["exclude"], n, flag="data.exclude")
  kind, size = crop_spec(config)
  depth = int(size[0]) if kind == "clip" else 1
  min_len = depth
  while min_len - held_out(min_len, float(cfg.get("holdout", 0.0))) < depth:
    min_len += 1
  runs = clean_runs(src, bad, min_len)
  if not runs:
    raise UserError(f"{src.path}: no {min_len} consecutive sections are left between the {len(bad)} excluded "
                    f"ones (data.exclude); training needs {depth} consecutive clean sections plus the held-out ones")
  return runs
