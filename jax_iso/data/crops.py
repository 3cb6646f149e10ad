"""Where crop i comes from: a pure function of (seed, split, i), and reading just that region.

`CropSampler(volumes, kind=..., size=..., seed=..., split=..., holdout=..., augment=...)`:
`sampler.crop(i)` says which volume, region and orientation crop i is (a `Crop`); `sampler.read(crop)` reads
the region (basic slicing only, so lazy sources read only the crop) and orients it; `sampler(i)` does both.

Crop i draws from `np.random.default_rng([seed, split_id, i])`: first its orientation (uniform over
`orient.count(kind, augment)`), then one position uniformly among all valid positions of all volumes for that
orientation, so volumes are used in proportion to their number of valid crop positions. With `weights` (one per
volume: a mixture of sources, e.g. for pretraining on several volumes) the volume is drawn first with those
probabilities, then a position uniformly within it. Axial crops are XZ or
YZ planes, also chosen in proportion to their valid positions (equally for Y = X). Which Z sections each split
may use is `jax_iso.data.holdout`.
"""
from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence

import numpy as np

from jax_iso.data import checks, orient
from jax_iso.data import holdout as holdout_lib
from jax_iso.errors import UserError

SPLIT_IDS = {"train": 0, "eval": 1}


@dataclasses.dataclass(frozen=True)
class Crop:
  """Where a crop comes from: `orient.apply(kind, volumes[volume][key], orientation)` is the crop."""
  volume: int        # index into the list of volumes
  plane: str         # "xy" (lateral crops and clips), "xz" or "yz" (axial crops)
  key: tuple         # numpy basic index of the region read, e.g. (z, slice(y, y + h), slice(x, x + w))
  orientation: int   # see jax_iso.data.orient


@dataclasses.dataclass(frozen=True)
class _Group:
  """All positions of one read shape in one plane of one volume: nz * ny * nx of them."""
  volume: int
  plane: str
  z0: int                          # first valid Z start
  counts: tuple[int, int, int]     # (nz, ny, nx) valid starts
  extent: tuple[int, int, int]     # (z, y, x) size of the region read; 0 marks an axis indexed by an int

  def key(self, local: int) -> tuple:
    nz, ny, nx = self.counts
    zi, rest = divmod(local, ny * nx)
    yi, xi = divmod(rest, nx)
    return tuple(start if size == 0 else slice(start, start + size)
                 for start, size in zip((self.z0 + zi, yi, xi), self.extent))


class _Table:
  """Groups with cumulative position counts, to map a uniform flat index to a group and a position."""

  def __init__(self, groups: list[_Group]):
    self.groups = [g for g in groups if min(g.counts) > 0]
    self.starts, total = [], 0
    for g in self.groups:
      self.starts.append(total)
      total += g.counts[0] * g.counts[1] * g.counts[2]
    self.total = total

  def locate(self, flat: int) -> tuple[_Group, int]:
    g = bisect.bisect_right(self.starts, flat) - 1
    return self.groups[g], flat - self.starts[g]


def _lateral_groups(v: int, name: str, shape: tuple[int, int, int], kind: str, size: tuple[int, ...],
                    z_range: tuple[int, int], turned: bool) -> _Group:
  """The positions of the crop's (h, w) region in the XY planes of volume v (turned: read as (w, h))."""
  _, height, width = shape
  h, w = size[-2:]
  rh, rw = (w, h) if turned else (h, w)
  if turned and (rh > height or rw > width):
    side = min(height, width, max(h, w))
    raise UserError(f"with augmentation a non-square crop {size} is also read turned by 90 degrees, so both "
                    f"{h} and {w} must fit in Y={height} and X={width} of {name}; use a square crop "
                    f"(data.crop={side}) or turn augmentation off (augment=False)")
  if rh > height or rw > width:
    axis, have, want = ("Y", height, rh) if rh > height else ("X", width, rw)
    raise UserError(f"{kind} crops {size} need {want} pixels along {axis} but {name} has {axis}={have}; set "
                    f"{checks.crop_fix(kind, size, (*size[:-2], min(rh, height), min(rw, width)))}")
  z0, z1 = z_range
  depth = size[0] if kind == "clip" else 0
  return _Group(v, "xy", z0, (z1 - z0 + 1, height - rh + 1, width - rw + 1), (depth, rh, rw))


