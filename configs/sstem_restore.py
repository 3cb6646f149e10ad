"""ssTEM restoration (Deng et al., TMI 2022): interpolation, correction and fusion networks that repair
support-film folds, staining precipitates and missing sections, trained on the user's own clean sections.

Training pairs (`degrade.pairs.section_pair`, made on the device): three consecutive clean sections of the
volume (sections found damaged are excluded, `data.exclude`), the middle one given a simulated fold, precipitates
or a lost section (one of blank, mean, duplicate), with 64 px of real context cut away after the damage; the
input carries the damage mask (dilated by 4 px, as the detector's masks are at inference). The network
(`models/restore.py`) trains its three modules at once, each on its own L1 loss (`train/restore_objective.py`);
`restore.flow_weight` weighs the supervision of the fold's unfolding flow. End-to-end fine-tuning: a second run
with `--config.model.detach=False --config.train.init_from=RUN1`.

Command: `jax-iso restore --input=VOL --output=OUT [--artifacts=auto|fold,precipitate,missing]
[--sections=12,57] [--masks=MASKS.tif]` (trains this config on VOL's clean sections, then restores the damaged
ones; `--model=RUN` uses a trained one); or `jax-iso train --config=configs/sstem_restore.py:cpu
--workdir=runs/restore --config.data.path=VOL`.
Expected (`cpu`, 1000 steps, ~10 min on 2 CPU cores; docs/results.md "ssTEM restoration: results",
experiments/bench_restore.py): simulated precipitates restored 4-11 dB above the damaged section, folds 0.5-1.3 dB
and lost sections 0.4-1.0 dB above the better of the damaged section and linear interpolation on ISBI, CREMI and
VNC; detection finds 99.8 % of simulated damage with 0.05 % false alarms.

Variants: default (width 32, U-Nets of depth 4, 128 px crops; training batch and inference tiles "auto", sized to
the device's memory: docs/training.md "Batch size"), `cpu` (width 16, batch 4: sized for 2 CPU cores), `tiny`
(tests).
"""
from __future__ import annotations

import ml_collections

from configs import common
from jax_iso.degrade import config as degrade_config

VARIANTS = ("cpu", "tiny")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = "sstem_restore"
  config.seed = 0

  config.data = common.data()
  config.data.exclude = ""                      # sections never cropped for training ("12,57": damaged ones)
  config.pairs = degrade_config.section_pair()
  config.pairs.mask_input = True
  config.pairs.mask_dilate = 4
  config.section_noise = "off"                  # the sections are real: they carry their own noise

  config.model = ml_collections.ConfigDict(
      {"name": "restore", "width": 32, "depth": 4, "kernel": 3, "interp": "flow", "taps": 11,
       "flow_scale": 16.0, "gate": 4.0, "detach": True, **common.precision()})
  config.restore = ml_collections.ConfigDict({"flow_weight": 1.0})
  config.optim = common.optim(lr=4e-4, warmup_steps=50)
  config.train = common.train(steps=3000, log_every=20, eval_every=250, checkpoint_every=250)
  config.mesh = common.mesh()
  config.infer = ml_collections.ConfigDict({"tile": common.size(), "overlap": 32, "margin": 64,
                                            "batch_size": common.size()})

  if arg == "cpu":
    config.model.width = 16
    config.data.batch_size = 4
    config.optim.lr = 1e-3
    config.train.update({"steps": 1500, "eval_every": 250, "checkpoint_every": 250})
    config.infer.update({"tile": 256, "batch_size": 4})
  elif arg == "tiny":
    config.model.update({"width": 4, "depth": 2, "taps": 3})
    config.pairs.context = 8
    config.pairs.fold.update({"fold_width": (4.0, 10.0), "line_width": (2.0, 4.0), "margin": 4.0,
                              "contrast_box": (8.0, 24.0)})
    config.data.update({"crop": 32, "batch_size": 3, "eval_crops": 3})
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2})
    config.infer.update({"tile": 32, "overlap": 8, "margin": 8, "batch_size": 2})
  elif arg:
    raise common.unknown_variant("sstem_restore", arg, VARIANTS)
  config.lock()
  return config
