"""Whole-volume reconstruction with a 2D model: XZ and YZ planes through the model, fused, streamed, resumable.

The sections are resampled onto the fine grid (cubic by default), every XZ plane (y = const, plane [Zf, X]) and
every YZ plane (x = const, plane [Zf, Y]) goes through the model in tiles (`tiles.predict_planes`), and the two
predictions are fused voxel-wise. Memory stays bounded (`budget.plan_slab`) in two passes:

  1. YZ planes in X slabs -> a temporary zarr store of floats in the work folder (`scratch`);
  2. XZ planes in Y slabs, fused with the same rows read back from the store -> the output, in Y slabs (whole
     contiguous runs of a TIFF page, whole chunks of an OME-Zarr).

Resuming: with a resumable output (`io.create_volume(..., resume_dir=True)`: `.NAME.work` beside it) or an
explicit `work_dir`, and a `fingerprint` of the model, every finished slab is recorded in `manifest.json` beside the
store (`resume.Manifest`). Run again with the same input, output, model and parameters, the reconstruction
continues at the first unfinished slab; anything different starts over (and says so on stderr).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tensorstore as ts

from jax_iso import progress as bars
from jax_iso.degrade import grid
from jax_iso.degrade.resample import METHODS
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.errors import UserError
from jax_iso.infer import budget, resume, scratch
from jax_iso.infer.tiles import device_batch, plan_tiles, predict_planes
from jax_iso.infer.workdir import StoreSpec, WorkFolder
from jax_iso.io.slabs import slab_bounds

FUSES = ("mean", "geometric", "xz", "yz")
ORIENTATIONS = ("xz", "yz")

_AXIS = {"xz": 1, "yz": 2}                          # the volume axis that is constant on a plane
_TO_PLANES = {"xz": (1, 0, 2), "yz": (2, 0, 1)}     # (Zf, S, X) -> [S, Zf, X]; (Zf, Y, S) -> [S, Zf, Y]
_FROM_PLANES = {"xz": (1, 0, 2), "yz": (1, 2, 0)}   # and back


def fuse_predictions(xz: np.ndarray, yz: np.ndarray, fuse: str) -> np.ndarray:
  """Voxel-wise fusion: "mean", or "geometric" (sqrt of the product of the values clipped to >= 0)."""
  if fuse == "mean":
    return (xz + yz) * np.float32(0.5)
  if fuse == "geometric":
    return np.sqrt(np.maximum(xz, 0.0) * np.maximum(yz, 0.0))
  raise ValueError(f"fuse must be 'mean' or 'geometric' to combine two orientations, got {fuse!r}")


def used_orientations(fuse: str, orientations: Sequence[str]) -> tuple[str, ...]:
  """The orientations to predict: one when `fuse` names it or only one is given, else both."""
  orientations = tuple(orientations)
  if fuse not in FUSES:
    raise UserError(f"unknown fuse={fuse!r}; choose one of {', '.join(FUSES)}")
  valid = all(o in ORIENTATIONS for o in orientations) and len(set(orientations)) == len(orientations)
  if not orientations or not valid:
    raise UserError(f"orientations {orientations} must be 'xz', 'yz' or both")
  if fuse in ORIENTATIONS:
    if fuse not in orientations:
      raise UserError(f"fuse={fuse!r} uses the {fuse} planes, which orientations {orientations} leave out; add "
                      f"{fuse!r} to the orientations")
    return (fuse,)
  return orientations


class _Planes:
  """Predictions for slabs of one orientation's planes, in volume layout (Zf, S, X) or (Zf, Y, S)."""

  def __init__(self, orient: str, src, *, factor: float, method: str, intensity, apply_fn: Callable,
               tiling: dict, batch: int):
    self.orient, self.src, self.apply_fn, self.tiling, self.batch = orient, src, apply_fn, tiling, batch
    perm = _TO_PLANES[orient]
    self._prepare = jax.jit(
        lambda block: jnp.transpose(resample_z(intensity.to_unit(block), factor, method, axis=0), perm))

  def __call__(self, start: int, stop: int) -> np.ndarray:
    key = [slice(None)] * 3
    key[_AXIS[self.orient]] = slice(start, stop)
    planes = np.asarray(self._prepare(np.asarray(self.src[tuple(key)])))      # [S, Zf, L] float32
    out = predict_planes(self.apply_fn, planes, batch_size=self.batch, exact_batch=True, **self.tiling)
    return out.transpose(_FROM_PLANES[self.orient])


def _put(target, orient: str, start: int, stop: int, block: np.ndarray) -> None:
  key = [slice(None)] * 3
  key[_AXIS[orient]] = slice(start, stop)
  if isinstance(target, ts.TensorStore):
    target[tuple(key)].write(block).result()
  else:
    target[tuple(key)] = block


def _slab_sizes(slabs, used, counts, n_sections, plane_shapes, tiling, batch_size, budget_bytes,
                src_itemsize) -> dict[str, int]:
  sizes = {}
  for o in used:
    given = slabs.get(o) if isinstance(slabs, dict) else slabs
    if given is None:
      given = budget.plan_slab(counts[o], n_sections, plane_shapes[o], batch_size=batch_size,
                               budget_bytes=budget_bytes, src_itemsize=src_itemsize, **tiling)
    sizes[o] = int(min(max(1, given), counts[o]))
  return sizes


