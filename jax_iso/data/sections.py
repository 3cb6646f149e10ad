"""Runs of a volume's sections read as volumes of their own: training that must not touch some sections.

    runs = clean_runs(src, exclude=[12, 57], min_len=4)   # [SectionRun(src, 0, 12), SectionRun(src, 13, 57), ...]
    runs[1][0, 10:20, 10:20]                              # = src[13, 10:20, 10:20]

`data.exclude` (`train/inputs.py`) trains on the runs between excluded sections (the damaged ones, for ssTEM
restoration), so no crop spans an excluded section and no pair is made across the gap it leaves. Runs shorter
than `min_len` are dropped.
"""
from __future__ import annotations

import numpy as np

from jax_iso.errors import UserError


class SectionRun:
  """Sections [start, stop) of `src` as a volume (basic indexing; Z indices are shifted by `start`)."""

  def __init__(self, src, start: int, stop: int, *, owner: bool = False):
    n = int(src.shape[0])
    if not 0 <= start < stop <= n:
      raise ValueError(f"section run [{start}, {stop}) must lie inside the {n} sections")
    self.src, self.start, self.stop, self.owner = src, int(start), int(stop), owner
    self.shape = (self.stop - self.start,) + tuple(int(s) for s in src.shape[1:])
    self.dtype = np.dtype(src.dtype)
    path = getattr(src, "path", None)
    self.path = f"{path} sections {self.start}-{self.stop - 1}" if path else None

  def _z(self, z):
    if isinstance(z, slice):
      lo, hi, step = z.indices(self.shape[0])
      return slice(self.start + lo, self.start + hi, step)
    z = int(z)
    if not -self.shape[0] <= z < self.shape[0]:
      raise IndexError(f"section {z} is outside the run of {self.shape[0]}")
    return self.start + (z % self.shape[0])

  def __getitem__(self, key):
    key = key if isinstance(key, tuple) else (key,)
    if not key or key[0] is Ellipsis:
      raise IndexError("index a section run with its Z index first")
    return self.src[(self._z(key[0]),) + tuple(key[1:])]

  def close(self) -> None:
    if self.owner and hasattr(self.src, "close"):
      self.src.close()


def parse_sections(spec, n_z: int, *, flag: str) -> list[int]:
  """Sorted distinct section indices from "12,57" (or a sequence of ints), each checked against `n_z`."""
  parts = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else [str(p) for p in spec]
  indices = []
  for part in (p for p in parts if p):
    try:
      k = int(part)
    except ValueError:
      raise UserError(f"{flag}={spec}: {part!r} is not a section index; write indices like {flag}=12,57") from None
    if not 0 <= k < n_z:
      raise UserError(f"{flag}={spec}: section {k} is out of range: the volume has sections 0 to {n_z - 1}")
    indices.append(k)
  return sorted(set(indices))


def clean_runs(src, exclude, min_len: int) -> list[SectionRun]:
  """The runs of consecutive sections of `src` between the `exclude`d ones, each at least `min_len` long; the
  first run closes `src`."""
  n = int(src.shape[0])
  bad = set(exclude)
  runs, start = [], 0
  for z in range(n + 1):
    if z == n or z in bad:
      if z - start >= min_len:
        runs.append(SectionRun(src, start, z, owner=not runs))
      start = z + 1
  return runs
