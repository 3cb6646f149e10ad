"""The work folder of a plane-wise reconstruction: temporary store, manifest of finished slabs, lock.

Where it lives decides whether a run can be resumed:
  - the output's own resume folder (`sink.resume_dir`, made by `io.create_volume(..., resume_dir=...)`): the
    output's partial temp lives there too; committing the output removes the folder;
  - an explicit `work_dir`: kept while unfinished, emptied at the end (a separate lock guards it);
  - otherwise a hidden throwaway folder beside the output (or in the system temp), made only when the store is
    needed, removed at the end or on error: nothing resumes.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile

import numpy as np

from jax_iso.errors import UserError
from jax_iso.infer import resume, scratch
from jax_iso.io.sink import LOCK, lock_folder, remove

SCRATCH = "predictions-yz.zarr"


@dataclasses.dataclass(frozen=True)
class StoreSpec:
  """The temporary store of the first pass."""
  shape: tuple[int, int, int]
  dtype: np.dtype
  chunks: tuple[int, int, int]


class WorkFolder:
  """`with WorkFolder(...) as work:` -> `work.done[pass]` (finished slab starts), `work.store`, `work.mark`."""

  def __init__(self, src, sink, work_dir: str | None, key: dict, passes: tuple[str, ...], *,
               fingerprint: str | None, store: StoreSpec | None):
    """`key`: what determines the result besides the input (identified here from `src`) and the model."""
    self._src, self._sink, self._key, self._passes = src, sink, key, passes
    self._fingerprint, self._spec = fingerprint, store
    self.name = os.path.basename(getattr(sink, "path", "the output"))
    resume_dir = getattr(sink, "resume_dir", None)
    self.folder = None if work_dir is None else os.path.abspath(os.fspath(work_dir))
    if self.folder is None or self.folder == resume_dir:
      self.kind = "sink" if resume_dir is not None else "temp"
      self.folder = resume_dir
    else:
      self.kind = "given"
    self.resumable = self.kind != "temp"
    self.store = None
    self._lock = None
    self.manifest: resume.Manifest | None = None

  @property
  def done(self) -> dict[str, list[int]]:
    return self.manifest.done

  def __enter__(self) -> WorkFolder:
    if self.kind == "given":
      os.makedirs(self.folder, exist_ok=True)
      self._lock = lock_folder(self.folder, getattr(self._sink, "path", self.folder))
    elif self.kind == "temp" and self._spec is not None:
      self.folder = _throwaway_folder(self._sink)
    try:
      self._open()
    except BaseException:
      self._release(failed=True)
      raise
    return self

  def _open(self) -> None:
    key = {"input": resume.input_identity(self._src) if self.resumable else None,
           "output": os.path.abspath(self._sink.path) if hasattr(self._sink, "path") else None,
           "fingerprint": self._fingerprint, "params": self._key}
    self.manifest = resume.Manifest(self.folder or "", key, self._passes)
    if self.resumable:
      if self._fingerprint is None:
        if os.path.exists(self.manifest.path):
          resume.note(f"starting {self.name} over: no model fingerprint was given, so the work in {self.folder} "
                      "cannot be matched to the model")
      else:
        why = self.manifest.load()
        if why:
          resume.note(f"starting {self.name} over: the work folder {self.folder} {why}")
    if not getattr(self._sink, "resumed", False):
      self.manifest.reset(self._passes[-1])                      # what the output held is gone
    if self._spec is not None:
      path = os.path.join(self.folder, SCRATCH)
      if self.done[self._passes[0]]:
        try:
          self.store = scratch.open_scratch(path, *dataclasses.astuple(self._spec), create=False)
        except Exception:  # pylint: disable=broad-except  # missing or damaged: predict again
          self.manifest.reset(*self._passes)
      if self.store is None:
        self.store = scratch.open_scratch(path, *dataclasses.astuple(self._spec), create=True)
    if self.resumable:
      self.manifest.save()

  def mark(self, name: str, start: int) -> None:
    """Records a finished slab (resumable folders only)."""
    if self.resumable:
      self.manifest.mark(name, start)

  def __exit__(self, exc_type, exc, tb) -> bool:
    if exc is not None and self.resumable and not isinstance(exc, UserError):  # bad input: a rerun changes it
      exc.add_note(f"the finished slabs of {self.name} are kept in {self.folder}: run the same command again to "
                   "continue")
    self._release(failed=exc_type is not None)
    return False

  def _release(self, *, failed: bool) -> None:
    self.store = None
    if self._lock is not None:
      os.close(self._lock)
      self._lock = None
    if self.kind == "temp" and self.folder is not None:
      remove(self.folder)
    elif self.kind == "given" and not failed:
      for name in (SCRATCH, resume.MANIFEST, LOCK):
        remove(os.path.join(self.folder, name))
    # kind "sink": the output's commit (or abort) removes the folder; a failure keeps it for the next run.


def _throwaway_folder(sink) -> str:
  path = getattr(sink, "path", None)
  if path is None:
    return tempfile.mkdtemp(prefix="jax_iso-planes-")
  folder, name = os.path.split(os.path.abspath(os.fspath(path)))
  return tempfile.mkdtemp(prefix=f".{name}.scratch-", dir=folder)
