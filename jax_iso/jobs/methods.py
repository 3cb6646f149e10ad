"""The reconstruction methods `jax-iso reconstruct --method=...` knows: interpolation and learned ones."""
from __future__ import annotations

import importlib

import ml_collections

from jax_iso import infer

INTERPOLATION = tuple(infer.INTERPOLATION_METHODS)
LEARNED = {"unet": "configs.unet", "a2i": "configs.a2i_3dem"}   # method -> its config module (configs/)
METHODS = INTERPOLATION + tuple(LEARNED)


def default_variant(method: str) -> str | None:
  """The config variant `reconstruct` trains: the "cpu" one (sized for minutes on a laptop) on CPU."""
  import jax  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(LEARNED[method])
  return "cpu" if jax.default_backend() == "cpu" and "cpu" in getattr(module, "VARIANTS", ()) else None


def default_config(method: str, variant: str | None = None) -> ml_collections.ConfigDict:
  """`configs/<method>.py`'s get_config(variant): what `reconstruct --method=<method>` trains."""
  module = importlib.import_module(LEARNED[method])
  return module.get_config(variant)
