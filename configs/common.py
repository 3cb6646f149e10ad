"""Config sections every method shares, written once: the training data, the optimizer, the training schedule, the
mesh, the axial training pairs and the model's precision; sizes that may be "auto"; and the one error for an unknown
variant."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict

from jax_iso.degrade import config as degrade_config


AUTO = "auto"   # a size derived on the machine that runs (docs/scaling.md "Device memory")


def size(value: int | str = AUTO) -> config_dict.FieldReference:
  """A size that may be a number or "auto" (`data.batch_size`, `infer.tile`, `infer.batch_size`): a field that
  takes either, so a variant sets a number where the default says "auto" and `--config.FIELD=16` or
  `--config.FIELD=auto` parse as a number and as the word. "auto": on a GPU or TPU derived from the device's
  memory (training: `jax_iso/train/auto_batch.py`; inference: `jax_iso/infer/memory_defaults.py`), on a CPU a
  fixed fallback (8 crops a step; 256 px tiles, 8 a call)."""
  return config_dict.FieldReference(value, field_type=object)


def data() -> ml_collections.ConfigDict:
  """`config.data`: which volume, its voxel size, and the crops cut from it."""
  return ml_collections.ConfigDict({
      "path": "",                                       # volume(s) to train on; several: comma-separated
      "spacing": config_dict.placeholder(str),          # "Z,Y,X" nm, overrides the file's voxel size
      "factor": config_dict.placeholder(float),         # anisotropy; default: from the voxel size
      "channel": config_dict.placeholder(int),
      "timepoint": config_dict.placeholder(int),
      "normalize": "dtype",                             # or "percentile"
      "crop": 128,                                      # lateral crop edge (px); a multiple of the model's
      "batch_size": size(),                             # crops a step, all devices; "auto": from the device's memory
      "max_batch_size": config_dict.placeholder(int),   # "auto" batch_size: at most this many (None: 64 per device)
      "holdout": 0.1,                                   # fraction of sections kept for evaluation
      "eval_crops": 32})


def axial_pairs() -> ml_collections.ConfigDict:
  """`config.pairs`: lateral crops cut into sections along Y and interpolated back (`degrade.pairs.axial_pair`).

  The imaging degradations of degrade.config.acquisition() stay available but are off: trained on them, the
  models smooth what they should sharpen (U-Net -1.7 dB, A2I-3DEM -3.1 dB against cubic on real FIB-SEM; README
  results). The sections' own noise is restored instead (`config.section_noise = "match"`).
  """
  pairs = degrade_config.axial_pair(4.0)                # factor set from the data at run time
  pairs.acquisition.order = ()
  return pairs


def optim(*, lr: float, warmup_steps: int, schedule: str = "cosine", end_fraction: float = 0.05, name: str = "adam",
          b1: float = 0.9, b2: float = 0.999, weight_decay: float = 0.0,
          grad_clip: float = 1.0) -> ml_collections.ConfigDict:
  """`config.optim` (`jax_iso.train.optim`): Adam with gradient clipping and a learning rate warmed up linearly,
  then decayed by `schedule` to `lr * end_fraction`."""
  return ml_collections.ConfigDict({
      "name": name,                      # "adam" or "adamw"
      "lr": lr,
      "schedule": schedule,              # "constant", "cosine" or "linear"
      "warmup_steps": warmup_steps,
      "end_fraction": end_fraction,      # the learning rate at the last step, as a fraction of `lr`
      "b1": b1, "b2": b2,
      "weight_decay": weight_decay,      # adamw only
      "grad_clip": grad_clip})           # global gradient norm clipped to it (0: off)


def train(*, steps: int, log_every: int, eval_every: int, checkpoint_every: int) -> ml_collections.ConfigDict:
  """`config.train`: the schedule of steps, logs, held-out evaluations and checkpoints, and what is trained."""
  return ml_collections.ConfigDict({
      "steps": steps, "log_every": log_every, "eval_every": eval_every, "checkpoint_every": checkpoint_every,
      "keep": 3,                 # checkpoints kept
      "ema": 0.0,                # decay of the parameters' moving average (0: off); predictions use it when on
      "frozen": (),              # regular expressions of parameter paths that get no update, e.g. "params/interp/.*"
      "init_from": ""})          # a workdir or bundle whose matching parameters start the run (an earlier stage)


def precision() -> dict:
  """The `model` section's precision fields (`jax_iso.models.precision`; docs/training.md "Mixed precision"):
  `dtype`, the compute dtype: "auto" (bfloat16 on a TPU or a GPU of compute capability >= 8.0, float32 on a
  CPU, where bfloat16 ran slower; decided on the machine that builds the model, for training and inference
  alike), "float32" or "bfloat16"; norms, softmax, the output head and the loss stay float32 whatever it is.
  `param_dtype`: "float32", the only value (parameters and optimizer state stay float32)."""
  return {"dtype": "auto", "param_dtype": "float32"}


def mesh() -> ml_collections.ConfigDict:
  """`config.mesh` (`jax_iso.mesh`): the devices of the data-parallel axis (-1: all of them)."""
  return ml_collections.ConfigDict({"data": -1})


def unknown_variant(name: str, arg: str, variants: tuple[str, ...]) -> ValueError:
  """The error a `get_config(arg)` of configs/NAME.py raises for a variant not in `variants`."""
  return ValueError(f"unknown variant {arg!r} of configs/{name}.py; use configs/{name}.py or "
                    f"configs/{name}.py:VARIANT with VARIANT one of {', '.join(variants)}")
