"""The picture of a denoise / superres run: input | mean | uncertainty | flags of one section, as a PNG.

    sample_figure("den.png", input_view, "den.tif", summary)   # summary: what jobs.denoise / jobs.superres returned

The uncertainty (standard deviation of the K samples, intensity in [0, 1]) is drawn on a fixed scale from 0 to
twice the flag threshold, so pictures of different runs compare; flagged pixels are drawn in red over the mean.
"""
from __future__ import annotations

import pathlib
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from jax_iso import io

MAX_SIDE = 512       # the section's central 512 x 512 pixels (of the output grid)


def _crop(shape: tuple[int, int]) -> tuple[slice, slice]:
  return tuple(slice(max(0, (n - MAX_SIDE) // 2), max(0, (n - MAX_SIDE) // 2) + min(n, MAX_SIDE)) for n in shape)


def _section(view, intensity: io.Intensity, z: int, box) -> np.ndarray:
  """Section z of `view` (a volume on the output grid) cropped to `box`, in [0, 1]."""
  return np.clip(intensity.to_unit(np.asarray(view[(z,) + tuple(box)], np.float32)), 0.0, 1.0)


def sample_figure(path: str | pathlib.Path, input_view, input_intensity: io.Intensity, output: str,
                  summary: Mapping, *, scale: int = 1) -> pathlib.Path:
  """Draws the middle section of `input_view` (the input on the output grid: upsampled `scale` x), `output`, and
  the uncertainty and flags the run wrote (`summary["strategy"]`) into `path`."""
  shape = tuple(summary["output_shape"])
  z, box = shape[0] // 2, _crop(shape[1:])
  strategy = summary.get("strategy") or {}
  with io.open_volume(output) as out:
    mean = _section(out, io.intensity_of(out), z, box)
  panels = [(f"input{' (cubic x%d)' % scale if scale > 1 else ''}", _section(input_view, input_intensity, z, box), {}),
            (f"mean of {strategy.get('samples', 1)} samples", mean, {})]
  threshold = float(strategy.get("threshold") or 0.12)
  if strategy.get("uncertainty"):
    with io.open_volume(strategy["uncertainty"]) as src:
      std = np.asarray(src[(z,) + tuple(box)], np.float32)
    panels.append(("uncertainty (std)", std, {"cmap": "magma", "vmin": 0.0, "vmax": 2 * threshold}))
  if strategy.get("flags"):
    with io.open_volume(strategy["flags"]) as src:
      flags = np.asarray(src[(z,) + tuple(box)]) > 0
    overlay = np.repeat(panels[1][1][..., None], 3, axis=-1)
    overlay[flags] = (1.0, 0.0, 0.0)
    panels.append((f"flags (std > {threshold:g}): {flags.mean():.1%}", overlay, {}))
  fig = Figure(figsize=(3.2 * len(panels), 3.6), dpi=110)
  for i, (title, image, style) in enumerate(panels):
    ax = fig.add_subplot(1, len(panels), i + 1)
    ax.set_xticks([])
    ax.set_yticks([])
    kwargs = {"cmap": "gray", "vmin": 0.0, "vmax": 1.0, **style} if image.ndim == 2 else {}
    im = ax.imshow(image, interpolation="nearest", **kwargs)
    ax.set_title(title, fontsize=10)
    if style.get("cmap") == "magma":
      fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
  fig.suptitle(f"{summary.get('method')}: section {z} of {shape[0]}", fontsize=11)
  fig.tight_layout()
  path = pathlib.Path(path)
  fig.savefig(path)
  return path
