"""The method registry: every reconstruction method jax_iso knows, one entry each.

An entry names the pieces a method is made of, each registered by name where it lives:
- `config`: its config module in `configs/` (learned methods): `get_config(variant)`, the run's parameters;
- `model`: the network, in `jax_iso.models.MODELS`;
- `pairs`: the training-pair maker, in `jax_iso.degrade.pairs.PAIR_MAKERS`;
- `loss`: the training objective, in `jax_iso.train.objectives.OBJECTIVES`;
- `strategy`: how it reconstructs a volume, in `jax_iso.infer.strategies.STRATEGIES`, with its settings from
  the config's `infer` section, or `options` for a method without a config.
Every subcommand reads this table (`reconstruct --method`, `train`, `predict`, `export`, `demo`); the training
engine and inference look their pieces up through it by the config's `method`. The entry holds names only and
imports nothing of the engine, so every layer can read it.
"""
from __future__ import annotations

import dataclasses
import importlib

import ml_collections

from jax_iso.errors import UserError


@dataclasses.dataclass(frozen=True)
class Method:
  name: str
  summary: str                 # one line for help texts
  strategy: str                # inference strategy (infer.strategies)
  config: str | None = None    # config module (configs/), for learned methods
  model: str | None = None     # network (models.MODELS)
  pairs: str | None = None     # training-pair maker (degrade.pairs.PAIR_MAKERS)
  loss: str | None = None      # training objective (train.objectives.OBJECTIVES)
  options: tuple = ()          # (name, value) settings of the strategy, for methods without a config (learned
                               # ones take theirs from their config's `infer` section)
  in_demo: bool = False        # part of `jax-iso demo` by default

  @property
  def learned(self) -> bool:
    """Whether the method fits a model on the volume before reconstructing it."""
    return self.config is not None

  def variants(self) -> tuple[str, ...]:
    """The config variants (`configs/<module>.py:VARIANT`)."""
    return tuple(getattr(importlib.import_module(self.config), "VARIANTS", ())) if self.learned else ()

  def default_variant(self, backend: str) -> str | None:
    """The variant `reconstruct` trains on `backend` (a JAX backend name): "cpu" on a CPU where there is one."""
    return "cpu" if backend == "cpu" and "cpu" in self.variants() else None

  def default_config(self, variant: str | None = None) -> ml_collections.ConfigDict:
    """`get_config(variant)` of the method's config module: what `reconstruct --method=<name>` trains."""
    if not self.learned:
      raise UserError(f"method {self.name} has no config: it learns nothing")
    return importlib.import_module(self.config).get_config(variant)


_ENTRIES = (
    Method("linear", "linear interpolation between sections", strategy="interpolate",
           options=(("method", "linear"),), in_demo=True),
    Method("cubic", "cubic (Keys) interpolation between sections", strategy="interpolate",
           options=(("method", "cubic"),), in_demo=True),
    Method("unet", "CARE U-Net fitted on the volume itself, over its xz and yz planes", strategy="planes",
           config="configs.unet", model="unet", pairs="axial", loss="regression", in_demo=True),
    Method("a2i", "A2I-3DEM window transformer fitted on the volume itself, over its xz and yz planes",
           strategy="planes", config="configs.a2i_3dem", model="a2i", pairs="axial", loss="regression"),
    Method("emformer", "EMformer video transformer fitted on the volume itself, over clips of neighbouring "
           "planes; any factor, lost-section inpainting, uncertainty map", strategy="clips",
           config="configs.emformer", model="emformer", pairs="clip", loss="regression"),
)
METHODS: dict[str, Method] = {m.name: m for m in _ENTRIES}


def get(name: str) -> Method:
  """The entry of method `name`; a UserError lists the known ones."""
  if name not in METHODS:
    raise UserError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
  return METHODS[name]


def names(*, learned: bool | None = None) -> tuple[str, ...]:
  """The registered methods' names (only the learned ones, or only the others, when `learned` is given)."""
  return tuple(m.name for m in _ENTRIES if learned is None or m.learned == learned)
