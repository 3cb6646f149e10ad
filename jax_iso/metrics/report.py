"""Report pictures: ortho-slices (input | prediction | reference | |error|) and FSC curves (or power spectra), as
PNGs. The input column, the sections the prediction was made from shown on its fine grid, is what a user
compares first; it is drawn when the caller knows the input.

Figures are drawn with `matplotlib.figure.Figure` (rendered by Agg on save): no display is needed and the
pyplot backend of the calling process (e.g. a notebook's) is left alone.
"""
from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jax_iso.metrics import checks
from jax_iso.metrics.reading import ToUnit, centre_crop, read_unit
from jax_iso.metrics.spectrum_plot import curve_values, spectrum_plot

MAX_PLANE = 512  # planes are cropped to their central 512 x 512 pixels
ERROR_MAX = 0.2  # fixed |error| colour scale (intensity in [0, 1]), so reports of different methods compare
COLORS = {"all": "0.45", "z": "tab:blue", "x": "tab:orange"}
LABELS = {"all": "all directions", "z": "Z cone", "x": "X cone"}


def _planes(vol: Any, to_unit: ToUnit | None, name: str) -> dict[str, np.ndarray]:
  """Centre xy / xz / yz planes, cropped to MAX_PLANE pixels per axis: {'xy': [Y, X], 'xz': [Z, X], ...}."""
  shape = checks.shape_of(vol, "volume")
  cz, cy, cx = centre_crop(shape, MAX_PLANE)
  z, y, x = (n // 2 for n in shape)
  return {"xy": read_unit(vol, (z, cy, cx), to_unit, name), "xz": read_unit(vol, (cz, y, cx), to_unit, name),
          "yz": read_unit(vol, (cz, cy, x), to_unit, name)}


def _nice_length(limit: float) -> float:
  """The largest 1-2-5 x 10^k not above `limit`."""
  exp = 10.0 ** math.floor(math.log10(limit))
  return max(m * exp for m in (1, 2, 5) if m * exp <= limit)


def _scale_bar(ax: Any, width: float, height: float, unit: str) -> None:
  length = _nice_length(width / 4)
  x0, y0 = 0.05 * width, height - 0.07 * height
  ax.plot([x0, x0 + length], [y0, y0], color="white", lw=4, solid_capstyle="butt")
  ax.plot([x0, x0 + length], [y0, y0], color="black", lw=1.2, solid_capstyle="butt")
  label = f"{length:g} nm" if unit == "nm" else f"{length:g} px"
  ax.text(x0 + length / 2, y0 - 0.04 * height, label, color="white", ha="center", va="bottom", fontsize=8,
          bbox={"facecolor": "black", "alpha": 0.5, "pad": 1, "lw": 0})


def _show(ax: Any, image: np.ndarray, extent: tuple[float, float, float, float], **imshow_kwargs: Any) -> Any:
  ax.set_xticks([])
  ax.set_yticks([])
  return ax.imshow(image, extent=extent, interpolation="nearest", **imshow_kwargs)


def _column_title(ax: Any, title: str) -> None:
  ax.annotate(title, (0.5, 1.0), xytext=(0, 14), xycoords="axes fraction", textcoords="offset points",
              ha="center", va="bottom", fontsize=11, fontweight="bold")


def _orthoslices(path: pathlib.Path, pred: Any, ref: Any | None, results: Mapping[str, Any],
                 spacing: Sequence[float], unit: str, to_unit: Mapping[str, ToUnit | None],
                 inp: Any | None) -> pathlib.Path:
  shape = checks.shape_of(pred, "prediction") if ref is None else checks.pair_shape(pred, ref)
  sz, sy, sx = spacing
  pred_planes = _planes(pred, to_unit.get("pred"), "pred_to_unit")
  ref_planes = None if ref is None else _planes(ref, to_unit.get("ref"), "ref_to_unit")
  inp_planes = None if inp is None else _planes(inp, to_unit.get("input"), "input_to_unit")
  scale_planes = pred_planes if ref_planes is None else ref_planes
  lo, hi = np.percentile(np.concatenate([p.ravel() for p in scale_planes.values()]), [0.5, 99.5])
  grey = {"cmap": "gray", "vmin": lo, "vmax": hi if hi > lo else lo + 1e-6}  # one scale, set by the reference
  rows = (("xy", f"XY plane (z = {shape[0] // 2})", sy, sx),  # (key, label, row spacing, column spacing)
          ("xz", f"XZ plane (y = {shape[1] // 2})", sz, sx),
          ("yz", f"YZ plane (x = {shape[2] // 2})", sz, sy))
  extents = {k: (0.0, pred_planes[k].shape[1] * dx, pred_planes[k].shape[0] * dy, 0.0)  # nm
             for k, _, dy, dx in rows}
  aspects = [extents[k][2] / extents[k][1] for k, *_ in rows]  # height / width of each plane
  spacing_text = " x ".join(f"{s:g}" for s in spacing) + (" nm" if unit == "nm" else " (no spacing given)")
  suptitle = (f"Centre planes of the {' x '.join(map(str, shape))} (z, y, x) volume, voxel {spacing_text}\n"
              f"planes larger than {MAX_PLANE} px are cropped to their centre")

  if ref_planes is None:  # rows (input,) prediction; columns XY | XZ | YZ
    widths = [1.0 / a for a in aspects]
    shown = ([("Input (sections on the fine grid)", inp_planes)] if inp_planes else []) + [("Prediction",
                                                                                            pred_planes)]
    fig = Figure(figsize=(3.6 * sum(widths) + 0.4, 4.2 * len(shown) + 0.4), layout="constrained")
    axes = np.asarray(fig.subplots(len(shown), 3, width_ratios=widths)).reshape(len(shown), 3)
    for r, (name, planes) in enumerate(shown):
      for ax, (key, label, *_) in zip(axes[r], rows):
        _show(ax, planes[key], extents[key], **grey)
        _scale_bar(ax, extents[key][1], extents[key][2], unit)
        ax.set_title(f"{name}: {label}" if len(shown) > 1 else label, fontsize=10)
  else:  # rows XY / XZ / YZ, columns (input |) prediction | reference | |error|
    errors = {k: np.abs(pred_planes[k] - ref_planes[k]) for k, *_ in rows}
    columns = ([("Input (sections)", inp_planes)] if inp_planes else []) + [("Prediction", pred_planes),
                                                                             ("Reference", ref_planes)]
    n = len(columns) + 1
    fig = Figure(figsize=(3.7 * n, 3.4 * sum(aspects) + 1.2), layout="constrained")
    axes = fig.subplots(3, n, height_ratios=aspects)
    for i, (key, label, *_) in enumerate(rows):
      for c, (_, planes) in enumerate(columns):
        _show(axes[i, c], planes[key], extents[key], **grey)
      _scale_bar(axes[i, 0], extents[key][1], extents[key][2], unit)
      err_image = _show(axes[i, n - 1], errors[key], extents[key], cmap="inferno", vmin=0.0, vmax=ERROR_MAX)
      if f"psnr_{key}" in results and f"ssim_{key}" in results:
        axes[i, n - 1].set_title(f"all {key} planes: PSNR {results[f'psnr_{key}']:.2f} dB, "
                                 f"SSIM {results[f'ssim_{key}']:.3f}", fontsize=8)
      axes[i, 0].set_ylabel(label, fontsize=10)
    for ax, title in zip(axes[0], [t for t, _ in columns] + ["|Prediction - Reference|"]):
      _column_title(ax, title)
    fig.colorbar(err_image, ax=axes[:, n - 1], shrink=0.6, extend="max",
                 label="absolute error (intensity scaled to [0, 1])")
  fig.suptitle(suptitle, fontsize=9)
  fig.savefig(path, dpi=110)
  return path


def _resolution_ticks(f_min: float, f_max: float, log: bool) -> list[float]:
  """Round resolution values to label on the top axis, spread evenly over [f_min, f_max]."""
  candidates = sorted({m * 10.0**e for e in range(-3, 7) for m in (1, 1.5, 2, 3, 5)})
  ticks, last_f = [], math.inf
  for r in candidates:
    f = 1.0 / r
    far_enough = last_f / f >= 1.9 if log else last_f - f >= f_max / 10
    if f_min <= f <= f_max * (1 + 1e-9) and far_enough:
      ticks.append(r)
      last_f = f
  return ticks


def _fsc_plot(path: pathlib.Path, results: Mapping[str, Any]) -> pathlib.Path:
  curves, unit = results["fsc"], results.get("resolution_units", "nm")
  length = "nm" if unit == "nm" else "voxels"
  freq = curve_values(curves, "freq_per_nm")
  fig = Figure(figsize=(9.6, 4.8), layout="constrained")
  ax = fig.subplots()
  ax.axhline(1 / 7, color="black", lw=1, ls=":", label="1/7 threshold")
  for d in ("all", "x", "z"):  # Z last: on top where the curves coincide
    keep = freq <= curves[f"nyquist_{d}"] * (1 + 1e-9)
    dots = {"marker": "o", "ms": 3.5} if d == "z" and keep.sum() < 40 else {}  # few shells: show each
    ax.plot(freq[keep], curve_values(curves, d)[keep], color=COLORS[d], lw=1.3 if d == "all" else 2.2,
            label=f"FSC, {LABELS[d]}", **dots)
    ax.plot(freq[keep], curve_values(curves, f"halfbit_{d}")[keep], color=COLORS[d], lw=0.9, ls="--", alpha=0.8,
            label=f"half-bit threshold, {LABELS[d]}")
  for d, marker in (("z", "o"), ("x", "s")):
    res, limited = results["resolution_nm"][d], results["resolution_limited"][d]
    text = f"<= {res:.1f} {length} (no crossing up to Nyquist)" if limited else f"{res:.1f} {length}"
    ax.plot([1 / res], [1 / 7], marker=marker, ms=10 if d == "z" else 8, ls="none", mew=2,
            mfc="white" if limited else COLORS[d], mec=COLORS[d] if limited else "black",
            label=f"{d.upper()} resolution (1/7): {text}")
  f_max = float(np.nanmax(freq))
  # Very anisotropic voxels put the Z Nyquist far below the X one: a log axis shows both cones.
  log = max(curves["nyquist_z"], curves["nyquist_x"]) > 2.5 * min(curves["nyquist_z"], curves["nyquist_x"])
  if log:
    ax.set_xscale("log")
    ax.set_xlim(freq[1] * 0.9, f_max * 1.1)
  else:
    ax.set_xlim(0, f_max * 1.02)
  ax.set_ylim(-0.1, 1.05)
  ax.grid(alpha=0.3)
  ax.set_xlabel(f"spatial frequency (1/{'nm' if unit == 'nm' else 'voxel'})")
  ax.set_ylabel("Fourier shell correlation")
  top = ax.secondary_xaxis("top", functions=(lambda f: 1 / np.maximum(f, 1e-12),
                                             lambda r: 1 / np.maximum(r, 1e-12)))
  ticks = _resolution_ticks(freq[1] if log else f_max / 20, f_max, log)
  top.set_xticks(ticks, [f"{t:g}" for t in ticks])
  top.set_xlabel(f"resolution ({length}) = 1 / frequency")
  title = "FSC of prediction vs reference"
  cones = f"Z / X cone: directions within {curves.get('cone_deg', 30):g} deg of the Z / X frequency axis"
  fig.suptitle(f"{title}, {results.get('fsc_note', '')}\n{cones}", fontsize=9.5)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
  fig.savefig(path, dpi=110)
  return path


def write_report(report_dir: str | pathlib.Path, pred: Any, ref: Any | None, results: Mapping[str, Any], *,
                 pred_to_unit: ToUnit | None = None, ref_to_unit: ToUnit | None = None, inp: Any | None = None,
                 inp_to_unit: ToUnit | None = None) -> list[pathlib.Path]:
  """Writes orthoslices.png and fsc.png (spectrum.png without a reference) into `report_dir`; returns the paths.

  `results` comes from `evaluate` (with `ref`) or `evaluate_reference_free` (`ref=None`: ortho-slices of the
  volume alone and its directional power spectra). `inp`: the input on the prediction's grid (its sections,
  each over the fine slices it covers), drawn beside the prediction. Volumes may be lazy array-likes; only the
  centre planes are read.
  """
  report_dir = pathlib.Path(report_dir)
  report_dir.mkdir(parents=True, exist_ok=True)
  spacing = tuple(results.get("spacing_nm") or (1.0, 1.0, 1.0))
  unit = results.get("resolution_units", "nm")
  to_unit = {"pred": pred_to_unit, "ref": ref_to_unit, "input": inp_to_unit}
  pictures = [_orthoslices(report_dir / "orthoslices.png", pred, ref, results, spacing, unit, to_unit, inp)]
  if results.get("reference_free"):
    return pictures + [spectrum_plot(report_dir / "spectrum.png", results)]
  return pictures + [_fsc_plot(report_dir / "fsc.png", results)]
