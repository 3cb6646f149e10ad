"""A run's config in one form: frozen, converted once where it enters the library.

A config arrives as an `ml_collections.ConfigDict` (a config file, `configs/<method>.py`), a plain dict (Python
callers) or JSON read back from a workdir's `config.json` or a bundle. `freeze` turns any of them into one
`ml_collections.FrozenConfigDict` (immutable, hashable, lists as tuples), and only that form travels on: the
engine never asks which form it was given. `to_json` is its JSON form (what `config.json` and bundles hold, and
what two configs are compared by).

    config = freeze(get_config("cpu"))      # at the entry: train_and_evaluate, load_model, build_model, ...
    config.data.crop                          # attribute or item access, read-only
    config = replace(config, pairs={"factor": 4.0})   # a changed copy (the pairs section merged)
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import ml_collections

Frozen = ml_collections.FrozenConfigDict
AUTO_NUMBERS = ("infer.tile", "infer.batch_size", "data.batch_size")   # numbers that may be "auto": sized on the
                                                                         # machine that runs


def freeze(config: Any) -> Frozen:
  """`config` (ConfigDict, FrozenConfigDict, dict, or JSON-loaded dict) as a FrozenConfigDict; a frozen one is
  returned as it is."""
  if isinstance(config, Frozen):
    return config
  if isinstance(config, ml_collections.ConfigDict):
    return Frozen(config)
  if isinstance(config, Mapping):
    return Frozen(_plain(config))
  raise TypeError(f"a config must be a ConfigDict or a mapping, got {type(config).__name__}")


def to_json(config: Any) -> dict:
  """The JSON form of a config (tuples as lists, None as null): nested plain dicts."""
  return json.loads(freeze(config).to_json_best_effort())


def to_dict(config: Any) -> dict:
  """Nested plain dicts of a config, sequences kept as tuples (hashable keyword arguments)."""
  return _tuples(freeze(config).to_dict())


def replace(config: Any, **sections) -> Frozen:
  """A frozen copy of `config` with top-level `sections` set; a mapping merges into a mapping section (one
  level: its keys replace the section's)."""
  out = to_json(config)
  for name, value in sections.items():
    if isinstance(value, (Mapping, ml_collections.ConfigDict)):
      value = to_json(value)
      if isinstance(out.get(name), dict):
        value = {**out[name], **value}
    out[name] = value
  return freeze(out)


def _plain(value):
  """Mappings -> dicts, sequences -> tuples: what FrozenConfigDict is built from."""
  if isinstance(value, ml_collections.ConfigDict):
    return _plain(value.to_dict())
  if isinstance(value, Mapping):
    return {str(k): _plain(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return tuple(_plain(v) for v in value)
  return value


def _tuples(value):
  if isinstance(value, dict):
    return {k: _tuples(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return tuple(_tuples(v) for v in value)
  return value


def type_mismatch(config: Any, reference: Any, prefix: str = "") -> str | None:
  """The first setting of `config` that holds text (or a section) where `reference` holds a number, a flag or a
  section, as "name=value (a number is due)"; None when every shared setting has a kind the reference allows.
  Settings only one of them has are not compared (numbers may also be sequences, e.g. a crop (h, w))."""
  config, reference = _plain(config), _plain(reference)
  for key, ref in reference.items():
    if key not in config:
      continue
    value, name = config[key], f"{prefix}{key}"
    if isinstance(ref, dict):
      if not isinstance(value, dict):
        return f"{name}={value!r} (a section of settings is due)"
      found = type_mismatch(value, ref, name + ".")
      if found:
        return found
    elif value is None:
      continue                            # unset: the code's default
    elif isinstance(ref, bool):
      if not isinstance(value, bool):
        return f"{name}={value!r} (true or false is due)"
    elif name in AUTO_NUMBERS and (_numbers(ref) or ref == "auto"):      # a number, or "auto" where allowed
      if not _numbers(value) and value != "auto":
        return f"{name}={value!r} (a number is due)"
    elif isinstance(ref, (int, float)) and not _numbers(value):
      return f"{name}={value!r} (a number is due)"
  return None


def _numbers(value) -> bool:
  """A number (not a flag), or a sequence of numbers."""
  if isinstance(value, tuple):
    return all(_numbers(v) for v in value)
  return isinstance(value, (int, float)) and not isinstance(value, bool)