def _axial_groups(v: int, name: str, shape: tuple[int, int, int], size: tuple[int, ...],
                  z_range: tuple[int, int]) -> list[_Group]:
  """The positions of an (h, w) region (h along Z) in the XZ and the YZ planes of volume v."""
  _, height, width = shape
  h, w = size
  if w > max(height, width):
    raise UserError(f"axial crops {size} are {w} pixels wide but {name} has Y={height} and X={width}; set "
                    f"{checks.crop_fix('axial', size, (h, max(height, width)))}")
  z0, z1 = z_range
  nz = z1 - z0 + 1
  return [_Group(v, "xz", z0, (nz, height, width - w + 1), (h, 0, w)),
          _Group(v, "yz", z0, (nz, height - w + 1, width), (h, w, 0))]


class CropSampler:
  """Crop i of the stream (seed, split) of `kind` crops of `size` from `volumes`; see the module docstring."""

  def __init__(self, volumes, *, kind: str, size: Sequence[int], seed: int = 0, split: str = "train",
               holdout: float = 0.1, augment: bool = True, weights: Sequence[float] | None = None):
    self.volumes = checks.check_volumes(volumes)
    self.weights = checks.check_weights(weights, len(self.volumes))
    self.kind = checks.check_kind(kind)
    self.size = checks.check_size(kind, size)
    self.seed = checks.check_seed(seed)
    self.split = checks.check_split(split)
    self.holdout = checks.check_holdout(holdout)
    self.augment = bool(augment)
    self.dtype = np.dtype(self.volumes[0].dtype)
    self.orientations = orient.count(kind, self.augment)
    depth = {"lateral": 1, "clip": self.size[0], "axial": self.size[0]}[kind]
    turns = (False, True) if self.orientations > 1 and kind != "axial" else (False,)
    groups: dict[bool, list[_Group]] = {t: [] for t in turns}
    for v, vol in enumerate(self.volumes):
      shape = tuple(int(s) for s in vol.shape)
      name = checks.volume_name(v, vol)
      z_range = holdout_lib.z_starts(shape[0], depth, self.holdout, self.split, volume=name, kind=kind,
                                     size=self.size)
      for t in turns:
        if kind == "axial":
          groups[t].extend(_axial_groups(v, name, shape, self.size, z_range))
        else:
          groups[t].append(_lateral_groups(v, name, shape, kind, self.size, z_range, t))
    self._tables = {t: _Table(g) for t, g in groups.items()}
    self._per_volume = None if self.weights is None else {
        t: [_Table([x for x in g if x.volume == v]) for v in range(len(self.volumes))] for t, g in groups.items()}

  def crop(self, i: int) -> Crop:
    """Which volume, region and orientation crop i is; a pure function of (seed, split, i)."""
    if i < 0:
      raise ValueError(f"crop index {i} must be >= 0")
    rng = np.random.default_rng([self.seed, SPLIT_IDS[self.split], int(i)])
    orientation = int(rng.integers(self.orientations))
    turned = orient.transposed(self.kind, orientation)
    if self.weights is None:
      table = self._tables[turned]
    else:
      table = self._per_volume[turned][int(rng.choice(len(self.volumes), p=self.weights))]
    group, local = table.locate(int(rng.integers(table.total)))
    return Crop(group.volume, group.plane, group.key(local), orientation)

  def read(self, crop: Crop) -> np.ndarray:
    """The crop [*size] in the volumes' dtype: only its region is read."""
    region = np.asarray(self.volumes[crop.volume][crop.key])
    return np.ascontiguousarray(orient.apply(self.kind, region, crop.orientation), dtype=self.dtype)

  def __call__(self, i: int) -> np.ndarray:
    return self.read(self.crop(i))


def crop_index(volumes, i: int, *, kind: str, size: Sequence[int], seed: int = 0, split: str = "train",
               holdout: float = 0.1, augment: bool = True, weights: Sequence[float] | None = None) -> Crop:
  """Where crop i of `crop_dataset(volumes, ...)`'s unsharded stream comes from (batch b of shard (p, n) holds
  crops (b * n + p) * batch_size ... + batch_size - 1: block p of the unsharded stream's batch b)."""
  return CropSampler(volumes, kind=kind, size=size, seed=seed, split=split, holdout=holdout,
                     augment=augment, weights=weights).crop(i)
