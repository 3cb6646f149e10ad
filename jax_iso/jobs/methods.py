"""The reconstruction methods `jax-iso reconstruct --method=...` knows: interpolation and learned ones."""
from __future__ import annotations

import importlib

import ml_collections

from jax_iso import infer

INTERPOLATION = tuple(infer.INTERPOLATION_METHODS)
LEARNED = {"unet": "configs.unet"}   # method -> its config module (the files in configs/)
METHODS = INTERPOLATION + tuple(LEARNED)


def default_config(method: str, variant: str | None = None) -> ml_collections.ConfigDict:
  """`configs/<method>.py`'s get_config(variant): what `reconstruct --method=<method>` trains."""
  module = importlib.import_module(LEARNED[method])
  return module.get_config(variant)
