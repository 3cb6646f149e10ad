"""Whole-volume evaluation: PSNR, SSIM and FSC resolution as one JSON-serialisable dict.

Works on in-memory arrays and on lazy array-likes (numpy memmaps, chunked file readers) with bounded memory:
PSNR / SSIM read slabs of planes along Z, FSC reads one centred crop of at most `fsc_max_size` per axis.
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


def evaluate_reference_free(vol: Any, *, spacing: Sequence[float] | None, to_unit: ToUnit | None = None,
                            fsc_max_size: int = 384, progress: bool = True) -> dict[str, Any]:
  """Directional resolution of one volume without a reference, from the self-FSC of its odd/even Y rows.

  Returns a JSON-serialisable dict: shape, spacing_nm, reference_free (True), resolution_nm /
  resolution_limited (as in `evaluate`), anisotropy = Z / X resolution (1/7 criterion; 1 = isotropic,
  > 1 = Z worse), fsc curves, fsc_crop and fsc_note. Note the self-FSC measures signal-to-noise per
  direction: it sees Z blur only where noise entered after the blur (as in acquisition), not a blur or
  interpolation applied to the stored volume itself.
  """
  del progress  # a single crop; nothing to track
  shape = checks.shape_of(vol, "volume")
  voxel = checks.spacing_of(spacing)
  out = _header(shape, spacing)
  out["reference_free"] = True
  crop = centre_crop(shape, fsc_max_size)
  out.update(fsc_summary(self_fsc(read_unit(vol, crop, to_unit, "to_unit"), voxel)))
  out["anisotropy"] = out["resolution_nm"]["z"] / out["resolution_nm"]["x"]
  out["fsc_crop"] = [s.stop - s.start for s in crop]
  out["fsc_note"] = _crop_note(shape, crop)
  return out
