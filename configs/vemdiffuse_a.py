"""vEMDiffuse-a (Lu et al.): isotropic reconstruction by conditional diffusion, trained on the anisotropic volume
alone.

Training (`degrade.pairs.between_pair`): stacks of the input's own sections, cut along Y (or X: the crops turn)
into synthetic sections of the volume's factor; the network (`models/diffusion_unet.py` with `position=True`)
learns to generate a fine plane from the two sections around it and its position between them, a real number in
[0, 1] (any factor). Inference (`infer/between.py`) generates every slice of the fine Z grid from the
two real sections around it, K samples each: the mean is the volume, their spread the uncertainty. No minimum
volume size (the reference asks for 256 sections).

Command: `jax-iso reconstruct --input=ANISO --output=ISO --method=vemdiffuse_a [--samples=8] [--steps=10]
[--uncertainty=U.tif] [--flags=F.tif]` (`--train_steps` for the training steps).
Expected (`experiments/bench_vemdiffuse.py --variants=a --train_steps=4000`, docs/results.md "vEMDiffuse"): `cpu`, 4000
steps on FlyEM sample2 at x4 (15 minutes on 2 CPU cores): the mean of 4 samples 29.8 dB on the central 96^2
columns (cubic 30.7, U-Net 31.5), uncertainty Spearman 0.54 against the true error; 1200 steps: 29.1 dB.

Variants: default (the reference's network sizes: base 32, multipliers 1-2-4-8, 2 residual blocks a level;
EMA 0.9999, Adam 5e-5, 256 x 256 planes; 8 samples of 20 DPM-Solver++(2M) steps), `cpu` (base 16, three levels
of one block, 32 x 64 planes, v-prediction at Adam 5e-4, EMA 0.999; 4 samples of 6 steps), `tiny` (tests).
"""
from __future__ import annotations

import ml_collections

from configs import emdiffuse_n
from jax_iso.degrade import config as degrade_config

VARIANTS = emdiffuse_n.VARIANTS


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = build(arg, method="vemdiffuse_a")
  config.lock()
  return config


def build(arg: str | None, *, method: str) -> ml_collections.ConfigDict:
  """The vEMDiffuse config of `method` (unlocked): EMDiffuse's, with the position-conditioned network, pairs of
  sections and a fine plane between them, and the "between" strategy's settings."""
  pairs = degrade_config.between_pair(4.0)        # the factor is set from the data at run time
  pairs.acquisition.order = ()                    # the sections' own noise is matched instead (section_noise)
  config = emdiffuse_n.build(arg, method=method, pairs=pairs)
  config.model.position = True
  config.model.position_scale = 10.0
  config.model.factor_input = False               # True with pairs.factors: one model for every factor (told log s;
                                                  # configs/pretrain/vemdiffuse_i.py)
  config.section_noise = "match"
  config.data.frames = config.data.crop           # plane rows: consecutive sections (-a) or fine slices (-i)
  config.infer.noise = "sections"                 # each slice's noise blends its two sections': no flicker
  if arg == "cpu":
    config.data.frames = 32                       # 32 sections (reconstruct takes fewer from a smaller volume)
    config.diffusion.steps = 6                    # x4, FlyEM: 3 steps 28.2 dB, 6 27.9, 12 27.9 (Z res 56.5, 54.9, 53 nm)
    config.infer.samples = 4                      # a 250^3 volume at x4: about 8 minutes a sample on 2 CPU cores
  elif arg == "tiny":
    config.data.frames = 8
  return config
