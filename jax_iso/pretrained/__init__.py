"""The models that ship with jax_iso: trained for hours on several EM volumes, each in its own folder with its
parameters (an orbax bundle: `bundle.json` + `params/`) and its model card (`card.md`, the facts as `card.json`).

    shipped()                 # every shipped model, by name
    for_method("unet")        # the one a method starts from with init="pretrained", or None
    get("unet")               # by name; UserError naming the shipped ones
    resolve("unet")           # a shipped model's folder; any other path comes back as it is
    serves(card)              # what input a model serves, in words: "factors x2 to x12", "2-D sections, ..."

The recipes that trained them are configs in `configs/pretrain/`; the check each card states, which CI repeats,
is `experiments/card_check.py`'s (tests/test_pretrained.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib

from jax_iso.errors import UserError

FOLDER = pathlib.Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Shipped:
  name: str                 # folder name, what `predict --model=NAME` and `jax-iso models` call it
  method: str               # the registry method it serves
  path: pathlib.Path        # the bundle folder
  card: dict                # card.json: data, factor range, steps, hours, machine, scores


def shipped() -> dict[str, Shipped]:
  """The shipped models found in this folder (a bundle with its card.json), by name."""
  found = {}
  for folder in sorted(p for p in FOLDER.iterdir() if (p / "bundle.json").is_file() and (p / "card.json").is_file()):
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    found[folder.name] = Shipped(folder.name, card["method"], folder, card)
  return found


def for_method(method: str) -> Shipped | None:
  """The shipped model `init="pretrained"` starts `method` from (its card says `default_for`), or None."""
  return next((m for m in shipped().values() if method in m.card.get("default_for", ())), None)


def get(name: str) -> Shipped:
  """The shipped model `name`; UserError naming the shipped ones."""
  models = shipped()
  if name not in models:
    raise UserError(f"no shipped model is called {name!r}; the shipped models: {', '.join(models) or 'none'} "
                    "(`jax-iso models` lists them)")
  return models[name]


def serves(card: dict) -> str:
  """The input a model of `card` serves, in words: its anisotropy factors (an isotropic method's card
  `factors`), or, for a model of 2-D sections (a denoiser: `factors` null), any anisotropy."""
  factors = card.get("factors")
  if factors:
    lo, hi = (float(f) for f in factors)
    return f"factor x{lo:g} only" if lo == hi else f"factors x{lo:g} to x{hi:g}"
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  task = methods.get(card["method"]).task
  return {"isotropic": "any factor", "restore": "damaged sections of any volume, any anisotropy"}.get(
      task, "2-D sections, any anisotropy")


def resolve(name_or_path: str) -> str:
  """The bundle folder of a shipped model named `name_or_path` (`predict --model=NAME`), or the path itself when
  it exists or names no shipped model."""
  if os.path.exists(name_or_path):
    return name_or_path
  found = shipped().get(str(name_or_path))
  return str(found.path) if found is not None else name_or_path
