"""The model's input for a package: its tile size, and one test tile cut from a real volume's axial plane.

A feed-forward method's model sees tiles of xz planes of the volume resampled onto the isotropic grid (rows: the
fine Z slices, columns: X), in [0, 1] by the intensity window it was trained with (`infer.planes`): a tile of
`infer.tile` pixels (256 where it is "auto") plus `infer.margin` of context on each side (`infer.tiles.Tiling`),
rounded up to the model's size multiple. The test tile is the centre of the middle xz plane of the training volume
prepared just so.
"""
from __future__ import annotations

import os

import numpy as np

from jax_iso import io, runconfig
from jax_iso.degrade import resample
from jax_iso.errors import UserError
from jax_iso.infer import memory_defaults
from jax_iso.infer.tiles import Tiling, is_auto


def geometry(config: runconfig.Frozen, multiple: int) -> tuple[tuple[int, int], int]:
  """((rows, columns) of the model input per tile: tile + 2 * margin, and the margin (the halo cropped from each
  side of the output)), all rounded up to `multiple`. An "auto" tile (sized to a device's memory where jax_iso
  runs) is the CPU's, `memory_defaults.CPU_TILE`: a package's tile is one fixed size."""
  big = 1 << 20                                                    # a plane larger than any tile
  infer = dict(config.infer)
  for name, fixed in (("tile", memory_defaults.CPU_TILE), ("batch_size", memory_defaults.CPU_BATCH)):
    if is_auto(infer.get(name)):
      infer[name] = fixed
  plan = Tiling.from_config(infer, multiple).plan((big, big))
  return plan.window, plan.rows.margin


def intensity(config: runconfig.Frozen) -> io.Intensity:
  """The intensity window the model was trained with (stored values <-> [0, 1])."""
  got = config.resolved.intensity
  return io.Intensity(float(got.lo), float(got.hi), np.dtype(got.dtype))


def unit_tile(config: runconfig.Frozen, volume: str | os.PathLike, shape: tuple[int, int]) -> np.ndarray:
  """[rows, cols] float32 in [0, 1]: the centre of the middle xz plane of `volume`, Z resampled by the model's
  factor (the inference's method), mirrored at the edges where the plane is smaller than `shape`."""
  if not os.path.exists(volume):
    raise UserError(f"the volume {volume} to cut the package's test tile from does not exist; pass --input=VOLUME "
                    "(the training volume, or one like it)")
  factor = float(config.resolved.factor)
  data = config.data
  with io.open_volume(volume, channel=data.get("channel"), timepoint=data.get("timepoint")) as src:
    n_z, n_y, n_x = (int(n) for n in src.shape)
    plane = np.asarray(src[:, n_y // 2, :], np.float32).reshape(n_z, n_x)              # [Z, X] sections
  plane = np.asarray(resample.resample(intensity(config).to_unit(plane), factor,
                                       config.infer.get("method", "cubic"), axis=0))     # [Zf, X]
  rows, cols = shape
  pad = [(max(0, (n - plane.shape[i]) // 2 + 1),) * 2 for i, n in enumerate((rows, cols))]
  plane = np.pad(plane, pad, mode="reflect" if min(plane.shape) > 1 else "edge")
  r0, c0 = (plane.shape[0] - rows) // 2, (plane.shape[1] - cols) // 2
  return np.ascontiguousarray(plane[r0:r0 + rows, c0:c0 + cols], np.float32)
