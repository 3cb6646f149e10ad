"""vEMDiffuse-i for every factor (configs/pretrain/vemdiffuse_i.py): the recipe, and a tiny model of it pretrained
here, placed in a temporary catalogue: `reconstruct --method=vemdiffuse_i` uses it as it is without `--train_iso`,
fine-tunes it on `--train_iso` at the input's factor, refuses a factor outside its range in one line; vemdiffuse_a
starts from the same weights; experiments/ship_pretrained.py writes its card, whose check samples deterministically."""
import json
import math
import pathlib

import numpy as np
import pytest

from jax_iso import io, jobs, pretrained, runconfig
from jax_iso.cli.main import main
from jax_iso.degrade import simulate_axial
from jax_iso.errors import UserError
from jax_iso.samples import FIBSEM_10NM
from experiments import card_check as check
import tiny_pretrained


def test_the_recipe_draws_the_factor_and_trains_on_the_isotropic_volume_only():
  from configs import vemdiffuse_i  # pylint: disable=g-import-not-at-top
  from configs.pretrain import vemdiffuse_i as recipe  # pylint: disable=g-import-not-at-top
  from jax_iso.train import resolve  # pylint: disable=g-import-not-at-top
  from jax_iso.train.inputs import crop_spec, open_inputs  # pylint: disable=g-import-not-at-top
  from shared_data import shared_file  # pylint: disable=g-import-not-at-top
  config = recipe.get_config()
  assert config.is_locked and config.method == "vemdiffuse_i" and config.model.factor_input
  assert tuple(config.pairs.factors) == (2.0, 12.0) and config.pairs.match_noise and config.section_noise == "off"
  names = [pathlib.Path(p).name for p in config.data.path.split(",")]
  assert names == ["flyem_medulla_fibsem_10nm_iso_sample1.tif"] and "flyem_medulla_fibsem_10nm_iso_sample2.tif" in \
      recipe.HELD_OUT and config.data.views == "all"
  cpu = runconfig.to_json(vemdiffuse_i.get_config("cpu").model)
  assert runconfig.to_json(config.model) == {**cpu, "factor_input": True}      # the cpu network, told the factor
  assert config.diffusion.prediction == "v" and config.diffusion.mean_fraction == 0.0 and config.train.ema == 0.999
  assert crop_spec(config) == ("clip", (64, 25, 64))                          # two sections at x12
  with pytest.raises(ValueError, match="configs/pretrain/vemdiffuse_i.py:tiny"):
    recipe.get_config("nope")
  shared_file(names[0])                                   # skips where ../shared/data is absent
  inputs = open_inputs(config)
  try:
    resolved = resolve.resolve(runconfig.freeze(config), inputs)
    assert inputs.factor is None and len(inputs.volumes) == 3                # drawn per crop; three views
    assert tuple(resolved.resolved.input_shape) == (64, 64, 4)
    assert "anisotropy drawn per crop from x2 to x12" in resolve.describe(resolved)
  finally:
    inputs.close()


def test_a_factor_told_to_a_network_that_does_not_read_it_is_refused():
  from configs.pretrain import vemdiffuse_i as recipe  # pylint: disable=g-import-not-at-top
  from jax_iso.train import config_checks  # pylint: disable=g-import-not-at-top
  config = recipe.get_config("tiny")
  with config.unlocked():
    config.model.factor_input = False
  with pytest.raises(UserError, match="model.factor_input=False but pairs.factors=.2.0, 12.0."):
    config_checks.check(config, 2)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
  """`tinyvem`: configs/pretrain/vemdiffuse_i.py:tiny trained 4 steps on the shipped sample (its 3 views, factors
  2 to 12), in a temporary catalogue with its card (a 1-step default fine-tune); x4 and x20 sections of a 64^3
  crop of the sample and the crop itself (isotropic)."""
  root = tmp_path_factory.mktemp("vemdiffuse_pretrained")
  card = {"method": "vemdiffuse_i", "default_for": ["vemdiffuse_i"], "summary": "a tiny vEMDiffuse-i (tests)",
          "factors": [2.0, 12.0], "steps": 4, "hours": 0.0, "machine": "test", "fine_tune_steps": {"default": 1}}
  tiny_pretrained.ship(tiny_pretrained.pretrain_run(root, "vemdiffuse_i"), root / "models", "tinyvem", card,
                       "# tinyvem\n")
  iso = io.read_volume(FIBSEM_10NM)[0][:64, 48:112, 48:112]
  io.write_volume(root / "iso.tif", iso, (10.0, 10.0, 10.0))
  x4 = np.rint(np.asarray(simulate_axial(iso / 255.0, 4.0, axis=0)) * 255).astype(np.uint8)
  io.write_volume(root / "x4.tif", x4, (40.0, 10.0, 10.0))
  io.write_volume(root / "x20.tif", x4, (200.0, 10.0, 10.0))
  return root


@pytest.fixture
def shipped(catalogue, monkeypatch):
  monkeypatch.setattr(pretrained, "FOLDER", catalogue / "models")
  return catalogue


