"""Models by name, built from a config's `model` section (`name` plus the module's fields)."""
from __future__ import annotations

from collections.abc import Mapping

import jax.numpy as jnp
from flax import linen as nn

import jax

from jax_iso import runconfig
from jax_iso.errors import UserError
from jax_iso.models.a2i import A2I
from jax_iso.models.diffusion_unet import DiffusionUNet
from jax_iso.models.emformer import EMformer
from jax_iso.models.restore import SectionRestorer
from jax_iso.models.unet import UNet

MODELS: dict[str, type[nn.Module]] = {"unet": UNet, "a2i": A2I, "emformer": EMformer,
                                      "diffusion_unet": DiffusionUNet, "restore": SectionRestorer}
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def build_model(cfg: Mapping) -> nn.Module:
  """`cfg` = {'name': 'unet', 'depth': 2, ..., 'dtype': 'float32'} (any config form); UserError names a wrong
  entry."""
  cfg = runconfig.to_dict(cfg)
  name = cfg.pop("name", None)
  if name not in MODELS:
    raise UserError(f"model.name={name!r} is unknown; choose one of {', '.join(MODELS)}")
  cls = MODELS[name]
  fields = {f for f in cls.__dataclass_fields__ if f not in ("parent", "name")}
  unknown = sorted(set(cfg) - fields)
  if unknown:
    raise UserError(f"model.{unknown[0]} is not a field of {name}; known: {', '.join(sorted(fields))}")
  for key in ("dtype", "param_dtype"):
    if key in cfg:
      if cfg[key] not in DTYPES:
        raise UserError(f"model.{key}={cfg[key]!r} must be one of {', '.join(DTYPES)}")
      cfg[key] = DTYPES[cfg[key]]
  model = cls(**cfg)
  problems = model.problems() if hasattr(model, "problems") else []
  if problems:
    raise UserError(f"model.{problems[0]}; fix it with model.{problems[0].split('=')[0]}=...")
  return model


def example_inputs(model: nn.Module, shape: tuple[int, ...]) -> tuple:
  """The arguments `model.init` is called with for a batch of training inputs of `shape` (zeros): the input
  alone, or what a model with another signature builds from it (`model.example_inputs(shape)`: the diffusion
  U-Net adds the noisy target's channels and a noise level)."""
  if hasattr(model, "example_inputs"):
    return model.example_inputs(tuple(shape))
  return (jnp.zeros(shape, jnp.float32),)


def init_params(model: nn.Module, key: jax.Array, shape: tuple[int, ...]):
  """`model.init` on zero inputs of `shape` (see `example_inputs`)."""
  return model.init(key, *example_inputs(model, shape))
