"""Config sections every self-supervised method shares: the training data, the training schedule and the axial
training pairs."""
from __future__ import annotations

import ml_collections
from ml_collections import config_dict

from jax_iso.degrade import config as degrade_config


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
      "batch_size": 16,
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


def train(*, steps: int, log_every: int, eval_every: int, checkpoint_every: int) -> ml_collections.ConfigDict:
  """`config.train`: the schedule of steps, logs, held-out evaluations and checkpoints, and what is trained."""
  return ml_collections.ConfigDict({
      "steps": steps, "log_every": log_every, "eval_every": eval_every, "checkpoint_every": checkpoint_every,
      "keep": 3,                 # checkpoints kept
      "ema": 0.0,                # decay of the parameters' moving average (0: off); predictions use it when on
      "frozen": (),              # regular expressions of parameter paths that get no update, e.g. "params/interp/.*"
      "init_from": ""})          # a workdir or bundle whose matching parameters start the run (an earlier stage)
