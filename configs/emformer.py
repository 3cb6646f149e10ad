"""EMformer (IsoVEM): a video transformer over stacks of sections, trained self-supervised on the user's volume.

Clips of consecutive sections (frames along Z, 128 x 128 laterally) are cut along Y into sections of the
volume's own factor s (any real s: box profile, the sections' noise restored as for the other methods), one
run of frames is zeroed half the time (lost sections), and the network (`jax_iso/models/emformer.py`: conv stem,
a U of mutual + self window-attention stages over 2-frame windows, full-scale refinement groups, an upsampler of
the rows to exactly round(N s), the linearly resampled input as global residual) learns to restore the clean
clip with L1 + (1 - SSIM). Inference (`jax_iso/infer/clips.py`) turns the volume so that frames run along Y
(and, in half of the 8 orientations, along X): the rows are then Z, which the network super-resolves; the mean
of the 8 orientations is the output and their standard deviation the uncertainty map.

Fit and reconstruct in one command (the `cpu` variant when JAX runs on the CPU):
  jax-iso reconstruct --input=stack.tif --output=iso.tif --method=emformer --uncertainty=iso_std.tif
  jax-iso reconstruct --input=stack.tif --output=iso.tif --method=emformer --inpaint=auto
Train only (spacing from the file, or --config.data.spacing / --config.data.factor):
  jax-iso train --config=configs/emformer.py --workdir=runs/emformer --config.data.path=stack.tif

Variants (`configs/emformer.py:VARIANT`):
- default: IsoVEM's x8 sizes (width 40, U depths 4 x 7, refinement 6 groups of 2 blocks at 60 channels, 4 heads,
  windows of 2 frames x 2 rows x 16 columns; 1.27 M parameters), for a GPU/TPU; training and inference batches
  "auto" (sized to the device's memory; docs/training.md "Batch size"; the clips' tile stays 128).
- `cpu`: width 16, one level, 8-frame clips of 64 x 64, batch 2, 1000 steps (its size is a first guess, not yet
  picked by measurement).
- `tiny`: tests.
Expected (`cpu`, 2-core CPU, ../shared/data sample2 with x4 box sections, 5 minutes of train steps per method;
command `python experiments/bench_emformer.py --minutes=5 --factors=4`): 31.30 dB PSNR against cubic 30.67
(+0.63 dB; the U-Net +0.88, A2I-3DEM +0.71 at the same budget), Z-FSC resolution 42.6 nm (cubic 56.6, U-Net 42.1,
A2I 51.3); two lost sections inpainted 22.01 dB on the gap's fine slices against 21.54 for cubic across the gap
(+0.47; three lost: +1.43); inference about 3 minutes for the 250^3 output on 2 cores (8 orientations).
"""
from __future__ import annotations

import ml_collections

from configs import common
from jax_iso.degrade import config as degrade_config

VARIANTS = ("cpu", "tiny")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = "emformer"
  config.seed = 0

  config.data = common.data()
  config.data.frames = 16                           # frames (consecutive sections) per training clip
  config.pairs = degrade_config.clip_pair(4.0)      # factor set from the data at run time
  config.pairs.acquisition.order = ()               # as for the other methods (configs/common.py)
  config.pairs.drop_run = 3                         # up to 3 consecutive lost sections
  config.section_noise = "match"

  config.model = ml_collections.ConfigDict(
      {"name": "emformer", "factor": 4.0, "width": 40, "depths": (4, 4, 4, 4, 4, 4, 4),
       "refine_depths": (2, 2, 2, 2, 2, 2), "refine_width": 60, "independent": 2, "heads": 4,
       "window": (2, 2, 16), "mutual_ratio": 0.75, "ffn_ratio": 2.0, "gated": True, "drop_path": 0.1,
       "upsampler": "shuffle", "head_width": 32, "residual": "linear", "local": False, "fill_lost": True,
       **common.precision()})
  config.loss = "mae_ssim"
  config.optim = common.optim(lr=1e-3, warmup_steps=200)
  config.train = common.train(steps=20000, log_every=20, eval_every=1000, checkpoint_every=1000)
  config.mesh = common.mesh()
  config.infer = ml_collections.ConfigDict(
      {"frames": 16, "frame_overlap": 4, "tile": 128, "overlap": 16, "batch_size": common.size(), "tta": 8,
       "uncertainty": "", "inpaint": ""})

  if arg == "cpu":
    config.model.update({"width": 16, "depths": (1, 1, 1), "refine_depths": (1, 1), "refine_width": 16,
                         "independent": 1, "heads": 2, "window": (2, 4, 8), "head_width": 16,
                         "drop_path": 0.0})
    config.data.update({"frames": 8, "crop": 64, "batch_size": 2})
    config.optim.update({"warmup_steps": 50})
    config.train.update({"steps": 1000, "log_every": 10, "eval_every": 200, "checkpoint_every": 200})
    config.infer.update({"frames": 8, "frame_overlap": 2, "tile": 64, "overlap": 8, "batch_size": 4})
  elif arg == "tiny":
    config.model.update({"width": 8, "depths": (1, 1, 1), "refine_depths": (1,), "refine_width": 8,
                         "independent": 1, "heads": 2, "window": (2, 2, 4), "head_width": 8, "drop_path": 0.1})
    config.data.update({"frames": 4, "crop": 32, "batch_size": 2, "eval_crops": 2})
    config.optim.warmup_steps = 2
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2})
    config.infer.update({"frames": 4, "frame_overlap": 1, "tile": 32, "overlap": 4, "batch_size": 4})
  elif arg:
    raise common.unknown_variant("emformer", arg, VARIANTS)
  config.lock()
  return config
