"""EMDiffuse-n (Lu et al.): conditional diffusion that denoises EM images, with uncertainty from repeated sampling.

The network (`jax_iso/models/diffusion_unet.py`, the reference's SR3/Palette U-Net: base 32, multipliers
1-2-4-8, 2 residual blocks a level, attention in the middle; 15.68 M parameters) learns to remove the noise of a
diffusion schedule from the clean image, conditioned on the noisy image (`train/diffusion_objective.py`);
sampling draws clean images for a noisy input with the configured sampler (`diffusion/samplers.py`).

Command: `jax-iso denoise --input=NOISY --output=OUT --train_noisy=A --train_clean=B` (registered pairs,
`pairs.kind = "registered"`, `data.target`), or `--train_clean=B --noise=gaussian:SIGMA` (synthetic pairs), with
`--samples=8 --uncertainty=U.tif --flags=F.tif`; or `jax-iso train --config=configs/emdiffuse_n.py:cpu
--config.data.path=CLEAN` (the default pairs: shot, read and scan-line noise).
Expected (`experiments/bench_emdiffuse.py`, docs/results.md "EMDiffuse: denoising, samplers, uncertainty"): `cpu`, 1600
steps on FlyEM sample2 at Gaussian sigma 0.08 (13 minutes on 2 CPU cores), scored on sample1: one sample
29.0 dB, the mean of 8 30.3 dB (noisy 21.9, BM3D 30.5); DPM-Solver++(2M) at 5 steps 29.7 dB, 3.4 s per 256^2.
1000 steps at sigma 0.04: mean of 8 32.7 dB (noisy 28.0, BM3D 33.0); Poisson-Gaussian (dose 30, read 0.01):
28.1 dB (noisy 17.6, BM3D 28.4).

Variants: default (the reference's sizes and schedule; EMA 0.9999, Adam 5e-5, 256^2 crops), `cpu` (base 16,
three levels of one block, 64^2 crops, v-prediction at Adam 5e-4, EMA 0.999, 2000 steps), `tiny` (tests).
"""
from __future__ import annotations

import ml_collections

from configs import common
from jax_iso.degrade import config as degrade_config

VARIANTS = ("cpu", "tiny")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = build(arg, method="emdiffuse_n", pairs=degrade_config.noise_pair())  # synthetic pairs by default
  config.lock()
  return config


def build(arg: str | None, *, method: str, pairs: ml_collections.ConfigDict,
          scale: int = 1) -> ml_collections.ConfigDict:
  """The EMDiffuse config of `method` (unlocked): its training pairs and, for registered pairs, the lateral
  `scale` of the input relative to the target (EMDiffuse-r: 2)."""
  config = ml_collections.ConfigDict()
  config.method = method
  config.seed = 0

  config.data = common.data()
  config.data.crop = 256         # data.batch_size stays "auto" (configs/common.py)
  config.data.target = ""        # registered pairs (pairs.kind = "registered"): the partner of each data.path
  config.data.scale = scale      # registered pairs: data.path is `scale` x coarser in Y and X than data.target
  config.pairs = pairs
  config.model = ml_collections.ConfigDict(
      {"name": "diffusion_unet", "base": 32, "mults": (1, 2, 4, 8), "res_blocks": 2, "attn_levels": (),
       "head_channels": 32, "groups": 32, "dropout": 0.2, "norm": "pixel", "middle_attention": True,
       "out_channels": 1, "level_scale": 50.0, **common.precision()})
  config.diffusion = ml_collections.ConfigDict(
      {"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
       "prediction": "eps", "sampler": "dpm2m", "steps": 20, "eta": 0.0, "spacing": "uniform", "clip": True,
       "mean_fraction": 0.0})     # > 0: that share of each batch trains the one-pass posterior mean (v or x0 only)
  config.optim = common.optim(lr=5e-5, warmup_steps=0, schedule="constant", end_fraction=1.0)
  config.train = common.train(steps=100000, log_every=100, eval_every=5000, checkpoint_every=5000)
  config.train.ema = 0.9999
  config.mesh = common.mesh()
  config.infer = ml_collections.ConfigDict(
      {"tile": 256, "overlap": 32, "margin": 32, "batch_size": common.size(), "samples": 8, "threshold": 0.12,
       "mean": "auto"})          # the output: "auto" (one pass when trained for it), "pass" or "samples" (of K)

  if arg == "cpu":
    config.model.update({"base": 16, "mults": (1, 2, 4), "res_blocks": 1, "groups": 16, "head_channels": 32,
                         "dropout": 0.0})
    config.data.update({"crop": 64, "batch_size": 8})
    config.optim.lr = 5e-4
    config.diffusion.prediction = "v"      # 23.0 dB held-out after 300 steps against eps at 2e-4's 13.6 (sigma 0.08)
    config.train.update({"steps": 2000, "ema": 0.999, "eval_every": 500, "checkpoint_every": 500})
    config.infer.update({"tile": 256, "overlap": 32, "margin": 16, "batch_size": 2})
  elif arg == "tiny":
    config.model.update({"base": 8, "mults": (1, 2), "res_blocks": 1, "groups": 4, "head_channels": 8,
                         "dropout": 0.0})
    config.data.update({"crop": 32, "batch_size": 4, "eval_crops": 4})
    config.diffusion.steps = 2
    config.train.update({"steps": 4, "log_every": 1, "eval_every": 2, "checkpoint_every": 2, "ema": 0.0})
    config.infer.update({"tile": 32, "overlap": 8, "margin": 8, "batch_size": 4, "samples": 2})
  elif arg:
    raise common.unknown_variant(method, arg, VARIANTS)
  return config
