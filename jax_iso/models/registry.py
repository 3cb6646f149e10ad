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
from jax_iso.models.precision import model_dtypes
from jax_iso.models.restore import SectionRestorer
from jax_iso.models.unet import UNet

MODELS: dict[str, type[nn.Module]] = {"unet": UNet, "a2i": A2I, "emformer": EMformer,
                                      "diffusion_unet": DiffusionUNet, "restore": SectionRestorer}


def build_model(cfg: Mapping, device=None) -> nn.Module:
  """`cfg` = {'name': 'unet', 'depth': 2, ..., 'dtype': 'auto', 'param_dtype': 'float32'} (any config form);
  UserError names a wrong entry. `dtype` "auto" becomes the compute dtype of JAX's first device
  (`precision.compute_dtype`: bfloat16 on a TPU or a GPU of compute capability >= 8.0, float32 elsewhere), or of
  `device` when given."""
  cfg = runconfig.to_dict(cfg)
  name = cfg.pop("name", None)
  if name not in MODELS:
    raise UserError(f"model.name={name!r} is unknown; choose one of {', '.join(MODELS)}")
  cls = MODELS[name]
  fields = {f for f in cls.__dataclass_fields__ if f not in ("parent", "name")}
  unknown = sorted(set(cfg) - fields)
  if unknown:
    raise UserError(f"model.{unknown[0]} is not a field of {name}; known: {', '.join(sorted(fields))}")
  cfg.update(model_dtypes(cfg, device))
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
