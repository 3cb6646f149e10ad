"""Atomic, streamed volume writers: build in a hidden temp beside the target, swap in only on commit.

A killed process leaves at most a hidden `.NAME.partial-PID-XXXXXX` beside the target, never a half-written NAME.

Resumable writers (`resume_dir`, e.g. `work_path(NAME)` = `.NAME.work` beside the target) keep their temp at a
fixed place inside that folder, together with a header (`sink.json`: format, shape, dtype, spacing,
description). Created again with the same header, the writer reopens the temp with what was written before;
an exception or a kill leaves the folder for that (`suspend`); `commit` and `abort` remove the whole folder. An
exclusive lock on `resume_dir/lock` keeps two processes from writing the same output.
"""
from __future__ import annotations

import abc
import json
import os
import secrets
import shutil

import numpy as np

from jax_iso.errors import UserError
from jax_iso.io import indexing
from jax_iso.io.spacing import Spacing

try:
  import fcntl
except ImportError:  # Windows: no advisory locks
  fcntl = None  # type: ignore[assignment]

HEADER = "sink.json"
LOCK = "lock"

WRITE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def temp_path(path: str, tag: str = "partial") -> str:
  """A hidden sibling of `path`: .NAME.TAG-PID-RANDOM."""
  folder, name = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{name}.{tag}-{os.getpid()}-{secrets.token_hex(3)}")


def work_path(path) -> str:
  """The deterministic hidden work folder of an output: .NAME.work beside it."""
  folder, name = os.path.split(os.path.abspath(os.fspath(path).rstrip("/" + os.sep)))
  return os.path.join(folder, f".{name}.work")


def write_json_atomic(path: str, obj) -> None:
  """Writes JSON to `path` through a temp file and a rename, so readers never see half a file."""
  temp = f"{path}.tmp-{os.getpid()}"
  with open(temp, "w", encoding="utf-8") as f:
    json.dump(obj, f, indent=1, default=str)
  os.replace(temp, path)


def read_json(path: str):
  """The JSON in `path`, or None when it is missing or unreadable."""
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def lock_folder(folder: str, what: str, name: str = LOCK):
  """Opens and exclusively locks `folder/name` (released on close or when the process dies); UserError if held."""
  fd = os.open(os.path.join(folder, name), os.O_RDWR | os.O_CREAT, 0o644)
  if fcntl is not None:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
      os.close(fd)
      raise UserError(f"another process is writing {what} (its work folder {folder} is locked); wait for it to "
                      "finish or stop it, then run again") from err
  return fd


def remove(path: str) -> None:
  """Removes a file, link or directory tree if it exists."""
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.remove(path)


