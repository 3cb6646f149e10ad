"""Pretraining of the EMformer that ships with jax_iso for x4 volumes: isotropic reconstruction and lost sections.

Clips of 8 consecutive planes (64 x 64) of several real EM volumes (FIB-SEM and ssTEM, three tissues; the isotropic
FlyEM volume in its three views, `data.views = "all"`) are cut along Y into box sections at x4, given the noise of
a real section (`section_noise = "match"`), and a run of 1 to 3 frames is lost (zeroed) in 70 % of the clips
(`pairs.drop_prob`, `pairs.drop_run`); the isotropic volume's frames are read 4 planes apart
(`data.frame_spacing`), as an x4 volume's sections are. The network learns super-resolution and inpainting from
many volumes instead of the one it is given. Its sizes are the `cpu` variant's (configs/emformer.py), so a
reconstruction takes what a fitted EMformer's does. Held out of pretraining, as for configs/pretrain/unet.py: FlyEM
sample2, CREMI and ISBI 2012.

  nohup nice -n 10 jax-iso train --config=configs/pretrain/emformer.py --workdir=.cache/pretrain/emformer > \\
      .cache/pretrain/emformer.log 2>&1 &
  # resumes from its latest checkpoint when rerun; a lost run folder restarts from the shipped parameters:
  jax-iso train --config=configs/pretrain/emformer.py --workdir=W --config.train.init_from=jax_iso/pretrained/emformer

The model serves x4 only (EMformer's upsampler has a fixed factor; the U-Net serves x2-x12). Machine, hours and
scores: the model card, jax_iso/pretrained/emformer/card.md.
"""
from __future__ import annotations

import ml_collections

from configs import emformer
from configs.pretrain import unet as unet_recipe

SOURCES = unet_recipe.SOURCES
HELD_OUT = unet_recipe.HELD_OUT
FACTOR = 4.0
VARIANTS = ("tiny",)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = emformer.get_config("cpu")
  config.unlock()
  config.data.path = ",".join(str(unet_recipe.DATA / name) for name, _ in SOURCES)
  config.data.weights = tuple(w for _, w in SOURCES)
  config.data.views = "all"
  config.data.factor = FACTOR
  # frames as far apart as an x4 volume's sections: the isotropic volume's views at every 4th plane (without,
  # its frames are 10 nm apart and the lost frames it learns to fill are 4 times easier than an x4 volume's)
  config.data.frame_spacing = FACTOR
  config.data.update({"batch_size": 4, "eval_crops": 32})
  config.pairs.update({"factor": FACTOR, "drop_prob": 0.7, "drop_run": 3})
  config.model.factor = FACTOR
  config.optim.update({"lr": 1e-3, "warmup_steps": 500, "end_fraction": 0.02})
  config.train.update({"steps": 30000, "log_every": 50, "eval_every": 2000, "checkpoint_every": 500,
                       "ema": 0.999, "keep": 2})
  if arg == "tiny":
    tiny = emformer.get_config("tiny")
    config.model.update(dict(tiny.model))
    config.model.factor = FACTOR
    config.data.update({"frames": 4, "crop": 32, "batch_size": 2, "eval_crops": 2})
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update(dict(tiny.infer))
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of configs/pretrain/emformer.py; use configs/pretrain/emformer.py "
                     f"or configs/pretrain/emformer.py:tiny")
  config.lock()
  return config
