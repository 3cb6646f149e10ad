"""Two registered volumes read as one, for training on real pairs (EMDiffuse's noisy/clean acquisitions).

    pair = PairedVolume(noisy_src, clean_src)            # same (Z, Y, X) shape and dtype
    pair[z, y0:y1, x0:x1]  -> [2, h, w]: the noisy region, then the clean one

Every crop kind cuts a PairedVolume like any volume (`CropSampler` reads regions with basic indexing and orients
them on the last two axes), so a crop of it is the aligned pair [2, *size]; the "registered" pair maker splits it
on the device (`degrade.pairs.registered_pair`).
"""
from __future__ import annotations

import os

import numpy as np

from jax_iso.errors import UserError


class PairedVolume:
  """`first` and `second` (array-likes of one shape and dtype) as one volume whose regions are [2, ...]. With
  `dtype`, the two may differ in dtype (values in the same units: an upsampled view of a volume beside another
  of the first's dtype) and regions come in `dtype`."""

  def __init__(self, first, second, names: tuple[str, str] = ("first", "second"), dtype=None):
    shapes = tuple(tuple(int(s) for s in v.shape) for v in (first, second))
    label = [f"{n} ({os.path.basename(os.fspath(v.path))})" if getattr(v, "path", None) else n
             for n, v in zip(names, (first, second))]
    if shapes[0] != shapes[1]:
      raise UserError(f"{label[0]} has shape {shapes[0]} but {label[1]} has {shapes[1]}; registered pairs must "
                      "cover the same voxels: crop or register them to one shape")
    if dtype is None and np.dtype(first.dtype) != np.dtype(second.dtype):
      raise UserError(f"{label[0]} is {np.dtype(first.dtype)} but {label[1]} is {np.dtype(second.dtype)}; convert "
                      "them to one dtype so that intensities are scaled alike")
    self.first, self.second = first, second
    self.shape, self.dtype = shapes[0], np.dtype(first.dtype if dtype is None else dtype)
    self.path = " + ".join(str(getattr(v, "path", n)) for n, v in zip(names, (first, second)))

  def __getitem__(self, key) -> np.ndarray:
    return np.stack([np.asarray(self.first[key]), np.asarray(self.second[key])]).astype(self.dtype, copy=False)

  def close(self) -> None:
    for v in (self.first, self.second):
      if hasattr(v, "close"):
        v.close()