@pytest.mark.slow
def test_reconstruct_without_train_iso_uses_the_shipped_model_as_it_is(shipped, tmp_path):
  out = jobs.reconstruct(str(shipped / "x4.tif"), str(tmp_path / "o.tif"), method="vemdiffuse_i", samples=2,
                         sample_steps=2, show_progress=False)
  assert out["route"] == "load" and out["model_name"] == "tinyvem" and "fit" not in out
  assert out["output_shape"] == [64, 64, 64] and out["strategy"]["samples"] == 2
  made = io.provenance(tmp_path / "o.tif")
  assert made["pretrained"] == "tinyvem" and made["model_route"] == "load" and "train_steps" not in made
  again = check.run("tinyvem", "vemdiffuse_i", shipped / "x4.tif", tmp_path / "p.tif",
                    {"samples": 2, "steps": 2})
  np.testing.assert_array_equal(again, io.read_volume(tmp_path / "o.tif")[0])    # the same seed, the same volume


@pytest.mark.slow
@pytest.mark.parametrize("argv,fragment", [
    (["reconstruct", "--method=vemdiffuse_i", "--input={x20}"],
     "the shipped tinyvem model serves x2 to x12 but {x20} is x20; give --train_iso=ISO"),
    (["predict", "--model=tinyvem", "--input={x20}"], "serves anisotropies x2 to x12 but"),
    (["reconstruct", "--method=vemdiffuse_i", "--input={x4}", "--train_iso={iso}", "--train_steps=0"],
     "is what a model is fine-tuned on, but with --init=pretrained and --train_steps=0 none is"),
    (["reconstruct", "--method=vemdiffuse_i", "--input={x4}", "--train_steps=3"],
     "--train_steps=3 fine-tunes --method=vemdiffuse_i on an isotropic volume, not on the anisotropic input"),
])
def test_bad_input_with_a_shipped_vemdiffuse_is_one_line(shipped, tmp_path, capsys, argv, fragment):
  paths = {name: str(shipped / f"{name}.tif") for name in ("x4", "x20", "iso")}
  argv = [a.format(**paths) for a in argv]
  code = main(["jax-iso", *argv, f"--output={tmp_path / 'o.tif'}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and fragment.format(**paths) in err[0], err
  assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_train_iso_fine_tunes_the_shipped_model_at_the_inputs_factor(shipped, tmp_path):
  out = jobs.reconstruct(str(shipped / "x4.tif"), str(tmp_path / "o.tif"), method="vemdiffuse_i",
                         train_iso=str(shipped / "iso.tif"), workdir=str(tmp_path / "w"), samples=1,
                         sample_steps=1, show_progress=False)
  assert out["route"] == "fine_tune" and out["model_name"] == "tinyvem" and out["fit"]["steps"] == 1
  tuned = json.loads((tmp_path / "w" / "config.json").read_text())
  assert tuned["method"] == "vemdiffuse_i" and tuned["data"]["path"] == str(shipped / "iso.tif")
  assert tuned["pairs"]["factors"] == [4.0, 4.0] and tuned["model"]["factor_input"]   # the input's factor only
  assert tuned["data"]["views"] == "lateral" and tuned["data"]["weights"] is None
  assert tuned["train"]["init_from"] == str(shipped / "models" / "tinyvem")
  assert io.read_volume(tmp_path / "o.tif")[0].shape == (64, 64, 64)


@pytest.mark.slow
@pytest.mark.long
def test_vemdiffuse_a_fine_tunes_the_same_weights_on_the_inputs_sections(shipped, tmp_path):
  out = jobs.reconstruct(str(shipped / "x4.tif"), str(tmp_path / "o.tif"), method="vemdiffuse_a", init="tinyvem",
                         train_steps=1, workdir=str(tmp_path / "w"), samples=1, sample_steps=1, show_progress=False)
  assert out["route"] == "fine_tune" and out["model_name"] == "tinyvem"
  tuned = json.loads((tmp_path / "w" / "config.json").read_text())
  assert tuned["method"] == "vemdiffuse_a" and tuned["data"]["path"] == str(shipped / "x4.tif")
  assert tuned["pairs"]["factors"] == [4.0, 4.0] and tuned["data"]["frames"] <= 16
  assert io.read_volume(tmp_path / "o.tif")[0].shape == (64, 64, 64)


@pytest.mark.slow
def test_shipping_writes_a_card_whose_check_samples_deterministically(catalogue, tmp_path, monkeypatch, capsys):
  """experiments/ship_pretrained.py on the tiny run: the factor range, and the card check of a sampling model
  (48 x 64 x 64 of the sample at x4, 2 samples of 3 steps), which gives the same PSNR when run again."""
  from experiments import ship_pretrained  # pylint: disable=g-import-not-at-top
  card = ship_pretrained.ship(catalogue / "run", "shippedvem", folder=tmp_path / "models",
                              recipe="configs/pretrain/vemdiffuse_i.py", summary="a tiny vEMDiffuse-i (tests)")
  assert card["method"] == "vemdiffuse_i" and card["factors"] == [2.0, 12.0]
  got = card["check"]
  assert {k: got[k] for k in ("crop", "factor", "samples", "steps")} == check.VEMDIFFUSE
  assert set(got) == {"crop", "factor", "samples", "steps", "psnr", "cubic_psnr", "tolerance"}
  assert math.isfinite(got["psnr"]) and got["cubic_psnr"] > 20.0
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
  reference, path = check.make_input("vemdiffuse_i", got, tmp_path)
  out = check.run("shippedvem", "vemdiffuse_i", path, tmp_path / "o.tif", got)
  from jax_iso.metrics import psnr  # pylint: disable=g-import-not-at-top
  assert out.shape == reference.shape == (48, 64, 64)
  assert round(float(psnr(out / 255.0, reference / 255.0)), 3) == pytest.approx(got["psnr"], abs=1e-3)
  capsys.readouterr()
