"""Whole-volume evaluation: PSNR, SSIM and FSC resolution as one JSON-serialisable dict.

Works on in-memory arrays and on lazy array-likes (numpy memmaps, chunked file readers) with bounded memory:
PSNR / SSIM read slabs of planes along Z; the FSC and the reference-free spectrum read one centred crop of at
most `fsc_max_size` per axis.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from jax_iso.metrics import checks
from jax_iso.metrics import planes
from jax_iso.metrics.fourier_shells import DIRECTIONS, FSCResult, fsc, self_fsc
from jax_iso.metrics.reading import ToUnit, centre_crop, read_unit
from jax_iso.metrics.spectral import DIRECTIONS as SPECTRAL_DIRECTIONS
from jax_iso.metrics.spectral import SpectralResult, spectral_resolution


def _json_list(values: np.ndarray) -> list[float | None]:
  return [float(v) if math.isfinite(v) else None for v in np.asarray(values, np.float64)]


def fsc_summary(result: FSCResult) -> dict[str, Any]:
  """Resolutions (1/7 and half-bit, per direction), Nyquist flags and the curves, JSON-ready."""
  values, limited = {}, {}
  for direction in DIRECTIONS:
    for criterion, suffix in (("1/7", ""), ("halfbit", "_halfbit")):
      r = result.resolution(direction, criterion)
      values[direction + suffix], limited[direction + suffix] = r.resolution, r.limited
  curves: dict[str, Any] = {"freq_per_nm": _json_list(result.freq)}
  for direction in DIRECTIONS:
    curves[direction] = _json_list(result.curves[direction])
    curves[f"halfbit_{direction}"] = _json_list(result.halfbit[direction])
    curves[f"count_{direction}"] = [int(c) for c in result.counts[direction]]
    curves[f"nyquist_{direction}"] = float(result.nyquist[direction])
  curves["cone_deg"] = result.cone_deg
  return {"resolution_nm": values, "resolution_limited": limited, "fsc": curves}


def _header(shape: Sequence[int], spacing: Sequence[float] | None) -> dict[str, Any]:
  return {"shape": [int(s) for s in shape],
          "spacing_nm": None if spacing is None else [float(s) for s in checks.spacing_of(spacing)],
          "resolution_units": "voxels" if spacing is None else "nm"}


def _crop_note(shape: Sequence[int], crop: Sequence[slice]) -> str:
  size = [s.stop - s.start for s in crop]
  if size == list(shape):
    return "whole volume"
  return f"centred crop {'x'.join(map(str, size))} of the {'x'.join(map(str, shape))} volume"


def evaluate(pred: Any, ref: Any, *, spacing: Sequence[float] | None = None,
             pred_to_unit: ToUnit | None = None, ref_to_unit: ToUnit | None = None, slab: int = 32,
             fsc_max_size: int = 384, progress: bool = True) -> dict[str, Any]:
  """Scores a prediction against a reference volume (both (Z, Y, X), same shape).

  `pred` / `ref` are arrays or lazy array-likes read in their native dtype; `*_to_unit` map a block to float32
  in [0, 1] (default: a plain float32 cast). `spacing` (z, y, x) in nm; None uses 1 and reports resolutions
  in voxels (`spacing_nm` is then null and `resolution_units` 'voxels').

  Returns a JSON-serialisable dict: shape, spacing_nm, psnr, psnr_{xy,xz,yz}, ssim_{xy,xz,yz},
  resolution_nm / resolution_limited (keys all, z, x and *_halfbit; limited = Nyquist-limited, "<="),
  fsc (curves), fsc_crop (the centred crop the FSC used) and fsc_note.
  """
  shape = checks.pair_shape(pred, ref)
  voxel = checks.spacing_of(spacing)
  crop = centre_crop(shape, fsc_max_size)
  out = _header(shape, spacing)
  out.update(planes.plane_metrics(pred, ref, slab=slab, pred_to_unit=pred_to_unit, ref_to_unit=ref_to_unit,
                                  progress=progress))
  a = read_unit(pred, crop, pred_to_unit, "pred_to_unit")
  b = read_unit(ref, crop, ref_to_unit, "ref_to_unit")
  out.update(fsc_summary(fsc(a, b, voxel)))
  out["fsc_crop"] = [s.stop - s.start for s in crop]
  out["fsc_note"] = _crop_note(shape, crop)
  return out


def spectral_summary(result: SpectralResult) -> dict[str, Any]:
  """Resolutions per direction (nm), Nyquist flags, Z / X anisotropy and the spectra, JSON-ready."""
  values, limited = {}, {}
  for direction in SPECTRAL_DIRECTIONS:
    r = result.resolution(direction)
    values[direction], limited[direction] = r.resolution, r.limited
  curves: dict[str, Any] = {"freq_per_nm": _json_list(result.freq), "cone_deg": result.cone_deg}
  for direction in SPECTRAL_DIRECTIONS:
    curves[f"power_{direction}"] = _json_list(result.power[direction])
    curves[f"plateau_{direction}"] = result.plateau[direction]
    curves[f"floor_{direction}"] = result.floor[direction]
    curves[f"nyquist_{direction}"] = result.nyquist[direction]
  if result.section_images is not None:
    curves["section_images_z"] = _json_list(result.section_images)
  return {"resolution_nm": values, "resolution_limited": limited, "anisotropy": values["z"] / values["x"],
          "spectrum": curves}


SELF_FSC_NOTE = ("odd/even-row self-FSC: the noise-limited resolution of a raw acquisition; it cannot see "
                 "interpolation or blur applied after acquisition, so never rank reconstructions by it")


def evaluate_reference_free(vol: Any, *, spacing: Sequence[float] | None, to_unit: ToUnit | None = None,
                            fsc_max_size: int = 384, section_factor: float | None = None,
                            progress: bool = True) -> dict[str, Any]:
  """Directional resolution of one volume without a reference (`metrics.spectral`).

  Returns a JSON-serialisable dict: shape, spacing_nm, reference_free (True), resolution_nm /
  resolution_limited (keys z, y, x: where each direction's power spectrum falls to SNR_FACTOR x its noise floor;
  limited = no crossing up to Nyquist, "<="), anisotropy = Z / X resolution (1 = isotropic, > 1 = Z worse),
  spectrum (the curves and floors), section_factor (the section grid whose images were removed from the Z
  power, or None), self_fsc (the odd/even-row self-FSC resolutions, with `note` saying what they measure),
  fsc_crop and fsc_note (the centred crop both used).
  """
  del progress  # a single crop; nothing to track
  shape = checks.shape_of(vol, "volume")
  voxel = checks.spacing_of(spacing)
  out = _header(shape, spacing)
  out["reference_free"] = True
  crop = centre_crop(shape, fsc_max_size)
  block = read_unit(vol, crop, to_unit, "to_unit")
  out.update(spectral_summary(spectral_resolution(block, voxel, section_factor=section_factor)))
  out["section_factor"] = section_factor
  own = self_fsc(block, voxel)
  out["self_fsc"] = {"resolution_nm": {d: own.resolution(d).resolution for d in ("z", "x")},
                     "resolution_limited": {d: own.resolution(d).limited for d in ("z", "x")},
                     "note": SELF_FSC_NOTE}
  out["fsc_crop"] = [s.stop - s.start for s in crop]
  out["fsc_note"] = _crop_note(shape, crop)
  return out
