"""A2I-3DEM (Khateri et al.): a U-shaped window transformer trained self-supervised on the user's own volume.

Lateral (xy) crops of the volume are cut into sections along Y at a random phase, given the noise the volume's
real sections carry (`section_noise`), and interpolated back (cubic); the network (`jax_iso/models/a2i.py`:
conv stem, K-level encoder/decoder of W-MSA + GLEN blocks, conv head, global residual) learns to restore them
with L1 + 0.01 x the projected distribution loss (`jax_iso/train/pdl.py`), then reconstructs every xz and yz
plane of the Z-interpolated volume (fused by the mean).

Train on your volume (spacing from its metadata, or --config.data.spacing / --config.data.factor):
  jax-iso train --config=configs/a2i_3dem.py --workdir=runs/a2i --config.data.path=stack.tif
Fit and reconstruct in one command (the `cpu` variant when JAX runs on the CPU):
  jax-iso reconstruct --input=stack.tif --output=iso.tif --method=a2i

Variants (`configs/a2i_3dem.py:VARIANT`):
- default: Uformer-B's sizes (width 32; depths 1,2,8,8,2,8,8,2,1; heads 1,2,4,8,16,16,8,4,2; window 8), for a
  GPU/TPU (bfloat16 compute there: `model.dtype` "auto", every variant's, picks it on a TPU or a GPU of compute
  capability >= 8.0 and float32 on a CPU; `--config.model.dtype=float32` forces float32); training batch and
  inference tiles "auto" (sized to the device's memory; docs/training.md "Batch size").
- `paper`: the default network trained as the paper does: the imaging degradations on (blur along X, intensity
  jitter, illumination, shot and scan-line noise) and Adam at 1e-4.
- `cpu`: width 16, two levels of one block each (0.13 M parameters), batch 2, 2600 steps: ~20 minutes on 2 CPU
  cores. Re-picked by measurement at an equal 5-minute budget (experiments/ablation.py, docs/results.md "A2I-3DEM
  configuration"): batch 2 over batch 4 (+0.77 against +0.70 dB at x4, +0.43 against +0.41 at x3); width 24,
  three levels, lr 2e-3 and L1 alone were no better.
- `tiny`: tests.
Expected (`cpu`, 2-core CPU, ../shared/data sample2, 5 minutes of train steps: ~700 steps at x4, ~650 at x3):
x4 31.44 dB PSNR against cubic 30.67 (+0.77; the U-Net: +0.88 at the same budget), Z resolution 46.3 nm; x3
32.97 against 32.54 (+0.43)
  python experiments/ablation.py --method=a2i --factor=4 --minutes=5 --name=cpu
(docs/results.md). The default and `paper` variants are sized for an accelerator and not measured yet.
"""
from __future__ import annotations

import ml_collections

from configs import common
from jax_iso.degrade import config as degrade_config

VARIANTS = ("cpu", "paper", "tiny")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.method = "a2i"
  config.seed = 0

  config.data = common.data()
  config.pairs = common.axial_pairs()
  config.section_noise = "match"

  config.model = ml_collections.ConfigDict(
      {"name": "a2i", "width": 32, "depths": (1, 2, 8, 8, 2, 8, 8, 2, 1), "heads": (1, 2, 4, 8, 16, 16, 8, 4, 2),
       "window": 8, "shift": True, "ffn_ratio": 2.0, "gated": True, "drop_path": 0.1, "resample": "conv",
       "residual": True, **common.precision()})
  config.loss = "mae"
  config.pdl = ml_collections.ConfigDict({"weight": 0.01, "patch": 3, "projections": 8})
  config.optim = common.optim(lr=2e-4, warmup_steps=200)
  config.train = common.train(steps=20000, log_every=20, eval_every=1000, checkpoint_every=1000)
  config.mesh = common.mesh()
  config.infer = ml_collections.ConfigDict(
      {"tile": common.size(), "overlap": 32, "margin": 32, "batch_size": common.size(), "fuse": "mean",
       "method": "cubic"})

  if arg == "cpu":
    config.model.update({"width": 16, "depths": (1, 1, 1, 1, 1), "heads": (1, 2, 4, 2, 1), "drop_path": 0.0})
    config.data.batch_size = 2       # more steps beat bigger batches at a fixed CPU time (docs/results.md)
    config.optim.update({"lr": 1e-3, "warmup_steps": 50})
    config.train.update({"steps": 2600, "log_every": 10, "eval_every": 400, "checkpoint_every": 400})  # ~20 min
    config.infer.update({"tile": 256, "batch_size": 8})
  elif arg == "paper":
    config.pairs.acquisition.order = tuple(degrade_config.acquisition().order)
    config.section_noise = "off"
    config.optim.lr = 1e-4
  elif arg == "tiny":
    config.model.update({"width": 8, "depths": (1, 1, 1), "heads": (1, 2, 1), "window": 4, "drop_path": 0.1})
    config.data.crop, config.data.batch_size, config.data.eval_crops = 32, 4, 4
    config.optim.warmup_steps = 2
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2})
    config.infer.update({"tile": 64, "overlap": 8, "margin": 16, "batch_size": 8})
  elif arg:
    raise common.unknown_variant("a2i_3dem", arg, VARIANTS)
  config.lock()
  return config
