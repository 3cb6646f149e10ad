"""Atomic, streamed volume writers: build in a hidden temp beside the target, swap in only on commit.

A killed process leaves at most a hidden `.NAME.partial-PID-XXXXXX` beside the target, never a half-written NAME.
"""
from __future__ import annotations

import abc
import os
import secrets
import shutil

import numpy as np

from jax_iso.io import indexing
from jax_iso.io.spacing import Spacing

WRITE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def temp_path(path: str, tag: str = "partial") -> str:
  """A hidden sibling of `path`: .NAME.TAG-PID-RANDOM."""
  folder, name = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{name}.{tag}-{os.getpid()}-{secrets.token_hex(3)}")


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

  def __init__(self, path: str, shape, dtype, spacing: Spacing | None, description: dict | None):
    self.path = os.fspath(path)
    self.shape: tuple[int, int, int] = tuple(int(n) for n in shape)  # type: ignore[assignment]
    self.dtype = np.dtype(dtype)
    self.spacing = None if spacing is None else tuple(float(s) for s in spacing)
    self.description = description
    self.temp = temp_path(self.path)
    self.state = "open"  # -> "committed" | "aborted"
    if len(self.shape) != 3 or min(self.shape) < 1:
      raise ValueError(f"output shape must be 3 positive sizes (Z, Y, X), got {shape}")
    if self.dtype not in WRITE_DTYPES:
      raise ValueError(f"jax_iso writes uint8, uint16 or float32 volumes, not {self.dtype}")
    if self.spacing is not None and (len(self.spacing) != 3 or min(self.spacing) <= 0):
      raise ValueError(f"spacing must be 3 positive numbers (z, y, x) in nm, got {spacing}")

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
  def _write(self, index: list[indexing.AxisIndex], block: np.ndarray) -> None:
    """Writes `block` (already in forward order and in `dtype`) at `index` into the temp."""

  @abc.abstractmethod
  def _finish(self) -> None:
    """Flushes and closes the temp; raises on failure (the temp is then removed)."""

  def _close(self) -> None:
    """Releases open handles without committing."""

  def commit(self) -> None:
    """Completes the temp and moves it to `path`; on failure nothing is left behind."""
    if self.state == "committed":
      return
    if self.state != "open":
      raise ValueError(f"the writer of {self.path} was aborted; it cannot be committed")
    try:
      self._finish()
      swap_in(self.temp, self.path)
    except BaseException:
      self.abort()
      raise
    self.state = "committed"

  def abort(self) -> None:
    """Drops everything written; an existing output stays as it was."""
    if self.state == "committed":
      return
    self.state = "aborted"
    try:
      self._close()
    finally:
      remove(self.temp)

  def __enter__(self) -> VolumeSink:
    return self

  def __exit__(self, exc_type, exc, tb) -> bool:
    if exc_type is None:
      self.commit()
    else:
      self.abort()
    return False

  def __del__(self):
    if getattr(self, "state", None) == "open":
      try:
        self.abort()
      except Exception:  # pylint: disable=broad-except
        pass
