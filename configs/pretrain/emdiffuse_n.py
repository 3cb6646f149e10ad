"""Pretraining of the blind EMDiffuse-n denoiser: one model for the noise of any EM image, no pair needed.

Lateral crops of the clean-enough real EM volumes (FIB-SEM and ssTEM of three tissues; the isotropic FlyEM volume
in its three views, `data.views = "all"`) get one kind of synthetic noise per crop, drawn on the device from a
mixture across the range EM shows (`degrade.config.blind_noise_pair`): white Gaussian (sigma 0.005-0.15),
Poisson-Gaussian (dose 15-2000, read noise up to 0.02), SEM scan lines over white noise, and spatially correlated
noise, from barely noisy to very noisy. The network is not told the noise: it infers it (blind).

Half of every batch trains the one-pass posterior mean (`diffusion.mean_fraction = 0.5`: the network at the
schedule's noisiest time from z = 0 regresses the clean image, `diffusion/losses.py`), the other half the
diffusion model (v-prediction). `jax-iso denoise` writes that one pass (`infer.mean = "pass"`) and samples only
for `--uncertainty` / `--flags` (DPM-Solver++(2M), 5 steps). The network is the `cpu` variant's
(configs/emdiffuse_n.py: base 16, three levels of one block, 0.74 M parameters): one pass of a 192^2 section's
224^2 window took 0.55 s on the 2-core CPU while another training run shared it (a base-32 network 1.4 s, with a
2.5x slower training step).

Volumes: those of ../shared/data whose noise (`metrics.noise_level`, an upper bound) is at most ~0.02 in [0, 1]
intensities, so that the targets are clean: FlyEM sample1, EPFL hippocampus, CREMI train and val. Left out as
noisy targets (0.03-0.05): the larval VNC stacks and ISBI 2012. Held out (the benchmark's and a second tissue's):
FlyEM sample2 (experiments/bench_denoise_pretrained.py scores on it) and CREMI test.

  nohup nice -n 10 jax-iso train --config=configs/pretrain/emdiffuse_n.py --workdir=.cache/pretrain/emdiffuse_n \\
      >> .cache/pretrain/emdiffuse_n.log 2>&1 &
  # resumes from its latest checkpoint when rerun

Machine, hours and scores: the model card, once a model ships (jax_iso/pretrained/emdiffuse_n/card.md).
"""
from __future__ import annotations

import ml_collections

from configs import emdiffuse_n
from configs.pretrain.unet import DATA

SOURCES = (   # (file under ../shared/data, weight): noise <= ~0.02; FIB-SEM and ssTEM of three tissues
    ("flyem_medulla_fibsem_10nm_iso_sample1.tif", 3.0),        # isotropic: its 3 views, 1 each
    ("epfl_hippocampus_fibsem_zsub8_isovem_test.tif", 1.0),     # mouse hippocampus FIB-SEM, 5 nm pixels
    ("cremi_sstem_crop_isovem_train.tif", 1.0),                 # adult fly brain ssTEM, 4 nm pixels
    ("cremi_sstem_crop_isovem_val.tif", 1.0),
)
HELD_OUT = ("flyem_medulla_fibsem_10nm_iso_sample2.tif", "cremi_sstem_crop_isovem_test.tif")
NOISY_TARGETS = ("drosophila_l3_vnc_sstem_stack1.tif", "drosophila_l3_vnc_sstem_stack2.tif",
                 "isbi2012_sstem_train.tif", "isbi2012_sstem_test.tif")
VARIANTS = ("tiny",)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = emdiffuse_n.get_config("cpu")
  config.unlock()
  from jax_iso.degrade import config as degrade_config  # pylint: disable=g-import-not-at-top
  config.pairs = degrade_config.blind_noise_pair()
  config.data.path = ",".join(str(DATA / name) for name, _ in SOURCES)
  config.data.weights = tuple(w for _, w in SOURCES)
  config.data.views = "all"
  config.data.update({"crop": 64, "batch_size": 8, "eval_crops": 32})
  config.diffusion.update({"mean_fraction": 0.5, "steps": 5})
  config.optim.update({"lr": 5e-4, "warmup_steps": 1000, "schedule": "cosine", "end_fraction": 0.02})
  # checkpoint_every: 7-15 minutes of training at the 2.2-4.5 s a step measured beside another training run on
  # 2 CPU cores (a resume loses at most that)
  config.train.update({"steps": 30000, "log_every": 50, "eval_every": 2000, "checkpoint_every": 200,
                       "ema": 0.999, "keep": 2})
  config.infer.update({"mean": "pass", "samples": 8})
  if arg == "tiny":
    tiny = emdiffuse_n.get_config("tiny")
    config.model.update(dict(tiny.model))
    config.data.update({"crop": 32, "batch_size": 4, "eval_crops": 4})
    config.diffusion.steps = 2
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update({**dict(tiny.infer), "mean": "pass"})
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of configs/pretrain/emdiffuse_n.py; use "
                     "configs/pretrain/emdiffuse_n.py or configs/pretrain/emdiffuse_n.py:tiny")
  config.lock()
  return config
