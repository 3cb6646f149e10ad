"""The method registry: every reconstruction method jax_iso knows, one entry each.

An entry names the pieces a method is made of, each registered by name where it lives:
- `config`: its config module in `configs/` (learned methods): `get_config(variant)`, the run's parameters;
- `model`: the network, in `jax_iso.models.MODELS`;
- `pairs`: the training-pair maker, in `jax_iso.degrade.pairs.PAIR_MAKERS`;
- `loss`: the training objective, in `jax_iso.train.objectives.OBJECTIVES`;
- `strategy`: how it reconstructs a volume, in `jax_iso.infer.strategies.STRATEGIES`, with its settings from
  the config's `infer` section, or `options` for a method without a config;
- `task`: what it makes of a volume: "isotropic" (sections onto the fine grid: `reconstruct --method`),
  "denoise" (the same grid, clean: `jax-iso denoise`), "superres" (2x finer in X and Y: `jax-iso superres`) or
  "restore" (the same grid, damaged sections repaired: `jax-iso restore`).
  `alt_pairs` are further pair makers its config may choose (registered real pairs instead of synthetic ones).
Every subcommand reads this table (`reconstruct --method`, `train`, `predict`, `export`, `demo`); the training
engine and inference look their pieces up through it by the config's `method`. The entry holds names only and
imports nothing of the engine, so every layer can read it.
"""
from __future__ import annotations

import dataclasses
import importlib

import ml_collections

from jax_iso.errors import UserError

TASKS = ("isotropic", "denoise", "superres", "restore")


@dataclasses.dataclass(frozen=True)
class Method:
  name: str
  summary: str                 # one line for help texts
  strategy: str                # inference strategy (infer.strategies)
  config: str | None = None    # config module (configs/), for learned methods
  model: str | None = None     # network (models.MODELS)
  pairs: str | None = None     # training-pair maker (degrade.pairs.PAIR_MAKERS)
  loss: str | None = None      # training objective (train.objectives.OBJECTIVES)
  task: str = "isotropic"      # TASKS
  alt_pairs: tuple = ()        # other pair makers its config may name (pairs.kind)
  options: tuple = ()          # (name, value) settings of the strategy, for methods without a config (learned
                               # ones take theirs from their config's `infer` section)
  in_demo: bool = False        # part of `jax-iso demo` by default
  train_iso: bool = False      # trained on an isotropic volume of similar tissue (`--train_iso`), not the input

  @property
  def pair_kinds(self) -> tuple[str, ...]:
    """The pair makers a config of this method may name: its own, then the alternatives."""
    return ((self.pairs,) if self.pairs else ()) + tuple(self.alt_pairs)

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
           config="configs.unet", model="unet", pairs="axial", alt_pairs=("any_factor",), loss="regression",
           in_demo=True),
    Method("a2i", "A2I-3DEM window transformer fitted on the volume itself, over its xz and yz planes",
           strategy="planes", config="configs.a2i_3dem", model="a2i", pairs="axial", loss="regression"),
    Method("emformer", "EMformer video transformer fitted on the volume itself, over clips of neighbouring "
           "planes; any factor, lost-section inpainting, uncertainty map", strategy="clips",
           config="configs.emformer", model="emformer", pairs="clip", loss="regression"),
    Method("vemdiffuse_a", "vEMDiffuse-a conditional diffusion fitted on the volume itself, generating every "
           "fine slice from the two sections around it; any factor; K samples: mean, uncertainty, flags",
           strategy="between", config="configs.vemdiffuse_a", model="diffusion_unet", pairs="between",
           loss="diffusion"),
    Method("vemdiffuse_i", "vEMDiffuse-i conditional diffusion trained on an isotropic volume (--train_iso, or "
           "the model shipped for it where one ships), "
           "generating every fine slice from the two sections around it; K samples: mean, uncertainty, flags",
           strategy="between", config="configs.vemdiffuse_i", model="diffusion_unet", pairs="between",
           loss="diffusion", train_iso=True),
    Method("emdiffuse_n", "EMDiffuse-n conditional diffusion denoising every section, trained on a registered "
           "noisy/clean pair or on synthetic noise; K samples: mean, uncertainty, flags", strategy="diffusion",
           config="configs.emdiffuse_n", model="diffusion_unet", pairs="noise",
           alt_pairs=("registered", "noise_mixture"),
           loss="diffusion", task="denoise"),
    Method("emdiffuse_r", "EMDiffuse-r conditional diffusion super-resolving every section 2x in X and Y, trained "
           "on registered low/high-resolution pairs or on synthetic ones; K samples: mean, uncertainty, flags",
           strategy="diffusion", config="configs.emdiffuse_r", model="diffusion_unet", pairs="lateral2d",
           alt_pairs=("registered",), loss="diffusion", task="superres"),
    Method("sstem_restore", "ssTEM restoration: interpolation, correction and fusion networks repairing folds, "
           "precipitates and missing sections found by the detector, trained on the volume's clean sections",
           strategy="sections", config="configs.sstem_restore", model="restore", pairs="section", loss="restore",
           task="restore"),
)
METHODS: dict[str, Method] = {m.name: m for m in _ENTRIES}


COMMANDS = {"isotropic": "reconstruct --method=", "denoise": "denoise", "superres": "superres", "restore": "restore"}


def get(name: str, *, task: str | None = None, flag: str = "method") -> Method:
  """The entry of method `name` (of `task`, when given); a UserError lists the known ones, or names the command
  that runs a method of another task. `flag` names the setting in the message ("method", "methods")."""
  known = names(task=task)
  if name not in METHODS:
    raise UserError(f"unknown {flag}={name}; choose one of {', '.join(known)}")
  method = METHODS[name]
  if task is not None and method.task != task:
    raise UserError(f"{flag}={name} is a {method.task} method (run it with `jax-iso {COMMANDS[method.task]}"
                    f"{'' if method.task != 'isotropic' else name}`); choose one of {', '.join(known)}")
  return method


def names(*, learned: bool | None = None, task: str | None = None) -> tuple[str, ...]:
  """The registered methods' names (only the learned ones, or only the others, when `learned` is given; only
  those of `task` when it is given)."""
  return tuple(m.name for m in METHODS.values() if (learned is None or m.learned == learned)
               and (task is None or m.task == task))
