"""Writing volumes: `create_volume` for streamed boxes, `write_volume` for a whole array."""
from __future__ import annotations

import contextlib
import contextvars
import os

import numpy as np

from jax_iso.errors import UserError
from jax_iso.io.ome_zarr_sink import VERSIONS, OmeZarrSink
from jax_iso.io.paths import output_format
from jax_iso.io.shared_sink import Part, SharedOmeZarrSink
from jax_iso.io.sink import VolumeSink, work_path
from jax_iso.io.spacing import Spacing
from jax_iso.io.tiff_sink import TiffSink

_SLAB_BYTES = 256 << 20
_OME_VERSION = contextvars.ContextVar("ome_version", default="0.4")


@contextlib.contextmanager
def ome_version(version: str | None):
  """Within the block, OME-Zarr outputs are written as NGFF `version` ("0.4", the default, or "0.5"; None keeps
  the default): how a command's ome_version setting reaches every volume its job writes."""
  if version is None:
    yield
    return
  if str(version) not in VERSIONS:
    raise UserError(f"ome_version={version} is not an OME-Zarr version jax_iso writes; choose 0.4 (read by "
                    "napari-ome-zarr and Fiji today) or 0.5 (zarr v3)")
  token = _OME_VERSION.set(str(version))
  try:
    yield
  finally:
    _OME_VERSION.reset(token)


def create_volume(path, shape, dtype, spacing: Spacing | None, *, description: dict | None = None,
                  resume_dir: str | bool | None = None, part: Part | None = None) -> VolumeSink:
  """An atomic writer of a (Z, Y, X) uint8/uint16/float32 volume; the format follows the extension (OME-Zarr:
  NGFF 0.4, or the version `ome_version` sets).

  with create_volume("out.ome.zarr", (Z, Y, X), np.uint8, (10., 10., 10.)) as sink:
    sink[z0:z1] = block   # any box, any order

  With `resume_dir` (a folder, or True for `.NAME.work` beside the output) the writer is resumable: its temp
  lives in that folder (`sink.resume_dir`), and a writer created later with the same path, shape, dtype, spacing
  and description reopens it (`sink.resumed`) instead of starting empty; an exception leaves the folder in
  place, commit or abort removes it.

  With `part` (of several processes writing one output, `io.shared_sink`), the output must be an OME-Zarr; its
  resume folder is `.NAME.work` unless given.
  """
  path = os.fspath(path)
  if part is not None and part.count > 1:
    if output_format(path) != "ome-zarr":
      raise UserError(f"{part.count} processes write one output only as OME-Zarr, chunk by chunk; give an "
                      f"output ending in .ome.zarr instead of {os.path.basename(path)}")
    folder = work_path(path) if resume_dir in (None, True) else resume_dir
    return SharedOmeZarrSink(path, shape, dtype, spacing, description, folder,
                             version=_OME_VERSION.get(), part=part)
  if resume_dir is True:
    resume_dir = work_path(path)
  if output_format(path) == "ome-zarr":
    return OmeZarrSink(path, shape, dtype, spacing, description, resume_dir or None, version=_OME_VERSION.get())
  return TiffSink(path, shape, dtype, spacing, description, resume_dir or None)


def write_volume(path, data, spacing: Spacing | None, *, description: dict | None = None) -> None:
  """Writes a whole (Z, Y, X) array atomically (float64 is stored as float32)."""
  data = np.asarray(data)
  dtype = np.dtype(np.float32) if data.dtype == np.float64 else data.dtype
  if data.ndim != 3:
    raise ValueError(f"write_volume needs a 3D (Z, Y, X) array, got shape {data.shape}")
  slab = max(1, _SLAB_BYTES // max(1, data[0].nbytes))
  with create_volume(path, data.shape, dtype, spacing, description=description) as sink:
    for z0 in range(0, data.shape[0], slab):
      sink[z0:z0 + slab] = data[z0:z0 + slab]
