"""ImageJ hyperstack TIFF writer that Fiji opens with the right voxel size, streamed through a memmap."""
from __future__ import annotations

import json
import os
import warnings

import numpy as np
import tifffile

from jax_iso.io import indexing
from jax_iso.io.sink import VolumeSink


def imagej_kwargs(spacing, description: dict | None) -> dict:
  """tifffile.imwrite arguments: axes ZYX, px/µm resolution, z spacing in µm, description as ImageJ Info."""
  metadata: dict = {"axes": "ZYX"}
  kwargs: dict = {"imagej": True, "photometric": "minisblack", "metadata": metadata}
  if spacing is not None:
    z, y, x = (float(s) / 1000.0 for s in spacing)
    kwargs["resolution"] = (1.0 / x, 1.0 / y)
    metadata.update(spacing=z, unit="micron")
  if description:
    metadata["Info"] = json.dumps({"jax_iso": description}, default=str)
  return kwargs


class TiffSink(VolumeSink):
  """Writes an ImageJ TIFF into a hidden temp file via `tifffile.memmap`; renamed into place on commit."""

  def __init__(self, path, shape, dtype, spacing, description, resume_dir=None):
    super().__init__(path, shape, dtype, spacing, description, resume_dir)
    self._mm = None
    try:
      self._open_temp()
    except BaseException:
      self.suspend()  # abort() unless resumable
      raise

  def _create(self) -> None:
    with warnings.catch_warnings():  # volumes > 4 GB: ImageJ's own layout (one IFD, contiguous data)
      warnings.filterwarnings("ignore", message=".*truncating ImageJ file")
      self._mm = tifffile.memmap(self.temp, shape=self.shape, dtype=self.dtype,
                                 **imagej_kwargs(self.spacing, self.description))

  def _reopen(self) -> None:
    with warnings.catch_warnings():
      warnings.filterwarnings("ignore", message=".*truncating ImageJ file")
      self._mm = tifffile.memmap(self.temp, mode="r+")
    if tuple(self._mm.shape) != self.shape or self._mm.dtype != self.dtype:
      raise ValueError(f"{self.temp} holds {self._mm.shape} {self._mm.dtype}, not {self.shape} {self.dtype}")

  def flush(self) -> None:
    if self._mm is not None:
      self._mm.flush()

  def _write(self, index: list[indexing.AxisIndex], block: np.ndarray) -> None:
    self._mm[tuple(a.span for a in index)] = block

  def _finish(self) -> None:
    self._mm.flush()
    self._close()
    with open(self.temp, "rb+") as f:
      os.fsync(f.fileno())

  def _close(self) -> None:
    mm, self._mm = getattr(self, "_mm", None), None
    if mm is not None and getattr(mm, "_mmap", None) is not None:
      mm._mmap.close()  # pylint: disable=protected-access
