"""The training volumes named by a config's `data` section: opened lazily, with anisotropy factor and intensity
window resolved and checked (one clear UserError for every bad input)."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io.factor import resolve_factor


@dataclasses.dataclass
class Inputs:
  volumes: list                      # io.VolumeSource, (Z, Y, X) each
  factor: float                      # anisotropy s = z / xy spacing
  spacing: tuple | None              # (z, y, x) nm of the anisotropic input, or None
  intensity: io.Intensity            # stored values <-> [0, 1]

  def close(self) -> None:
    for v in self.volumes:
      v.close()


def crop_spec(config: Mapping) -> tuple[str, tuple[int, ...]]:
  """(crop kind, crop size) the pair maker of `config.pairs` needs (`jax_iso.data` crop kinds)."""
  kind, edge = config["pairs"]["kind"], int(config["data"]["crop"])
  if kind in ("axial", "noise", "registered"):
    return "lateral", (edge, edge)
  if kind == "clip":
    return "clip", (int(config["data"].get("frames", 16)), edge, edge)
  context = int(config["pairs"].get("context", 0))
  return "clip", (3, edge + 2 * context, edge + 2 * context)


def paths_of(cfg: Mapping) -> list[str]:
  paths = [p.strip() for p in str(cfg.get("path") or "").split(",") if p.strip()]
  if not paths:
    raise UserError("no training volume: pass --config.data.path=VOLUME (TIFF, zarr or N5)")
  return paths


def open_inputs(cfg: Mapping) -> Inputs:
  """Opens every volume of `cfg.path` and resolves factor, spacing and intensity (they must agree)."""
  spacing_flag = io.parse_spacing(cfg["spacing"]) if cfg.get("spacing") else None
  volumes, factor, spacing = [], None, None
  try:
    for path in paths_of(cfg):
      src = io.open_volume(path, channel=cfg.get("channel"), timepoint=cfg.get("timepoint"))
      volumes.append(src)
      f, sp = resolve_factor(cfg.get("factor"), spacing_flag, src.spacing, src.spacing_origin)
      if factor is not None and abs(f - factor) > 0.01 * factor:
        raise UserError(f"{path} has anisotropy {f:g} but {volumes[0].path} has {factor:g}; train on volumes "
                        "with one voxel size, or pass --config.data.spacing")
      factor, spacing = (f, sp) if factor is None else (factor, spacing)
      if src.dtype != volumes[0].dtype:
        raise UserError(f"{path} is {src.dtype} but {volumes[0].path} is {volumes[0].dtype}; convert them to "
                        "one dtype")
      if src.dtype == np.float32:
        io.check_finite(src)
    intensity = io.intensity_of(volumes[0], mode=cfg.get("normalize", "dtype"))
  except BaseException:
    for v in volumes:
      v.close()
    raise
  return Inputs(volumes, factor, spacing, intensity)