def reconstruct_planes(src, sink, *, factor: float, apply_fn: Callable, intensity, tile, overlap: int,
                       margin: int, batch_size: int, multiple: int, fuse: str = "mean",
                       orientations: Sequence[str] = ORIENTATIONS, method: str = "cubic",
                       work_dir: str | None = None, progress: bool = True,
                       budget_bytes: int = budget.DEFAULT_BUDGET_BYTES, slabs: int | dict | None = None,
                       fingerprint: str | None = None, temp_dtype=None) -> dict:
  """Writes the reconstruction of `src` (Z sections, Y, X) into `sink` (round(Z*s), Y, X) in the sink's dtype.

  Args:
    src: the sections, a `VolumeSource` or an array (lazy `src[z, y, x]` boxes).
    sink: a `VolumeSink` (resumable when made with `resume_dir`) or an array of the output shape; not committed.
    factor: anisotropy s (sections -> round(Z*s) fine slices, output slice j = fine slice j).
    apply_fn: the model, [B, th, tw] float32 in [0, 1] -> [B, th, tw] (B a multiple of the device count).
    intensity: an `io.Intensity`, source values <-> [0, 1] <-> the sink's dtype.
    tile, overlap, margin, batch_size, multiple: the tiling (`tiles.predict_planes`).
    fuse: "mean", "geometric", or "xz" / "yz" (that orientation only).
    orientations: the planes to predict ("xz": y = const, "yz": x = const).
    method: the Z resampling before the model ("cubic" or "linear").
    work_dir: where the temporary store and the manifest live; default the sink's `resume_dir`, else a hidden
      temporary folder beside the output (removed at the end).
    progress: show a progress bar per pass.
    budget_bytes: host memory for a slab (`budget.plan_slab`); `slabs` (int, or {"xz": n, "yz": n}) overrides.
    fingerprint: identifies the model (`resume.fingerprint(params, config)`); without it nothing is resumed.
    temp_dtype: of the temporary store; default float16 for uint8 outputs, else float32.

  Returns:
    A summary: orientations, slab sizes, slabs run and skipped per pass, seconds, output voxels per second.
  """
  used = used_orientations(fuse, orientations)
  if method not in METHODS:
    raise UserError(f"unknown resampling method={method!r}; choose one of {', '.join(METHODS)}")
  n_z, n_y, n_x = (int(n) for n in src.shape)
  n_out = grid.fine_count(n_z, factor)
  if tuple(sink.shape) != (n_out, n_y, n_x):
    raise ValueError(f"sink shape {tuple(sink.shape)} != {(n_out, n_y, n_x)}")
  start_time = time.perf_counter()
  tiling = dict(tile=tile, overlap=overlap, margin=margin, multiple=multiple)
  plane_shapes = {"xz": (n_out, n_x), "yz": (n_out, n_y)}
  counts = {"xz": n_y, "yz": n_x}
  sizes = _slab_sizes(slabs, used, counts, n_z, plane_shapes, tiling, batch_size, budget_bytes,
                      np.dtype(src.dtype).itemsize)
  passes = ("yz", "xz") if len(used) == 2 else used            # the first of two fills the store
  store = None
  if len(passes) == 2:
    cx = min(budget.CHUNK, n_x) if sizes["yz"] >= budget.CHUNK else sizes["yz"]   # X slabs write whole chunks
    store = StoreSpec((n_out, n_y, n_x), scratch.scratch_dtype(sink.dtype, temp_dtype),
                      (min(budget.CHUNK, n_out), min(budget.CHUNK, n_y), cx))
  key = {"factor": factor, "method": method, "fuse": fuse, "orientations": list(used), **tiling,
         "intensity": [intensity.lo, intensity.hi, np.dtype(intensity.dtype).name],
         "temp_dtype": None if store is None else store.dtype.name, "slabs": sizes,
         "shape": [n_z, n_y, n_x], "output": [n_out, n_y, n_x, np.dtype(sink.dtype).name]}
  run = {o: 0 for o in passes}
  with WorkFolder(src, sink, work_dir, key, passes, fingerprint=fingerprint, store=store) as work:
    total = sum(len(slab_bounds(counts[o], sizes[o])) for o in passes)
    skipped = {o: len(work.done[o]) for o in passes}
    if sum(skipped.values()):
      resume.note(f"resuming {work.name}: {sum(skipped.values())} of {total} slabs were finished before")
    for o in passes:
      batch = device_batch(batch_size, plan_tiles(plane_shapes[o], **tiling).per_plane * sizes[o])
      predict = _Planes(o, src, factor=factor, method=method, intensity=intensity, apply_fn=apply_fn,
                        tiling=tiling, batch=batch)
      final = o == passes[-1]
      todo = [b for b in slab_bounds(counts[o], sizes[o]) if b[0] not in work.done[o]]
      label = f"{o} planes" + (f" + {fuse}" if final and store is not None else "")
      for s0, s1 in (bars.track(todo, label) if progress else todo):
        pred = predict(s0, s1)
        if not final:
          _put(work.store, o, s0, s1, pred.astype(store.dtype))
        else:
          if store is not None:                                     # fuse with the first pass's rows
            pred = fuse_predictions(pred, np.asarray(work.store[:, s0:s1, :].read().result(), np.float32), fuse)
          _put(sink, o, s0, s1, intensity.from_unit(pred))
          if hasattr(sink, "flush"):
            sink.flush()
        work.mark(o, s0)
        run[o] += 1
  seconds = time.perf_counter() - start_time
  return {"orientations": list(used), "fuse": fuse, "slabs": sizes, "slabs_run": run, "slabs_skipped": skipped,
          "seconds": round(seconds, 3), "voxels_per_s": round(n_out * n_y * n_x / max(seconds, 1e-9), 1)}
