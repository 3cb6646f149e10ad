"""EMDiffuse-r (Lu et al.): conditional diffusion that super-resolves EM images 2x in X and Y, with uncertainty
from repeated sampling.

The network, schedule, sampler and variants are EMDiffuse-n's (`configs/emdiffuse_n.py`); the condition is the
low-resolution image interpolated (cubic) onto the fine grid. Training pairs: a high-resolution volume whose
images are integrated into 2x larger pixels at random sub-pixel phases and interpolated back
(`degrade.pairs.lateral2d_pair`), or registered low/high-resolution acquisitions (`pairs.kind = "registered"`,
`data.target` the high-resolution volume, `data.scale = 2`).

Command: `jax-iso superres --input=LR --output=OUT --train_hr=HR [--train_lr=LR_TRAIN]`.
Expected (`experiments/bench_emdiffuse.py --parts=superres --other_steps=600`): `cpu`, 600 steps on FlyEM sample2
(4.5 minutes on 2 CPU cores), sample1 at 2x2-pixel means: the mean of 4 samples 32.1 dB against cubic's 34.1 dB
(below cubic at this budget).
Variants: default (the reference's sizes), `cpu`, `tiny` (tests).
"""
from __future__ import annotations

import ml_collections

from configs.emdiffuse_n import VARIANTS, build
from jax_iso.degrade import config as degrade_config

__all__ = ["VARIANTS", "get_config"]


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = build(arg, method="emdiffuse_r", pairs=degrade_config.lateral2d_pair(2), scale=2)
  config.lock()
  return config
