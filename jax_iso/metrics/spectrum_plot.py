"""The reference-free report's picture: power spectrum per direction against its noise floor (`spectral`)."""
from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jax_iso.metrics.spectral import SNR_FACTOR

COLORS = {"z": "tab:blue", "y": "tab:green", "x": "tab:orange"}


def curve_values(curves: Mapping[str, Any], key: str) -> np.ndarray:
  """A curve of a results dict (JSON null = NaN) as float64."""
  return np.array([np.nan if v is None else v for v in curves[key]], dtype=np.float64)


def spectrum_plot(path: pathlib.Path, results: Mapping[str, Any]) -> pathlib.Path:
  """Log-log power per cone, each direction's crossing threshold (SNR_FACTOR x floor) and its resolution."""
  curves, unit = results["spectrum"], results.get("resolution_units", "nm")
  length = "nm" if unit == "nm" else "voxels"
  freq = curve_values(curves, "freq_per_nm")
  fig = Figure(figsize=(9.6, 4.8), layout="constrained")
  ax = fig.subplots()
  for d in ("x", "y", "z"):  # Z last: on top
    keep = (freq > 0) & (freq <= curves[f"nyquist_{d}"] * (1 + 1e-9))
    power = curve_values(curves, f"power_{d}")[keep]
    grid = f" (x{results['section_factor']:g} section-grid images removed)" if d == "z" and results.get(
        "section_factor") else ""
    ax.plot(freq[keep], power, color=COLORS[d], lw=2.2 if d == "z" else 1.5,
            label=f"power, {d.upper()} cone{grid}")
    ax.axhline(SNR_FACTOR * curves[f"floor_{d}"], color=COLORS[d], lw=0.9, ls="--",
               label=f"{SNR_FACTOR:g} x {d.upper()} noise floor")
    res, limited = results["resolution_nm"][d], results["resolution_limited"][d]
    text = f"<= {res:.1f} {length} (above the floor up to Nyquist)" if limited else f"{res:.1f} {length}"
    ax.plot([1 / res], [SNR_FACTOR * curves[f"floor_{d}"]], marker="o", ms=9, ls="none", mew=2,
            mfc="white" if limited else COLORS[d], mec=COLORS[d] if limited else "black",
            label=f"{d.upper()} resolution: {text}")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.grid(alpha=0.3, which="both")
  ax.set_xlabel(f"spatial frequency (1/{'nm' if unit == 'nm' else 'voxel'})")
  ax.set_ylabel("mean power per voxel (intensity in [0, 1])")
  top = ax.secondary_xaxis("top", functions=(lambda f: 1 / np.maximum(f, 1e-12),
                                             lambda r: 1 / np.maximum(r, 1e-12)))
  top.set_xlabel(f"resolution ({length}) = 1 / frequency")
  fig.suptitle(f"Reference-free resolution: where each direction's power falls to {SNR_FACTOR:g} x its noise floor, "
               f"{results.get('fsc_note', '')}\ncones of {curves.get('cone_deg', 30):g} deg around the Z, Y and X "
               "frequency axes; the Z floor is never below the lateral noise", fontsize=9.5)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
  fig.savefig(path, dpi=110)
  return path
