"""CARE-style 2D U-Net (Weigert et al. 2017) trained self-supervised on the user's own anisotropic volume.

Lateral (xy) crops of the volume are cut into sections along Y at a random phase, given the noise the volume's
real sections carry (`section_noise`), and interpolated back (cubic); the U-Net learns to restore them, then
reconstructs every xz and yz plane of the Z-interpolated volume (fused by the mean).

Train on your volume (spacing from its metadata, or --config.data.spacing / --config.data.factor):
  jax-iso train --config=configs/unet.py --workdir=runs/unet --config.data.path=stack.tif
Fit and reconstruct in one command (the `cpu` variant when JAX runs on the CPU):
  jax-iso reconstruct --input=stack.tif --output=iso.tif --method=unet
The default (32 filters, 5x5) sizes its training batch and inference tiles to the device's memory ("auto":
docs/training.md "Batch size"). Variants: `configs/unet.py:cpu` (16 filters, 3x3, batch 8: ~0.4 s a step on 2 CPU
cores, 1500 steps), `configs/unet.py:tiny` (tests).
Expected (2-core CPU, sample2 at x3 / x4 / x2.5): see docs/results.md.
"""
from __future__ import annotations

import ml_collections

from configs import common


VARIANTS = ("cpu", "tiny")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = "unet"
  config.seed = 0

  config.data = common.data()
  config.pairs = common.axial_pairs()
  config.section_noise = "match"

  config.model = ml_collections.ConfigDict(
      {"name": "unet", "depth": 2, "width": 32, "kernel": 5, "residual": True,
       **common.precision()})
  config.loss = "mae"
  config.optim = common.optim(lr=4e-4, warmup_steps=50)
  config.train = common.train(steps=600, log_every=10, eval_every=100, checkpoint_every=100)
  config.mesh = common.mesh()
  config.infer = ml_collections.ConfigDict(
      {"tile": common.size(), "overlap": 32, "margin": 48, "batch_size": common.size(), "fuse": "mean",
       "method": "cubic"})

  if arg == "cpu":      # sized for a laptop CPU (docs/results.md: experiments/ablation.py chose it at 5 min)
    config.model.width, config.model.kernel = 16, 3
    config.data.batch_size, config.optim.lr = 8, 1e-3
    config.train.update({"steps": 1500, "eval_every": 250, "checkpoint_every": 250})   # ~10 min on 2 cores
    config.infer.update({"tile": 256, "margin": 32, "batch_size": 16})
  elif arg == "tiny":
    config.model.width, config.model.kernel = 8, 3
    config.data.crop, config.data.batch_size, config.data.eval_crops = 32, 4, 4
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2})
    config.infer.update({"tile": 64, "overlap": 8, "margin": 16, "batch_size": 8})
  elif arg:
    raise common.unknown_variant("unet", arg, VARIANTS)
  config.lock()
  return config
