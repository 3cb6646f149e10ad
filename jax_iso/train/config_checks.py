"""Checks of a training config's values, each failing with one line that names the field and the fix.

The objective checks its own sections (`objectives.py`), the inference strategy the `infer` section
(`jax_iso.infer.strategies`, checked by `jobs.train` before training starts).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jax_iso import methods
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.train import section_noise

AUTO = "auto"   # data.batch_size derived from the device's memory (`auto_batch.py`)


def method_of(config: Mapping) -> methods.Method:
  """The registry entry of `config.method`, which must be a learned method whose pieces the config uses."""
  name = config.get("method")
  if name is None:
    raise UserError(f"the config names no method; set config.method to one of {', '.join(methods.names(learned=True))}")
  method = methods.get(name)
  if not method.learned:
    raise UserError(f"method={name!r} learns nothing (it is an interpolation); choose one of "
                    f"{', '.join(methods.names(learned=True))}")
  if config["model"]["name"] != method.model:
    raise UserError(f"model.name={config['model']['name']!r} is not the network of method {name} "
                    f"({method.model!r}); remove the override or set method=NAME")
  if config["pairs"]["kind"] not in method.pair_kinds:
    raise UserError(f"pairs.kind={config['pairs']['kind']!r} is not a pair maker of method {name} "
                    f"({' or '.join(repr(k) for k in method.pair_kinds)}); remove the override or set "
                    "method=NAME")
  return method


def batch_setting(value: Any) -> int | None:
  """`data.batch_size` as a number >= 1, or None for "auto" (the word, any case, or None: `auto_batch.py`); a
  whole number given as text ("16", from the command line over an "auto" field) counts as the number."""
  if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
    return None
  try:
    number = int(value) if not isinstance(value, (bool, float)) else None
  except (TypeError, ValueError):
    number = None
  if isinstance(value, float) and value.is_integer():
    number = int(value)
  if number is None or number < 1:
    raise UserError(f"data.batch_size={value} must be a whole number >= 1 or \"auto\" (sized to the device's "
                    "memory)")
  return number


def check(config: Mapping, multiple: int) -> None:
  """Raises UserError for values no run could use; `multiple` is the model's required size multiple."""
  data, train = config["data"], config["train"]
  if int(data["crop"]) < multiple or int(data["crop"]) % multiple:
    raise UserError(f"data.crop={data['crop']} must be a positive multiple of {multiple} for this model; "
                    f"e.g. data.crop={max(multiple, int(data['crop']) // multiple * multiple)}")
  batch_setting(data["batch_size"])
  most = data.get("max_batch_size")
  if most is not None and (isinstance(most, bool) or not isinstance(most, int) or most < 1):
    raise UserError(f"data.max_batch_size={most} must be a whole number >= 1 (the most crops an \"auto\" "
                    "batch_size may take a step), or None")
  if not 0.0 <= float(data["holdout"]) < 1.0:
    raise UserError(f"data.holdout={data['holdout']} must be a fraction in [0, 1)")
  if int(train["steps"]) < 1:
    raise UserError(f"train.steps={train['steps']} must be >= 1")
  for name in ("log_every", "eval_every", "checkpoint_every", "keep"):
    if int(train[name]) < 1:
      raise UserError(f"train.{name}={train[name]} must be >= 1")
  if not 0.0 <= float(train["ema"]) < 1.0:
    raise UserError(f"train.ema={train['ema']} must be in [0, 1) (0 turns the moving average off)")
  frozen = train.get("frozen", ())
  if isinstance(frozen, str) or not all(isinstance(p, str) for p in frozen):
    raise UserError(f"train.frozen={frozen!r} must be a tuple of parameter path patterns, e.g. "
                    "train.frozen=\"('params/Conv_0/.*',)\"")
  if config["pairs"]["kind"] not in pairs.PAIR_MAKERS:
    raise UserError(f"pairs.kind={config['pairs']['kind']!r} is unknown; choose one of "
                    f"{', '.join(pairs.PAIR_MAKERS)}")
  section_noise.check(config.get("section_noise", "off"))
  if config["pairs"]["kind"] == "between":          # vEMDiffuse: a factor drawn per crop is told to the network
    told, drawn = bool(config["model"].get("factor_input", False)), pairs.factor_range(config["pairs"])
    if told != (drawn is not None):
      raise UserError(f"model.factor_input={told} but pairs.factors={None if drawn is None else tuple(drawn)}: a "
                      "network told the factor trains on pairs whose factor is drawn per crop, and such pairs need "
                      "that network; set both (model.factor_input=True, pairs.factors=\"(2.0, 12.0)\") or neither")
