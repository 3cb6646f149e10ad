"""`jax-iso evaluate`: metrics of a reconstruction against a reference (or reference-free), plus a report."""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np

from jax_iso import io, metrics
from jax_iso.errors import UserError
from jax_iso.io.factor import MAX_FACTOR, check_factor

NORMALIZATIONS = ("dtype", "percentile")


class ZCrop:
  """A read-only view of the first `n` Z slices of a slice-indexable volume."""

  def __init__(self, src, n: int):
    self.src, self.shape, self.dtype = src, (n,) + tuple(src.shape[1:]), src.dtype

  def __getitem__(self, key):
    key = key if isinstance(key, tuple) else (key,)
    first = range(self.shape[0])[key[0]] if key else range(self.shape[0])
    if isinstance(first, int):
      return self.src[(first,) + key[1:]]
    if len(first) == 0:
      return self.src[(slice(0, 0),) + key[1:]]
    return self.src[(slice(first.start, first.stop, first.step),) + key[1:]]


class SectionsOnGrid:
  """The sections of an anisotropic input seen on a reconstruction's fine grid: fine slice j shows the section it
  lies in (section k covers fine slices [k*s, (k+1)*s), `degrade.grid`). What the report draws beside the
  prediction; read with ints and forward slices, lazily."""

  def __init__(self, src, factor: float, n_fine: int):
    self.src, self.factor = src, float(factor)
    self.shape = (int(n_fine),) + tuple(int(n) for n in src.shape[1:])
    self.dtype = src.dtype

  def __getitem__(self, key):
    key = key if isinstance(key, tuple) else (key,)
    z, rest = key[0], key[1:]
    fine = np.arange(self.shape[0])[z]
    sections = np.minimum(((np.atleast_1d(fine) + 0.5) / self.factor).astype(int), self.src.shape[0] - 1)
    k0, k1 = int(sections.min()), int(sections.max()) + 1
    block = np.asarray(self.src[(slice(k0, k1),) + rest])[sections - k0]
    return block[0] if np.ndim(fine) == 0 else block


def _input_view(pred: str, shape: tuple[int, ...], channel, timepoint):
  """(the sections `pred` was reconstructed from on its grid, their intensity) when its provenance names them
  and they still open with its lateral shape; else (None, None)."""
  made = io.provenance(pred)
  source, factor = made.get("source"), made.get("factor")
  if made.get("job") not in ("reconstruct", "predict") or not source or not isinstance(factor, (int, float)):
    return None, None
  try:
    src = io.open_volume(source, channel=channel, timepoint=timepoint)
  except (UserError, OSError):
    return None, None
  if tuple(src.shape[1:]) != tuple(shape[1:]):
    src.close()
    return None, None
  return SectionsOnGrid(src, factor, shape[0]), io.intensity_of(src).to_unit


def default_report_dir(pred: str) -> pathlib.Path:
  """`<pred without its extension>_report` beside the prediction (beside the file of an HDF5 dataset)."""
  return pathlib.Path(io.derived_path(pred, "_report"))


def evaluate(pred: str, ref: str | None = None, *, report_dir: str | None = None,
             spacing: tuple[float, float, float] | None = None, normalize: str = "dtype",
             channel: int | None = None, timepoint: int | None = None, factor: float | None = None) -> dict:
  """Scores `pred` against `ref` (PSNR, SSIM, directional FSC resolution) or, without `ref`, measures its
  remaining anisotropy reference-free; writes metrics.json and PNG pictures into `report_dir`.

  When `ref` has a few more Z slices than `pred` (a factor that does not divide the reference's depth: N
  sections reconstruct to round(N*s) slices), `pred` is compared with the first slices of `ref`, where the
  section grid lies.
  """
  if normalize not in NORMALIZATIONS:
    raise UserError(f"unknown normalize={normalize}; choose one of {', '.join(NORMALIZATIONS)}")
  if ref is not None and factor is not None:
    raise UserError(f"factor={factor:g} is for evaluating without ref=... (the section grid a reconstruction came "
                    f"from); drop factor={factor:g} or ref={ref}")
  report_dir = pathlib.Path(report_dir) if report_dir else default_report_dir(pred)
  check_report_dir(report_dir)
  start = time.perf_counter()
  notes = []
  with io.open_volume(pred, channel=channel, timepoint=timepoint) as p_src:
    if p_src.dtype.kind == "f":
      io.check_finite(p_src)
    p_int = io.intensity_of(p_src, mode=normalize)
    if ref is None:
      sp = spacing or p_src.spacing
      section_factor = _section_factor(pred, factor)
      results = metrics.evaluate_reference_free(p_src, spacing=sp, to_unit=p_int.to_unit,
                                                section_factor=section_factor)
      pictures = dict(pred=p_src, ref=None, pred_to_unit=p_int.to_unit, channel=channel, timepoint=timepoint)
      results.update(pred=str(pred), ref=None)
      return _finish(results, report_dir, pictures, start, notes)
    with io.open_volume(ref, channel=channel, timepoint=timepoint) as r_src:
      if r_src.dtype.kind == "f":
        io.check_finite(r_src)
      r_view = _match_ref(p_src, r_src, pred, ref, notes)
      sp = spacing or r_src.spacing or p_src.spacing
      if spacing is None and r_src.spacing and p_src.spacing and any(
          abs(a - b) > 0.01 * b for a, b in zip(p_src.spacing, r_src.spacing)):
        notes.append(f"pred spacing {p_src.spacing} differs from ref spacing {r_src.spacing}; using the ref's")
      r_int = io.intensity_of(r_src, mode=normalize)
      results = metrics.evaluate(p_src, r_view, spacing=sp, pred_to_unit=p_int.to_unit,
                                 ref_to_unit=r_int.to_unit)
      results.update(pred=str(pred), ref=str(ref))
      pictures = dict(pred=p_src, ref=r_view, pred_to_unit=p_int.to_unit, ref_to_unit=r_int.to_unit,
                      channel=channel, timepoint=timepoint)
      return _finish(results, report_dir, pictures, start, notes)


