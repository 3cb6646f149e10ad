"""What a format reader hands to `VolumeSource`: a lazily read N-D array plus its metadata."""
from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from jax_iso.io.spacing import Spacing


class ClosedError(ValueError):
  """A read from a `StoredArray` after `close()`: a bug in the caller, not damaged data."""


class StoredArray(Protocol):
  """An N-D array on disk; `read` takes one int or forward slice per axis."""

  def read(self, key: tuple, *, once: bool = False) -> np.ndarray:
    """Returns a new array; `once=True` hints that this is the only read (no caching needed). Raises ClosedError
    after `close()`; what the backend raises for unreadable data passes through."""

  def close(self) -> None:
    """Releases files and caches."""


@dataclasses.dataclass
class Stored:
  """A stored array with the metadata found beside it."""
  array: StoredArray
  shape: tuple[int, ...]
  dtype: np.dtype
  axes: str | None                      # tifffile-style letters per axis ('?' unknown), or None
  spacing: Spacing | None = None        # (z, y, x) nm
  spacing_origin: str | None = None
  lateral_spacing: tuple[float, float] | None = None  # (y, x) nm, when only that is known
