"""Pretraining of the isotropic U-Net that ships with jax_iso: one model for every factor from x2 to x12.

Lateral crops of several real EM volumes (FIB-SEM and ssTEM, three tissues) are cut into sections at a factor
drawn per crop (log-uniform in [2, 12], any phase), given the noise of a real section (the crop's own, matched
per crop), and interpolated back (cubic); the conditioned U-Net (`model.conditioned`: FiLM on log s) is told
the factor and learns to restore them. The isotropic FlyEM volume also gives its XZ and YZ planes
(`data.views = "all"`). Held out of pretraining (generalization is reported on them): FlyEM sample2, CREMI and
ISBI 2012.

  nohup nice -n 10 jax-iso train --config=configs/pretrain/unet.py --workdir=.cache/pretrain/unet > \\
      .cache/pretrain/unet.log 2>&1 &
  # resumes from its latest checkpoint when rerun; a lost run folder restarts from the shipped parameters:
  jax-iso train --config=configs/pretrain/unet.py --workdir=W --config.train.init_from=jax_iso/pretrained/unet

The volumes are read from ../shared/data beside the project (`--config.data.path=A,B,...` and
`--config.data.weights=...` for your own). Machine, hours and scores: the model card,
jax_iso/pretrained/unet/card.md.
"""
from __future__ import annotations

import pathlib

import ml_collections

from configs import unet

DATA = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
SOURCES = (   # (file under ../shared/data, weight): FIB-SEM and ssTEM of three tissues
    ("flyem_medulla_fibsem_10nm_iso_sample1.tif", 3.0),        # isotropic: its 3 views, 1 each
    ("epfl_hippocampus_fibsem_zsub8_isovem_test.tif", 1.0),     # mouse hippocampus FIB-SEM, 5 nm pixels
    ("drosophila_l3_vnc_sstem_stack1.tif", 1.0),                # larval VNC ssTEM, 4.6 nm pixels
    ("drosophila_l3_vnc_sstem_stack2.tif", 1.0),
)
HELD_OUT = ("flyem_medulla_fibsem_10nm_iso_sample2.tif", "cremi_sstem_crop_isovem_train.tif",
            "cremi_sstem_crop_isovem_val.tif", "cremi_sstem_crop_isovem_test.tif", "isbi2012_sstem_train.tif",
            "isbi2012_sstem_test.tif")
FACTORS = (2.0, 12.0)
VARIANTS = ("tiny",)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = unet.get_config()
  config.unlock()
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  config.pairs = degrade_config.any_factor_pair(FACTORS)
  config.section_noise = "off"                          # matched per crop by the pair maker instead
  config.data.path = ",".join(str(DATA / name) for name, _ in SOURCES)
  config.data.weights = tuple(w for _, w in SOURCES)
  config.data.views = "all"
  config.data.update({"crop": 128, "batch_size": 16, "eval_crops": 64})
  # width 16 (0.58 M parameters): 1.13 s a step (batch 16 of 128^2) and 84 s for a 250^3 volume at x4 on 2 CPU
  # cores, against 3.6 s and 219 s at width 32 (experiments/pretrain_size.py): 3x the steps in the same hours,
  # a fine-tune of ~100 steps in 2 minutes, and a 192^3 volume in under a minute
  config.model.update({"depth": 3, "width": 16, "kernel": 3, "conditioned": True})
  config.optim.update({"lr": 1e-3, "warmup_steps": 1000, "end_fraction": 0.02})
  config.train.update({"steps": 40000, "log_every": 50, "eval_every": 2000, "checkpoint_every": 400,
                       "ema": 0.999, "keep": 2})
  if arg == "tiny":
    config.data.update({"crop": 32, "batch_size": 4, "eval_crops": 4})
    config.model.update({"depth": 2, "width": 8})
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update({"tile": 64, "overlap": 8, "margin": 16, "batch_size": 8})
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of configs/pretrain/unet.py; use configs/pretrain/unet.py or "
                     f"configs/pretrain/unet.py:tiny")
  config.lock()
  return config
