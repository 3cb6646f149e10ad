"""`jax-iso validate`'s picture: a real held-out section beside each method's prediction of it, and the errors."""
from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from jax_iso.metrics.report import ERROR_MAX, MAX_PLANE


def heldout_picture(path: pathlib.Path, real: np.ndarray, predicted: Mapping[str, np.ndarray],
                    result: Mapping[str, Any]) -> pathlib.Path:
  """Row 1: the middle held-out section (real) and each method's prediction; row 2: |prediction - real|."""
  j = len(real) // 2
  n_y, n_x = real.shape[1:]
  cy, cx = max(0, (n_y - MAX_PLANE) // 2), max(0, (n_x - MAX_PLANE) // 2)
  crop = np.s_[cy:cy + MAX_PLANE, cx:cx + MAX_PLANE]
  ref = real[j][crop]
  lo, hi = np.percentile(ref, [0.5, 99.5])
  grey = {"cmap": "gray", "vmin": lo, "vmax": hi if hi > lo else lo + 1e-6, "interpolation": "nearest"}
  cols = 1 + len(predicted)
  fig = Figure(figsize=(3.2 * cols + 0.8, 6.8), layout="constrained")
  axes = np.asarray(fig.subplots(2, cols)).reshape(2, cols)
  axes[0, 0].imshow(ref, **grey)
  axes[0, 0].set_title(f"real section {result['heldout'][j]} (held out)", fontsize=9)
  axes[1, 0].axis("off")
  err_image = None
  for i, (name, sections) in enumerate(predicted.items(), start=1):
    scores = result["methods"][name]
    axes[0, i].imshow(sections[j][crop], **grey)
    res = ("<=" if scores["frc_limited"] else "") + f"{scores['frc_resolution']:.1f}"
    axes[0, i].set_title(f"{name}: PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.3f}\nFRC {res} "
                         f"{result['resolution_units']} (all held-out sections)", fontsize=9)
    err_image = axes[1, i].imshow(np.abs(sections[j][crop] - ref), cmap="inferno", vmin=0.0, vmax=ERROR_MAX,
                                  interpolation="nearest")
    axes[1, i].set_title(f"|{name} - real|", fontsize=9)
  for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
  if err_image is not None:
    fig.colorbar(err_image, ax=axes[1, 1:], shrink=0.8, extend="max", label="absolute error ([0, 1] intensity)")
  fig.suptitle(f"Held-out sections of {pathlib.Path(result['input']).name}: every other section removed, the rest "
               f"reconstructed at x{result['validated_factor']:g} and integrated over each removed section",
               fontsize=9.5)
  fig.savefig(path, dpi=100)
  return path
