"""Host input pipeline: grain streams of clean crops of the user's volumes, in their native dtype.

Training pairs are made on the device from these crops (`jax_iso.degrade.pairs`); the host only crops.
- `crop_dataset(volumes, kind=..., size=..., batch_size=..., seed=..., split=..., holdout=..., augment=...,
  shard=...)`: an infinite `grain.IterDataset` of np.ndarray batches [batch_size, *size]; its iterator's
  `get_state()` / `set_state()` resume exactly (also through orbax with `grain.checkpoint.CheckpointSave`).
- `eval_crops(volumes, kind=..., size=..., count=..., seed=..., holdout=...)`: a fixed [count, *size] array.
- kinds: "lateral" [h, w] XY planes; "axial" [h, w] XZ or YZ planes (h along Z); "clip" [d, h, w] stacks of d
  consecutive XY sections.
- `crop_index(...)` / `CropSampler`: which volume, region and orientation crop i is (`Crop`).
- `holdout`: the last fraction of Z sections is for evaluation only (rules per kind in `holdout.py`);
  `orient`: the orientation augmentation, which never moves Z.
"""
from __future__ import annotations

from jax_iso.data.crops import Crop, CropSampler, crop_index
from jax_iso.data.dataset import crop_dataset, eval_crops
from jax_iso.data.holdout import held_out

__all__ = ["Crop", "CropSampler", "crop_dataset", "crop_index", "eval_crops", "held_out"]
