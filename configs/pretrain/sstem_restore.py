"""Pretraining of the ssTEM restoration networks (interpolation, correction, fusion): one model that repairs the
folds, precipitates and lost sections of any serial-section volume, which `jax-iso restore` fine-tunes briefly
on the input's own clean sections instead of fitting one from nothing.

Triplets of consecutive sections of several real EM volumes (ssTEM and FIB-SEM, three tissues), the middle one
given a simulated support-film fold, staining precipitates or a lost section (`degrade.pairs.section_pair`, the
pairs configs/sstem_restore.py makes on one volume). Consecutive sections lie 40-50 nm apart in every volume, as
ssTEM sections do, so the interpolation module learns from neighbours as far away as it will meet them: the
larval VNC ssTEM stacks (45-50 nm) and the EPFL hippocampus (FIB-SEM kept at every 8th plane: 40 nm) as they are,
and the isotropic 10 nm FlyEM volume in its three views (`data.views = "all"`) at every 4th plane
(`data.frame_spacing = 4` lateral pixels: 40 nm; each view's 4 offsets share its weight). The networks' sizes are
configs/sstem_restore.py's `cpu` variant, so a restore with the model takes what a fitted one does, less the
fit: the card's fine-tune (100 steps on a CPU, 186 s on 2 AMD EPYC cores) replaces the fit's 1500.

Held out (never in the mixture): CREMI (train, val and test) and ISBI 2012 (train and test), the ssTEM volumes
whose real damaged sections and simulated damage the restoration is scored on (docs/results.md "ssTEM
restoration: results"; a model that had seen them would flatter those numbers), and FlyEM sample2, the other
shipped models' held-out FIB-SEM. Real damage in the sources: the mixture has no per-volume `data.exclude` (it
names sections of one volume), so a source with real damage would teach damaged sections as clean targets; the
detector (`detect.detect_damage`, every kind) finds none in the four sources (FlyEM at every 4th plane, each
offset), so none is left out for it.

  nohup nice -n 10 jax-iso train --config=configs/pretrain/sstem_restore.py \\
      --workdir=.cache/pretrain/sstem_restore >> .cache/pretrain/sstem_restore.log 2>&1 &
  # resumes from its latest checkpoint when rerun; then ship it (card, check: experiments/ship_pretrained.py):
  python experiments/ship_pretrained.py --workdir=.cache/pretrain/sstem_restore --name=sstem_restore \\
      --config=configs/pretrain/sstem_restore.py --summary="ssTEM restoration: folds, precipitates, lost sections"

Machine, hours and scores: the model card, once a model ships (jax_iso/pretrained/sstem_restore/card.md).
"""
from __future__ import annotations

import ml_collections

from configs import sstem_restore
from configs.pretrain.unet import DATA

SOURCES = (   # (file under ../shared/data, weight): sections 40-50 nm apart; ssTEM and FIB-SEM of three tissues
    ("drosophila_l3_vnc_sstem_stack1.tif", 2.0),               # larval VNC ssTEM, 4.6 nm pixels, 45-50 nm
    ("drosophila_l3_vnc_sstem_stack2.tif", 2.0),
    ("flyem_medulla_fibsem_10nm_iso_sample1.tif", 2.0),        # isotropic 10 nm: 3 views at every 4th plane
    ("epfl_hippocampus_fibsem_zsub8_isovem_test.tif", 1.0),     # mouse hippocampus FIB-SEM, 5 nm pixels, 40 nm
)
HELD_OUT = ("cremi_sstem_crop_isovem_train.tif", "cremi_sstem_crop_isovem_val.tif",
            "cremi_sstem_crop_isovem_test.tif", "isbi2012_sstem_train.tif", "isbi2012_sstem_test.tif",
            "flyem_medulla_fibsem_10nm_iso_sample2.tif")
FRAME_SPACING = 4.0   # lateral pixels between the sections read from a closer-spaced volume: 40 nm at 10 nm
VARIANTS = ("tiny",)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = sstem_restore.get_config("cpu")
  config.unlock()
  config.data.path = ",".join(str(DATA / name) for name, _ in SOURCES)
  config.data.weights = tuple(w for _, w in SOURCES)
  config.data.views = "all"
  config.data.frame_spacing = FRAME_SPACING
  # 128 px crops with 56 px of context: 240 px windows, within FlyEM's 250 px planes (the fit's 64 px of context
  # would need 256)
  config.data.update({"crop": 128, "batch_size": 4, "eval_crops": 32})
  config.pairs.context = 56
  config.optim.update({"lr": 1e-3, "warmup_steps": 500, "schedule": "cosine", "end_fraction": 0.02})
  # checkpoint_every: about 9 minutes of training at the 1.8 s a step measured alone on 2 AMD EPYC cores (13 at
  # the 2.65 s measured there beside a test run): a resume loses at most that. 20000 steps: 10 hours alone
  config.train.update({"steps": 20000, "log_every": 50, "eval_every": 1000, "checkpoint_every": 300,
                       "ema": 0.999, "keep": 2})
  if arg == "tiny":
    tiny = sstem_restore.get_config("tiny")
    config.model.update(dict(tiny.model))
    config.pairs.context = tiny.pairs.context
    config.pairs.fold.update(dict(tiny.pairs.fold))
    config.data.update({"crop": 32, "batch_size": 3, "eval_crops": 3})
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update(dict(tiny.infer))
  elif arg:
    raise ValueError(f"unknown variant {arg!r} of configs/pretrain/sstem_restore.py; use "
                     "configs/pretrain/sstem_restore.py or configs/pretrain/sstem_restore.py:tiny")
  config.lock()
  return config