def swap_in(temp: str, path: str) -> None:
  """Moves `temp` to `path` atomically; an existing `path` (file or directory) is replaced only now."""
  if os.path.isdir(temp) and os.path.lexists(path):
    aside = temp_path(path, "old")
    os.rename(path, aside)
    try:
      os.rename(temp, path)
    except BaseException:
      os.rename(aside, path)
      raise
    remove(aside)
  else:
    os.replace(temp, path)
  _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _fsync_dir(folder: str) -> None:
  try:
    fd = os.open(folder, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(fd)
  except OSError:
    pass
  finally:
    os.close(fd)


class VolumeSink(abc.ABC):
  """Base of the writers: `sink[z0:z1, y0:y1, x0:x1] = block`, then `commit()` (or `abort()`).

  Used as a context manager it commits on normal exit and aborts (removing the temp) on an exception.
  """

  def __init__(self, path: str, shape, dtype, spacing: Spacing | None, description: dict | None,
               resume_dir: str | None = None):
    self.path = os.fspath(path)
    self.shape: tuple[int, int, int] = tuple(int(n) for n in shape)  # type: ignore[assignment]
    self.dtype = np.dtype(dtype)
    self.spacing = None if spacing is None else tuple(float(s) for s in spacing)
    self.description = description
    self.resume_dir = None if resume_dir is None else os.path.abspath(os.fspath(resume_dir))
    self.resumed = False  # True when an earlier run's temp was reopened (resumable writers only)
    self._lock_fd: int | None = None
    if self.resume_dir is None:
      self.temp = temp_path(self.path)
    else:
      self.temp = os.path.join(self.resume_dir, "partial-" + os.path.basename(os.path.abspath(self.path)))
    self.state = "open"  # -> "committed" | "aborted" | "suspended"
    if len(self.shape) != 3 or min(self.shape) < 1:
      raise ValueError(f"output shape must be 3 positive sizes (Z, Y, X), got {shape}")
    if self.dtype not in WRITE_DTYPES:
      raise ValueError(f"jax_iso writes uint8, uint16 or float32 volumes, not {self.dtype}")
    if self.spacing is not None and (len(self.spacing) != 3 or min(self.spacing) <= 0):
      raise ValueError(f"spacing must be 3 positive numbers (z, y, x) in nm, got {spacing}")
    if self.resume_dir is not None:
      os.makedirs(self.resume_dir, exist_ok=True)
      self._lock_fd = lock_folder(self.resume_dir, self.path, self._lock_name())

  def _lock_name(self) -> str:
    """The lock file in `resume_dir` this writer holds (one writer per output)."""
    return LOCK

  def _open_temp(self) -> None:
    """Creates the temp, or, for a resumable writer whose header matches, reopens the one left before."""
    if self.resume_dir is not None:
      header = json.loads(json.dumps(self._header(), default=str))
      header_path = os.path.join(self.resume_dir, HEADER)
      if os.path.exists(self.temp) and read_json(header_path) == header:
        try:
          self._reopen()
          self.resumed = True
          return
        except Exception:  # pylint: disable=broad-except  # damaged temp: start it again
          self._close()
      remove(header_path)
      remove(self.temp)
      self._create()
      write_json_atomic(header_path, header)
    else:
      self._create()

  def _header(self) -> dict:
    return {"format": type(self).__name__, "shape": list(self.shape), "dtype": self.dtype.name,
            "spacing": self.spacing, "description": self.description}

  ndim = 3

  def __setitem__(self, key, block) -> None:
    if self.state != "open":
      raise ValueError(f"the writer of {self.path} is already {self.state}")
    block = np.asarray(block)
    if block.dtype.kind in "iu" and self.dtype.kind in "iu":
      info = np.iinfo(self.dtype)
      if block.size and (block.min() < info.min or block.max() > info.max):
        raise ValueError(f"values {block.min()}..{block.max()} do not fit in {self.dtype}")
    elif not np.can_cast(block.dtype, self.dtype, casting="same_kind"):
      raise TypeError(f"cannot write {block.dtype} values into a {self.dtype} volume; convert them first "
                      "(e.g. Intensity.from_unit)")
    index = indexing.normalize(key, self.shape)
    self._write(index, indexing.to_forward(block.astype(self.dtype, copy=False), index))

  @abc.abstractmethod
  def _create(self) -> None:
    """Creates a new, empty temp."""

  @abc.abstractmethod
  def _reopen(self) -> None:
    """Opens an existing temp for writing; raises when it does not hold a volume of this shape and dtype."""

  @abc.abstractmethod
  def _write(self, index: list[indexing.AxisIndex], block: np.ndarray) -> None:
    """Writes `block` (already in forward order and in `dtype`) at `index` into the temp."""

  @abc.abstractmethod
  def _finish(self) -> None:
    """Flushes and closes the temp; raises on failure (the temp is then removed)."""

  def _close(self) -> None:
    """Releases open handles without committing."""

  def flush(self) -> None:
    """Makes what was written so far durable in the temp (a resumable run calls it before recording progress)."""

  def commit(self) -> None:
    """Completes the temp and moves it to `path`; on failure nothing is left behind."""
    if self.state == "committed":
      return
    if self.state != "open":
      raise ValueError(f"the writer of {self.path} is {self.state}; it cannot be committed")
    try:
      self._finish()
      swap_in(self.temp, self.path)
    except BaseException:
      self.abort()
      raise
    self.state = "committed"
    self._drop_resume_dir()

  def abort(self) -> None:
    """Drops everything written (the resume folder too); an existing output stays as it was."""
    if self.state == "committed":
      return
    self.state = "aborted"
    try:
      self._close()
    finally:
      remove(self.temp)
      self._drop_resume_dir()

  def suspend(self) -> None:
    """Closes a resumable writer but keeps its temp, so the same call later continues from it."""
    if self.resume_dir is None:
      self.abort()
      return
    if self.state != "open":
      return
    self.state = "suspended"
    try:
      self._close()
    finally:
      self._unlock()

  def _unlock(self) -> None:
    fd, self._lock_fd = self._lock_fd, None
    if fd is not None:
      os.close(fd)

  def _drop_resume_dir(self) -> None:
    self._unlock()
    if self.resume_dir is not None:
      remove(self.resume_dir)

  def __enter__(self) -> VolumeSink:
    return self

  def __exit__(self, exc_type, exc, tb) -> bool:
    if exc_type is None:
      self.commit()
    elif isinstance(exc, UserError):
      self.abort()    # bad or damaged input: the rerun that fixes it starts over, nothing to keep
    else:
      self.suspend()  # abort() for writers that cannot resume
    return False

  def __del__(self):
    if getattr(self, "state", None) == "open":
      try:
        self.suspend()
      except Exception:  # pylint: disable=broad-except
        pass
