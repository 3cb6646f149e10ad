"""Tiny pretrained models for the tests of shipped models: a few steps of a recipe's `tiny` variant on the
shipped sample, and a bundle of it placed in a temporary catalogue with its card (tests monkeypatch
`jax_iso.pretrained.FOLDER` to that folder)."""
import importlib
import json
import pathlib

from jax_iso import jobs
from jax_iso.samples import FIBSEM_10NM
from jax_iso.train.export import export_bundle


def pretrain_run(root: pathlib.Path, recipe_name: str) -> pathlib.Path:
  """`root/run`: configs/pretrain/RECIPE.py:tiny trained on the shipped sample alone (weight 1)."""
  config = importlib.import_module(f"configs.pretrain.{recipe_name}").get_config("tiny")
  with config.unlocked():
    config.data.path, config.data.weights = str(FIBSEM_10NM), (1.0,)
  jobs.train(config, root / "run", show_progress=False)
  return root / "run"


def ship(run: pathlib.Path, models: pathlib.Path, name: str, card: dict, card_md: str) -> pathlib.Path:
  """The bundle of `run` as `models/NAME` with `card` (card.json) and `card_md` (card.md); its folder."""
  models.mkdir(exist_ok=True)
  folder = export_bundle(run, models / name)
  (folder / "card.json").write_text(json.dumps(card))
  (folder / "card.md").write_text(card_md)
  return folder
