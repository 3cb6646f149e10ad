"""vEMDiffuse-i (Lu et al.): isotropic reconstruction by conditional diffusion, trained on an isotropic volume of
similar tissue (e.g. a FIB-SEM) and applied to the anisotropic one.

As `configs/vemdiffuse_a.py`, but the training stacks come from `--train_iso` (`data.path`), cut into synthetic
sections of the anisotropic input's factor (`data.factor`, set by `reconstruct` from the input); their planes
are isotropic, as the input's XY sections are.

Command: `jax-iso reconstruct --input=ANISO --output=ISO --method=vemdiffuse_i --train_iso=ISO_FIBSEM
[--samples=8] [--steps=10] [--uncertainty=U.tif] [--flags=F.tif]` (`--train_steps` for the training steps).
Expected (`experiments/bench_vemdiffuse.py --variants=i --train_steps=1200`, docs/results.md "vEMDiffuse"): `cpu`, 1200
steps on FlyEM sample1 (9 minutes on 2 CPU cores), applied to sample2 at x4: the mean of 4 samples 29.3 dB on the
central 96^2 columns (cubic 30.7).

Variants: as vEMDiffuse-a's (default, `cpu` with 64 x 64 planes, `tiny`).

One model for every factor (x2-x12, told the factor: `model.factor_input`, `pairs.factors`) is pretrained by
configs/pretrain/vemdiffuse_i.py; once one ships, `--train_iso` is not needed (none ships yet).
"""
from __future__ import annotations

import ml_collections

from configs import vemdiffuse_a

VARIANTS = vemdiffuse_a.VARIANTS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = vemdiffuse_a.build(arg, method="vemdiffuse_i")
  if arg == "cpu":
    config.data.frames = 64                       # an isotropic volume has rows to spare
  config.lock()
  return config
