"""Whole-volume reconstruction with a 2D model (the engine of the "planes" strategy, `planes.py`): XZ and YZ planes
through the model, fused, streamed, resumable.

    reconstruct_planes(src, sink, apply_fn, Tiling(tile=256, overlap=32, margin=32, batch_size=8, multiple=4),
                       factor=4.0, intensity=intensity, fuse="mean", resume=Resume(fingerprint=...))

The sections are resampled onto the fine grid (cubic by default), every XZ plane (y = const, plane [Zf, X]) and
every YZ plane (x = const, plane [Zf, Y]) goes through the model in tiles (`tiles.predict_planes`), and the two
predictions are fused voxel-wise. Memory stays bounded (`budget.plan_slab`) in two passes:

  1. `store_pass`: YZ planes in X slabs -> a temporary zarr store of floats in the work folder (`scratch`);
  2. `output_pass`: XZ planes in Y slabs, fused with the same rows read back from the store -> the output, in Y
     slabs (whole contiguous runs of a TIFF page, whole chunks of an OME-Zarr).
With one orientation (`fuse="xz"` or `"yz"`) the output pass alone runs, with nothing to fuse.

Split across processes (`rows`, from `io.Part.rows`): this process writes output rows y0..y1 only: the XZ
planes of those rows, and of every YZ plane the tiles that meet those rows (`tiles.predict_planes(cols=...)`:
tiled as the whole plane is, so the rows equal those of one process, bit for bit).

Resuming: with a resumable output (`io.create_volume(..., resume_dir=True)`: `.NAME.work` beside it) or an
explicit `work_dir`, and a `fingerprint` of the model, every finished slab is recorded in `manifest.json` beside the
store (`resume.Manifest`). Run again with the same input, output, model and parameters, the reconstruction
continues at the first unfinished slab; anything different starts over (and says so on stderr).
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tensorstore as ts

from jax_iso import progress as bars
from jax_iso.degrade import grid
from jax_iso.degrade.resample import METHODS
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.errors import UserError
from jax_iso.infer import budget, scratch
from jax_iso.infer import resume as resume_lib
from jax_iso.infer.tiles import Tiling, device_batch, predict_planes
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
  """Predictions for slabs of one orientation's planes, in volume layout (Zf, S, X) or (Zf, R, S), where R are
  the output rows `rows` (XZ planes are numbered from the first of them)."""

  def __init__(self, orient: str, src, *, factor: float, method: str, intensity, apply_fn: Callable,
               tiling: Tiling, batch: int, rows: tuple[int, int]):
    self.orient, self.src, self.apply_fn, self.tiling, self.batch = orient, src, apply_fn, tiling, batch
    self.rows = rows
    perm = _TO_PLANES[orient]
    self._prepare = jax.jit(
        lambda block: jnp.transpose(resample_z(intensity.to_unit(block), factor, method, axis=0), perm))

  def __call__(self, start: int, stop: int) -> np.ndarray:
    key = [slice(None)] * 3
    offset = self.rows[0] if self.orient == "xz" else 0
    key[_AXIS[self.orient]] = slice(start + offset, stop + offset)
    planes = np.asarray(self._prepare(np.asarray(self.src[tuple(key)])))      # [S, Zf, L] float32
    cols = self.rows if self.orient == "yz" and self.rows != (0, self.src.shape[1]) else None  # [Zf, Y] planes
    out = predict_planes(self.apply_fn, planes, batch_size=self.batch, exact_batch=True, cols=cols,
                         **self.tiling.geometry)
    return out.transpose(_FROM_PLANES[self.orient])


def _put(target, orient: str, start: int, stop: int, block: np.ndarray, rows: slice = slice(None)) -> None:
  key = [slice(None), rows, slice(None)]
  key[_AXIS[orient]] = slice(start, stop)
  if isinstance(target, ts.TensorStore):
    target[tuple(key)].write(block).result()
  else:
    target[tuple(key)] = block


@dataclasses.dataclass(frozen=True)
class Resume:
  """What lets a killed reconstruction continue (`workdir.WorkFolder`)."""
  work_dir: str | None = None      # the temporary store and the manifest; default: the sink's `resume_dir`, else
                                   # a hidden throwaway folder beside the output
  fingerprint: str | None = None   # identifies the model (`resume.fingerprint(params, config)`); None: no resume


@dataclasses.dataclass(frozen=True)
class Memory:
  """Host memory of a reconstruction (`budget.plan_slab`)."""
  budget_bytes: int = budget.DEFAULT_BUDGET_BYTES
  slabs: int | dict | None = None  # planes per slab (int, or {"xz": n, "yz": n}); None: from the budget
  temp_dtype: Any = None           # of the temporary store; None: float16 for uint8 outputs, else float32


@dataclasses.dataclass(frozen=True)
class _Plan:
  """Everything decided before the first slab: orientations, passes, slab sizes, the temporary store."""
  shape: tuple[int, int, int]      # sections (Z, Y, X)
  rows: tuple[int, int]            # the output rows (Y) this process writes
  n_out: int                       # fine slices
  used: tuple[str, ...]            # orientations predicted
  passes: tuple[str, ...]          # one per orientation; of two, the first fills the store
  sizes: dict[str, int]            # planes per slab, per orientation
  store: StoreSpec | None          # the temporary store of the first of two passes

  @property
  def counts(self) -> dict[str, int]:
    return {"xz": self.rows[1] - self.rows[0], "yz": self.shape[2]}

  def plane_shape(self, orient: str) -> tuple[int, int]:
    return (self.n_out, self.shape[2]) if orient == "xz" else (self.n_out, self.shape[1])

  def slabs(self, orient: str) -> list[tuple[int, int]]:
    return slab_bounds(self.counts[orient], self.sizes[orient])


def _plan(src, sink, tiling: Tiling, *, factor: float, fuse: str, orientations, memory: Memory,
          rows: tuple[int, int] | None) -> _Plan:
  used = used_orientations(fuse, orientations)
  n_z, n_y, n_x = (int(n) for n in src.shape)
  n_out = grid.fine_count(n_z, factor)
  if tuple(sink.shape) != (n_out, n_y, n_x):
    raise ValueError(f"sink shape {tuple(sink.shape)} != {(n_out, n_y, n_x)}")
  rows = (0, n_y) if rows is None else (int(rows[0]), int(rows[1]))
  if not 0 <= rows[0] < rows[1] <= n_y:
    raise ValueError(f"rows {rows} must be a non-empty range within the {n_y} rows")
  plan = _Plan((n_z, n_y, n_x), rows, n_out, used, ("yz", "xz") if len(used) == 2 else used, {}, None)
  sizes = {}
  for o in used:
    given = memory.slabs.get(o) if isinstance(memory.slabs, dict) else memory.slabs
    if given is None:
      given = budget.plan_slab(plan.counts[o], n_z, plan.plane_shape(o), batch_size=tiling.batch_size,
                               budget_bytes=memory.budget_bytes, src_itemsize=np.dtype(src.dtype).itemsize,
                               **tiling.geometry)
    sizes[o] = int(min(max(1, given), plan.counts[o]))
  store = None
  if len(plan.passes) == 2:
    cx = min(budget.CHUNK, n_x) if sizes["yz"] >= budget.CHUNK else sizes["yz"]   # X slabs write whole chunks
    n_rows = rows[1] - rows[0]
    store = StoreSpec((n_out, n_rows, n_x), scratch.scratch_dtype(sink.dtype, memory.temp_dtype),
                      (min(budget.CHUNK, n_out), min(budget.CHUNK, n_rows), cx))
  return dataclasses.replace(plan, sizes=sizes, store=store)


def reconstruct_planes(src, sink, apply_fn: Callable, tiling: Tiling, *, factor: float, intensity,
                       fuse: str = "mean", orientations: Sequence[str] = ORIENTATIONS, method: str = "cubic",
                       resume: Resume = Resume(), memory: Memory = Memory(), progress: bool = True,
                       rows: tuple[int, int] | None = None) -> dict:
  """Writes the reconstruction of `src` (Z sections, Y, X) into `sink` (round(Z*s), Y, X) in the sink's dtype.

  Args:
    src: the sections, a `VolumeSource` or an array (lazy `src[z, y, x]` boxes).
    sink: a `VolumeSink` (resumable when made with `resume_dir`) or an array of the output shape; not committed.
    apply_fn: the model, [B, th, tw] float32 in [0, 1] -> [B, th, tw] (B a multiple of the device count).
    tiling: how planes are cut into tiles for the model (`tiles.Tiling`).
    factor: anisotropy s (sections -> round(Z*s) fine slices, output slice j = fine slice j).
    intensity: an `io.Intensity`, source values <-> [0, 1] <-> the sink's dtype.
    fuse: "mean", "geometric", or "xz" / "yz" (that orientation only).
    orientations: the planes to predict ("xz": y = const, "yz": x = const).
    method: the Z resampling before the model ("cubic" or "linear").
    resume: the work folder and the model's fingerprint (`Resume`); by default nothing is resumed unless the
      sink has a `resume_dir` and a fingerprint is given.
    memory: the host-memory budget, slab sizes and temporary store dtype (`Memory`).
    progress: show progress per pass.
    rows: write only these output rows (y0, y1) (one process's part of the output); None: all.

  Returns:
    A summary: orientations, slab sizes, slabs run and skipped per pass, seconds, output voxels per second.
  """
  if method not in METHODS:
    raise UserError(f"unknown resampling method={method!r}; choose one of {', '.join(METHODS)}")
  start_time = time.perf_counter()
  plan = _plan(src, sink, tiling, factor=factor, fuse=fuse, orientations=orientations, memory=memory, rows=rows)
  n_z, n_y, n_x = plan.shape
  key = {"factor": factor, "method": method, "fuse": fuse, "orientations": list(plan.used), **tiling.geometry,
         "intensity": [intensity.lo, intensity.hi, np.dtype(intensity.dtype).name],
         "temp_dtype": None if plan.store is None else plan.store.dtype.name, "slabs": plan.sizes,
         "shape": [n_z, n_y, n_x], "output": [plan.n_out, n_y, n_x, np.dtype(sink.dtype).name],
         "rows": list(plan.rows)}

  def planes(orient: str) -> _Planes:
    batch = device_batch(tiling.batch_size, tiling.plan(plan.plane_shape(orient)).per_plane * plan.sizes[orient])
    return _Planes(orient, src, factor=factor, method=method, intensity=intensity, apply_fn=apply_fn,
                   tiling=tiling, batch=batch, rows=plan.rows)

  with WorkFolder(src, sink, resume.work_dir, key, plan.passes, fingerprint=resume.fingerprint,
                  store=plan.store) as work:
    skipped = {o: len(work.done[o]) for o in plan.passes}
    if sum(skipped.values()):
      total = sum(len(plan.slabs(o)) for o in plan.passes)
      resume_lib.note(f"resuming {work.name}: {sum(skipped.values())} of {total} slabs were finished before")
    run = {}
    if plan.store is not None:
      first, last = plan.passes
      run[first] = store_pass(plan, work, planes(first), progress=progress)
      run[last] = output_pass(plan, work, planes(last), sink, intensity, fuse=fuse, progress=progress)
    else:
      (only,) = plan.passes
      run[only] = output_pass(plan, work, planes(only), sink, intensity, fuse=None, progress=progress)
  seconds = time.perf_counter() - start_time
  n_rows = plan.rows[1] - plan.rows[0]
  return {"orientations": list(plan.used), "fuse": fuse, "slabs": plan.sizes, "slabs_run": run,
          "slabs_skipped": skipped, "seconds": round(seconds, 3), "rows": list(plan.rows),
          "voxels_per_s": round(plan.n_out * n_rows * n_x / max(seconds, 1e-9), 1)}


def _todo(plan: _Plan, work: WorkFolder, orient: str, label: str, progress: bool) -> list[tuple[int, int]]:
  todo = [b for b in plan.slabs(orient) if b[0] not in work.done[orient]]
  return bars.track(todo, label) if progress else todo


def store_pass(plan: _Plan, work: WorkFolder, predict: _Planes, *, progress: bool) -> int:
  """The first of two passes: every plane of one orientation through the model, slab by slab, into the
  temporary store. Returns the number of slabs run."""
  o, run = predict.orient, 0
  for s0, s1 in _todo(plan, work, o, f"{o} planes", progress):
    _put(work.store, o, s0, s1, predict(s0, s1).astype(plan.store.dtype))
    work.mark(o, s0)
    run += 1
  return run


def output_pass(plan: _Plan, work: WorkFolder, predict: _Planes, sink, intensity, *, fuse: str | None,
                progress: bool) -> int:
  """The pass that writes the output: every plane of one orientation through the model, slab by slab, fused
  (`fuse`) with the same voxels of the temporary store when there is one, in the sink's dtype. Returns the
  number of slabs run."""
  o, run = predict.orient, 0
  for s0, s1 in _todo(plan, work, o, f"{o} planes" + (f" + {fuse}" if fuse else ""), progress):
    pred = predict(s0, s1)
    if fuse:
      pred = fuse_predictions(pred, np.asarray(work.store[:, s0:s1, :].read().result(), np.float32), fuse)
    y0, y1 = plan.rows
    if o == "xz":
      _put(sink, o, s0 + y0, s1 + y0, intensity.from_unit(pred))
    else:
      _put(sink, o, s0, s1, intensity.from_unit(pred), rows=slice(y0, y1))
    if hasattr(sink, "flush"):
      sink.flush()
    work.mark(o, s0)
    run += 1
  return run
