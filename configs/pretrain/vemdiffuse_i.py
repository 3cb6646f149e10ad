"""Pretraining of vEMDiffuse-i: one conditional diffusion model for every factor from x2 to x12, so that
`jax-iso reconstruct --method=vemdiffuse_i` needs no isotropic volume of its own (`--train_iso`).

Stacks of the isotropic FlyEM FIB-SEM volume (its three orientations, `data.views = "all"`: each is an isotropic
volume) are cut along Y into two box sections at a factor drawn per crop (log-uniform in [2, 12], any phase;
`degrade.pairs.between_pair` with `pairs.factors`), given the noise of a real section (the crop's own, matched per
crop: `pairs.match_noise`), and a fine slice between them is the target. The network is the `cpu` variant of
configs/vemdiffuse_i.py (base 16, three levels of one block, v-prediction) told the factor: log s is a fourth
condition channel, embedded as the position is (`model.factor_input`). Sampling as configs/vemdiffuse_i.py:cpu
(DPM-Solver++(2M), 6 steps, 4 samples); the mean of the samples is the output. A one-pass posterior mean
(`diffusion.mean_fraction`, as configs/pretrain/emdiffuse_n.py trains) is off: the samples' mean is what this
model is measured by.

Volumes: the isotropic ones of ../shared/data only (the synthetic sections must be cut from an isotropic grid):
FlyEM sample1. The EPFL hippocampus file is z-subsampled 8x and the ssTEM stacks are anisotropic, so none of them
can teach it. Held out (the benchmark's): FlyEM sample2, and every anisotropic volume (the real inputs).

  nohup nice -n 10 jax-iso train --config=configs/pretrain/vemdiffuse_i.py --workdir=.cache/pretrain/vemdiffuse_i \\
      >> .cache/pretrain/vemdiffuse_i.log 2>&1 &
  # resumes from its latest checkpoint when rerun

Steps: 1.54 s a step (batch 8 of 64 x 64 planes; 80 steps, AMD EPYC, 2 cores) measured beside a benchmark that
used 1.6 of the 2 cores: 20,000 steps are about 8.5 hours there, a checkpoint every 400 steps about 10 minutes.
Alone on the 2 cores a step of this network and batch takes about 0.45 s (configs/vemdiffuse_i.py: 1200 steps in
9 minutes): the run then takes 2.5 hours; give it `--config.train.steps=70000` for 8-9 hours.
Machine, hours and scores: the model card, once a model ships (none is trained yet).
"""
from __future__ import annotations

import ml_collections

from configs import vemdiffuse_i
from configs.pretrain.unet import DATA, FACTORS

SOURCES = (   # (file under ../shared/data, weight): the isotropic volumes
    ("flyem_medulla_fibsem_10nm_iso_sample1.tif", 1.0),        # its 3 views, a third each
)
HELD_OUT = ("flyem_medulla_fibsem_10nm_iso_sample2.tif", "epfl_hippocampus_fibsem_zsub8_isovem_test.tif",
            "cremi_sstem_crop_isovem_train.tif", "cremi_sstem_crop_isovem_val.tif",
            "cremi_sstem_crop_isovem_test.tif", "drosophila_l3_vnc_sstem_stack1.tif",
            "drosophila_l3_vnc_sstem_stack2.tif", "isbi2012_sstem_train.tif", "isbi2012_sstem_test.tif")
VARIANTS = ("tiny",)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = vemdiffuse_i.get_config("cpu")
  config.unlock()
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  config.pairs = degrade_config.between_pair(FACTORS[1], FACTORS)
  config.pairs.acquisition.order = ()
  config.section_noise = "off"                          # matched per crop by the pair maker (pairs.match_noise)
  config.model.factor_input = True
  config.data.path = ",".join(str(DATA / name) for name, _ in SOURCES)
  config.data.weights = tuple(w for _, w in SOURCES)
  config.data.views = "all"
  config.data.update({"crop": 64, "frames": 64, "batch_size": 8, "eval_crops": 32})
  config.optim.update({"lr": 5e-4, "warmup_steps": 1000, "schedule": "cosine", "end_fraction": 0.02})
  # checkpoint_every: about 10 minutes of training at the 1.54 s a step measured on 2 CPU cores beside another
  # process (a resume loses at most that)
  config.train.update({"steps": 20000, "log_every": 50, "eval_every": 2000, "checkpoint_every": 400,
                       "ema": 0.999, "keep": 2})
  if arg == "tiny":
    tiny = vemdiffuse_i.get_config("tiny")
    config.model.update({**dict(tiny.model), "factor_input": True})
    config.data.update({"crop": 32, "frames": 8, "batch_size": 4, "eval_crops": 4})
    config.diffusion.steps = 2
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update(dict(tiny.infer))
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of configs/pretrain/vemdiffuse_i.py; use "
                     "configs/pretrain/vemdiffuse_i.py or configs/pretrain/vemdiffuse_i.py:tiny")
  config.lock()
  return config