def _section_factor(pred: str, factor: float | None) -> float | None:
  if factor is not None:
    return check_factor(factor)
  made = io.provenance(pred)
  if made.get("job") in ("reconstruct", "predict") and isinstance(made.get("factor"), (int, float)):
    return float(made["factor"])
  return None


def _match_ref(p_src, r_src, pred: str, ref: str, notes: list[str]):
  p_shape, r_shape = tuple(p_src.shape), tuple(r_src.shape)
  if p_shape == r_shape:
    return r_src
  extra = r_shape[0] - p_shape[0]
  # N >= 2 sections reconstruct to round(N*s) slices, and at most s - 1 slices of the reference lie beyond the
  # last section, so a genuine reconstruction misses fewer than half of its own depth (and < MAX_FACTOR).
  if p_shape[1:] == r_shape[1:] and 0 < extra < min(MAX_FACTOR, p_shape[0] / 2):
    notes.append(f"ref has {extra} more Z slices than pred; comparing with its first {p_shape[0]} "
                 "(the section grid starts at slice 0)")
    return ZCrop(r_src, p_shape[0])
  raise UserError(f"pred {pred} has shape {p_shape} but ref {ref} has {r_shape}; they must be the same "
                  "volume on the same grid (reconstruct the anisotropic version of ref)")


def check_report_dir(report_dir: pathlib.Path, setting: str = "report_dir") -> None:
  """`report_dir` can be made and written (the setting that names it in errors: report_dir or out_dir)."""
  if report_dir.exists() and not report_dir.is_dir():
    raise UserError(f"{setting}={report_dir} is a file; pass a directory")
  parent = report_dir.parent if not report_dir.exists() else report_dir
  while not parent.exists():
    parent = parent.parent
  if not os.access(parent, os.W_OK):
    raise UserError(f"cannot write the report into {report_dir} ({parent} is not writable); "
                    f"pass {setting}=DIR")


def _finish(results: dict, report_dir: pathlib.Path, pictures: dict, start: float, notes: list[str]) -> dict:
  """Writes metrics.json and the pictures into a temporary folder, then moves each file into place."""
  from jax_iso.metrics import report  # pylint: disable=g-import-not-at-top  (matplotlib: only when needed)
  for note in notes:
    print(f"note: {note}", file=sys.stderr)
  results["notes"] = notes
  results["report_dir"] = str(report_dir)
  report_dir.mkdir(parents=True, exist_ok=True)
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=report_dir))
  try:
    inp, inp_to_unit = _input_view(results["pred"], tuple(pictures["pred"].shape), pictures.get("channel"),
                                   pictures.get("timepoint"))
    try:
      files = report.write_report(tmp, pictures["pred"], pictures["ref"], results,
                                  pred_to_unit=pictures["pred_to_unit"], ref_to_unit=pictures.get("ref_to_unit"),
                                  inp=inp, inp_to_unit=inp_to_unit)
    finally:
      if inp is not None:
        inp.src.close()
    results["pictures"] = [str(report_dir / f.name) for f in files]
    results["seconds"] = round(time.perf_counter() - start, 2)
    (tmp / "metrics.json").write_text(json.dumps(results, indent=1))
    for f in list(files) + [tmp / "metrics.json"]:
      os.replace(f, report_dir / f.name)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return results
