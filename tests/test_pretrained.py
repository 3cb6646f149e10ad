"""Shipped (pretrained) models: the catalogue, the routes that start from them, and each shipped model's card.

The mechanics are tested on a tiny model pretrained here the way `configs/pretrain/unet.py` pretrains the real
one (a factor drawn per crop, the factor told to the network) and placed in a temporary catalogue, and on a tiny
blind denoiser (`configs/pretrain/emdiffuse_n.py:tiny`) and a tiny restoration model
(`configs/pretrain/sstem_restore.py:tiny`) shipped by `experiments/ship_pretrained.py`; the models that really
ship are checked against the score their card states (experiments/card_check.py)."""
import json
import os
import shutil

import numpy as np
import pytest

from jax_iso import io, jobs, pretrained
from jax_iso.cli.main import main
from jax_iso.degrade import simulate_axial
from jax_iso.metrics import psnr
from experiments import card_check as check
from jax_iso.samples import FIBSEM_10NM
import tiny_pretrained
from jax_iso.train.export import export_bundle


pytestmark = pytest.mark.slow   # end to end: fixtures that train models


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
  """A temporary `jax_iso/pretrained/` holding `tinyunet`: a conditioned U-Net pretrained for 6 steps on the
  shipped sample (its 3 views, factors 2 to 12), with its card."""
  from configs.pretrain import unet as recipe  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("catalogue")
  config = recipe.get_config("tiny")
  with config.unlocked():
    config.data.path, config.data.weights = str(FIBSEM_10NM), (1.0,)
    config.train.steps, config.train.ema = 6, 0.9    # with a moving average, as the real recipe
  jobs.train(config, root / "run", show_progress=False)
  card = {"method": "unet", "default_for": ["unet"], "summary": "a tiny U-Net for every factor (tests)",
          "factors": [2.0, 12.0], "steps": 6, "hours": 0.0, "machine": "test", "fine_tune_steps": {"default": 2}}
  tiny_pretrained.ship(root / "run", root / "models", "tinyunet", card,
                       "# tinyunet\n\nA tiny conditioned U-Net, pretrained for 6 steps (tests).\n")
  sections = root / "x4.tif"
  iso = io.read_volume(FIBSEM_10NM)[0][:64, :64, :64]
  io.write_volume(sections, np.rint(np.asarray(simulate_axial(iso / 255.0, 4.0, axis=0)) * 255).astype(np.uint8),
                  (40.0, 10.0, 10.0))
  x20 = root / "x20.tif"
  io.write_volume(x20, io.read_volume(sections)[0], (200.0, 10.0, 10.0))
  return {"folder": root / "models", "sections": sections, "x20": x20, "root": root}


@pytest.fixture
def shipped(catalogue, monkeypatch):
  monkeypatch.setattr(pretrained, "FOLDER", catalogue["folder"])
  return catalogue


def test_the_catalogue_lists_the_shipped_models(shipped, capsys):
  assert list(pretrained.shipped()) == ["tinyunet"] and pretrained.for_method("unet").name == "tinyunet"
  assert pretrained.for_method("a2i") is None
  assert main(["jax-iso", "models"]) == 0
  out = capsys.readouterr().out
  assert "tinyunet: a tiny U-Net for every factor" in out and "factors x2 to x12" in out
  assert main(["jax-iso", "models", "--name=tinyunet"]) == 0 and "pretrained for 6 steps" in capsys.readouterr().out
  assert main(["jax-iso", "models", "--name=nope"]) == 2
  assert "no shipped model is called 'nope'; the shipped models: tinyunet" in capsys.readouterr().err


def test_reconstruct_starts_from_the_shipped_model_and_fine_tunes_it(shipped, tmp_path):
  out = jobs.reconstruct(str(shipped["sections"]), str(tmp_path / "o.tif"), method="unet", show_progress=False)
  assert out["route"] == "fine_tune" and out["model_name"] == "tinyunet" and out["fit"]["steps"] == 2
  made = io.provenance(tmp_path / "o.tif")
  assert made["pretrained"] == "tinyunet" and made["train_steps"] == 2 and made["model_route"] == "fine_tune"
  assert os.listdir(tmp_path) == ["o.tif"]                 # the fine-tune's folder is gone
  # a longer fine-tune keeps a moving average that can follow it (the model's 0.9 would hardly leave the start),
  # in buffers of its own (the step donates parameters and average both)
  out = jobs.reconstruct(str(shipped["sections"]), str(tmp_path / "p.tif"), method="unet", train_steps=12,
                         workdir=str(tmp_path / "w"), show_progress=False)
  config = json.loads((tmp_path / "w" / "config.json").read_text())
  assert out["fit"]["steps"] == 12 and config["train"]["ema"] == pytest.approx(1 - 10 / 12)
  assert config["optim"]["lr"] == pytest.approx(0.3 * 1e-3) and config["optim"]["warmup_steps"] == 1


def test_as_it_is_the_same_through_reconstruct_predict_and_the_command_line(shipped, tmp_path, capsys):
  a = jobs.reconstruct(str(shipped["sections"]), str(tmp_path / "a.tif"), method="unet", init="pretrained",
                       train_steps=0, show_progress=False)
  assert a["route"] == "load" and "fit" not in a
  jobs.predict("tinyunet", str(shipped["sections"]), str(tmp_path / "b.tif"), show_progress=False)
  assert main(["jax-iso", "predict", "--model=tinyunet", f"--input={shipped['sections']}",
               f"--output={tmp_path / 'c.tif'}"]) == 0
  ref = io.read_volume(tmp_path / "a.tif")[0]
  for name in ("b.tif", "c.tif"):
    np.testing.assert_array_equal(io.read_volume(tmp_path / name)[0], ref)
  scratch = jobs.reconstruct(str(shipped["sections"]), str(tmp_path / "d.tif"), method="unet", init="scratch",
                             variant="tiny", train_steps=1, show_progress=False)
  assert scratch["route"] == "fit" and scratch["model_name"] is None
  capsys.readouterr()


def test_validate_ranks_the_learned_method_as_reconstruct_runs_it(shipped, tmp_path):
  """Without init, validate scores the shipped model fine-tuned on the kept sections (what reconstruct would do),
  and says so; init=scratch goes back to a fit."""
  out = jobs.validate(str(shipped["sections"]), ["unet"], out_dir=str(tmp_path / "v"), train_steps=1,
                      show_progress=False)
  assert out["methods"]["unet"]["model_route"] == "fine_tune (tinyunet)" and out["methods"]["unet"]["fit"]["steps"] == 1
  out = jobs.validate(str(shipped["sections"]), ["unet"], out_dir=str(tmp_path / "w"), train_steps=1, init="scratch",
                      variant="tiny", show_progress=False)
  assert out["methods"]["unet"]["model_route"] == "fit"


def test_a_shipped_model_that_does_not_serve_the_factor_is_the_default_no_longer(catalogue, tmp_path,
                                                                                   monkeypatch, capsys):
  """A shipped model of a narrower factor range (the EMformer ships for x4) is skipped by the default route on an
  input of another factor, which is fitted from scratch and says so; naming it still refuses the mismatch."""
  folder = tmp_path / "models" / "x2unet"
  shutil.copytree(catalogue["folder"] / "tinyunet", folder)
  card = json.loads((folder / "card.json").read_text())
  (folder / "card.json").write_text(json.dumps({**card, "factors": [2.0, 3.0]}))
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
  out = jobs.reconstruct(str(catalogue["sections"]), str(tmp_path / "o.tif"), method="unet", train_steps=1)
  assert out["route"] == "fit" and out["model_name"] is None and io.provenance(tmp_path / "o.tif")["model_route"] == "fit"
  assert "the shipped x2unet model serves x2 to x3, the input is x4: fitting method=unet on it" in capsys.readouterr().err
  code = main(["jax-iso", "reconstruct", "--method=unet", "--init=pretrained", "--train_steps=0",
               f"--input={catalogue['sections']}", f"--output={tmp_path / 'p.tif'}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and "the shipped x2unet model serves x2 to x3 but" in err[0], err


@pytest.mark.long
def test_a_one_factor_model_pretrained_on_a_mixture_fine_tunes_on_the_input(catalogue, tmp_path):
  """configs/pretrain/emformer.py's kind of model (a weighted mixture of volumes, one data.factor): a fine-tune
  trains on the input alone, at the input's own factor, and inpaints its lost sections."""
  from configs.pretrain import emformer as recipe  # pylint: disable=g-import-not-at-top
  config = recipe.get_config("tiny")
  with config.unlocked():
    config.data.path = f"{FIBSEM_10NM},{catalogue['sections']}"
    config.data.weights, config.train.steps = (3.0, 1.0), 2
  jobs.train(config, tmp_path / "run", show_progress=False)
  export_bundle(tmp_path / "run", tmp_path / "emformer")
  out = jobs.reconstruct(str(catalogue["sections"]), str(tmp_path / "o.tif"), method="emformer",
                         init=str(tmp_path / "emformer"), train_steps=1, inpaint="5", workdir=str(tmp_path / "w"),
                         show_progress=False)
  tuned = json.loads((tmp_path / "w" / "config.json").read_text())
  assert out["route"] == "fine_tune" and tuned["data"]["path"] == str(catalogue["sections"])
  assert tuned["data"]["weights"] is None and tuned["data"]["views"] == "lateral"
  assert tuned["data"]["frame_spacing"] == 0.0                       # the input's own sections, as they are
  assert io.read_volume(tmp_path / "o.tif")[0].shape == tuple(out["output_shape"])


@pytest.mark.parametrize("argv,fragment", [
    (["predict", "--model=nope", "--input={sections}"], "--model=nope is neither a bundle or training workdir nor a "
                                                        "shipped model (shipped: tinyunet"),
    (["predict", "--model=tinyunet", "--input={x20}"], "serves anisotropies x2 to x12 but"),
    (["reconstruct", "--method=a2i", "--init=tinyunet", "--input={sections}"], "holds a unet model"),
    (["reconstruct", "--method=unet", "--init=pretrained", "--variant=tiny", "--input={sections}"],
     "keeps its own config: drop variant"),
])
def test_bad_input_with_shipped_models_is_one_line(shipped, tmp_path, capsys, argv, fragment):
  argv = [a.format(**{k: str(v) for k, v in shipped.items()}) for a in argv]
  code = main(["jax-iso", *argv, f"--output={tmp_path / 'o.tif'}"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and fragment in err[0], err
  assert os.listdir(tmp_path) == []


def test_a_shipped_model_exports_to_the_zoo_at_a_factor(shipped, tmp_path):
  pytest.importorskip("onnxruntime")
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  from jax_iso.zoo import export_bioimageio  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match="serves anisotropies x2 to x12; a package is for one: give factor=F"):
    export_bioimageio("tinyunet", tmp_path / "p", volume=shipped["sections"])
  out = export_bioimageio("tinyunet", tmp_path / "p.zip", volume=shipped["sections"], factor=4.0)
  assert out.exists()


def _check_again(name, folder):
  """The card's check of the shipped model `name`, computed again: (its PSNR, what the card compares it with
  and that one's PSNR here). The input and the model's output come from experiments/card_check.py, through the
  job a user runs; the PSNRs are this test's own."""
  model = pretrained.get(name)
  card = model.card["check"]
  reference, path = check.make_input(model.method, card, folder)
  out = check.run(name, model.method, path, folder / "o.tif", card)
  if check.task(model.method) == "restore":      # the two damaged sections; linear: their neighbours' mean
    damaged = [int(card["precipitates"]), int(card["lost"])]
    truth = reference[damaged] / 255.0
    between = np.stack([reference[k - 1].astype(np.float64) + reference[k + 1] for k in damaged]) / 510.0
    return psnr(out[damaged] / 255.0, truth), "linear_psnr", psnr(between, truth)
  got = psnr(out / 255.0, reference[:out.shape[0]] / 255.0)
  if check.task(model.method) == "denoise":      # the noisy input, as it was written
    return got, "noisy_psnr", psnr(io.read_volume(path)[0] / 255.0, reference / 255.0)
  return got, "cubic_psnr", card["cubic_psnr"]    # cubic is the card's (its own job, not the model's)


def _damaged_psnr(card, folder):
  """A restoration check's damaged input (as written in `folder`) scored on its two damaged sections."""
  reference, path = check.make_input("sstem_restore", card, folder)
  damaged = [int(card["precipitates"]), int(card["lost"])]
  return psnr(io.read_volume(path)[0][damaged] / 255.0, reference[damaged] / 255.0)


@pytest.mark.ci          # CI repeats every shipped model's card check (make test-ci): a changed model or loader fails
@pytest.mark.parametrize("name", list(pretrained.shipped()))
def test_each_shipped_model_gives_the_score_its_card_states(name, tmp_path):
  """The card's check, the model as it is, within the card's tolerance (XLA's float32 sums differ slightly between
  CPUs: a few thousandths of a dB): an isotropic model reconstructs the shipped sample cut into sections at the
  card's factor and beats cubic there; a denoiser denoises 4 sections of it under Gaussian noise (sigma 0.08,
  numpy's fixed seed) and beats the noisy input; a restoration model repairs a section of it with precipitates
  and a lost one and beats linear interpolation (and the damaged input) there."""
  card = pretrained.get(name).card["check"]
  got, baseline, value = _check_again(name, tmp_path)
  assert got == pytest.approx(card["psnr"], abs=card["tolerance"]), (got, card)
  assert value == pytest.approx(card[baseline], abs=card["tolerance"]), (value, card)
  assert got > value                  # and it beats the baseline there, as the card says
  if "damaged_psnr" in card:          # a restoration model: the damaged input too
    damaged = _damaged_psnr(card, tmp_path)
    assert damaged == pytest.approx(card["damaged_psnr"], abs=card["tolerance"]) and got > damaged, (damaged, card)


def _ship(run, name, folder, **settings):
  from experiments import ship_pretrained  # pylint: disable=g-import-not-at-top
  return ship_pretrained.ship(run, name, folder=folder, **settings)


def test_shipping_an_isotropic_run_writes_its_card(catalogue, tmp_path, monkeypatch, capsys):
  """experiments/ship_pretrained.py on the tiny U-Net's run: a factor range, the default fine-tune, the x4 check
  (which this test's own computation repeats)."""
  card = _ship(catalogue["root"] / "run", "shippedunet", tmp_path / "models")
  assert card["method"] == "unet" and card["default_for"] == ["unet"] and card["factors"] == [2.0, 12.0]
  assert card["fine_tune_steps"] == {"cpu": 100, "default": 400} and card["steps"] == 6
  assert set(card["check"]) == {"crop", "factor", "psnr", "cubic_psnr", "tolerance"}
  assert card["score_line"].startswith(f"check: {card['check']['psnr']:.2f} dB at x4 on the shipped sample")
  assert "- factors: x2 to x12, any fraction" in (tmp_path / "models" / "shippedunet" / "card.md").read_text()
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
  got, _, _ = _check_again("shippedunet", tmp_path)
  assert got == pytest.approx(card["check"]["psnr"], abs=card["check"]["tolerance"])
  capsys.readouterr()


def _tiny_pretrain_run(tmp_path_factory, recipe_name: str):
  """A 4-step run of configs/pretrain/RECIPE.py:tiny on the shipped sample alone (weight 1)."""
  return tiny_pretrained.pretrain_run(tmp_path_factory.mktemp(recipe_name), recipe_name)


@pytest.fixture(scope="module")
def denoiser_run(tmp_path_factory):
  """A run of configs/pretrain/emdiffuse_n.py:tiny (4 steps) on the shipped sample, its three views."""
  return _tiny_pretrain_run(tmp_path_factory, "emdiffuse_n")


def test_a_shipped_denoiser_has_a_card_of_its_own_and_serves_denoise(denoiser_run, tmp_path, monkeypatch, capsys):
  """experiments/ship_pretrained.py on a denoiser's run: no factor range and no default fine-tune, the noisy
  check (its PSNR and the noisy input's, both repeated here), the bench table; `jax-iso models` shows it as a
  model of 2-D sections, and `jax-iso denoise --input --output` alone uses it as it is."""
  bench = "results/bench_denoise_pretrained_step400_quick.json"
  card = _ship(denoiser_run, "tinydenoiser", tmp_path / "models", recipe="configs/pretrain/emdiffuse_n.py",
               summary="a tiny blind denoiser (tests)", bench=bench, fine_tune_steps=100)
  assert card["method"] == "emdiffuse_n" and card["default_for"] == ["emdiffuse_n"] and card["steps"] == 4
  assert card["factors"] is None and card["fine_tune_steps"] is None
  assert card["held_out"] == ["flyem_medulla_fibsem_10nm_iso_sample2.tif", "cremi_sstem_crop_isovem_test.tif"]
  got = card["check"]
  assert {k: got[k] for k in ("crop", "noise", "sigma", "seed", "tolerance")} == {
      "crop": [78, 82, 16, 144, 16, 144], "noise": "gaussian", "sigma": 0.08, "seed": 0, "tolerance": 0.05}
  assert 21.0 < got["noisy_psnr"] < 22.5            # sigma 0.08: 21.9 dB, a little more where clipping cuts it
  assert card["score_line"] == (f"check: {got['psnr']:.2f} dB denoising Gaussian noise of sigma 0.08 on 4 sections "
                                f"of 128x128 of the shipped sample (noisy input {got['noisy_psnr']:.2f})")
  rows = card["bench"]["rows"]
  assert card["bench"]["step"] == 400 and rows["gaussian 0.08"]["one_pass"]["psnr"] == 29.863
  md = (tmp_path / "models" / "tinydenoiser" / "card.md").read_text()
  assert "2-D sections, any anisotropy" in md and "x4" not in md and "factor" not in md
  assert "| gaussian 0.08 | 21.95 | 30.36 (3.03 s) | 29.86 (0.94 s) | 23.08 (49.89 s) |" in md
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
  assert pretrained.for_method("emdiffuse_n").name == "tinydenoiser"
  psnr_here, baseline, noisy = _check_again("tinydenoiser", tmp_path)
  assert psnr_here == pytest.approx(got["psnr"], abs=got["tolerance"]) and baseline == "noisy_psnr"
  assert noisy == pytest.approx(got["noisy_psnr"], abs=got["tolerance"])
  capsys.readouterr()
  assert main(["jax-iso", "models"]) == 0
  out = capsys.readouterr().out
  assert "method emdiffuse_n, 2-D sections, any anisotropy; 4 steps" in out and "x4" not in out
  assert "use: jax-iso denoise --input=IN --output=OUT (the default when no training data is given)" in out
  assert main(["jax-iso", "denoise", f"--input={tmp_path / 'check_input.tif'}", f"--output={tmp_path / 'd.tif'}"]) == 0
  assert "the shipped model tinydenoiser" in capsys.readouterr().out
  np.testing.assert_array_equal(io.read_volume(tmp_path / "d.tif")[0], io.read_volume(tmp_path / "o.tif")[0])
  assert io.provenance(tmp_path / "d.tif")["model_route"] == "load"


@pytest.fixture(scope="module")
def restore_run(tmp_path_factory):
  """A run of configs/pretrain/sstem_restore.py:tiny (4 steps) on the shipped sample: its three views at every
  4th plane (40 nm), as the recipe reads FlyEM."""
  return _tiny_pretrain_run(tmp_path_factory, "sstem_restore")


def test_a_shipped_restoration_model_has_a_card_of_its_own(restore_run, tmp_path, monkeypatch, capsys):
  """experiments/ship_pretrained.py on a restoration run: no factor range, the default fine-tune on the input's
  clean sections, the recipe's held-out volumes, and the check (7 sections of the sample 40 nm apart, one with
  precipitates and one lost, repaired as it is), whose PSNRs (the model's, the damaged input's and linear
  interpolation's on the two sections) this test computes again."""
  from configs.pretrain import sstem_restore as recipe  # pylint: disable=g-import-not-at-top
  bench = tmp_path / "bench_restore.json"      # experiments/bench_restore.py's summary with --model: three models
  score = lambda v: {"psnr": v, "ssim": v / 100}
  rows = [{"volume": "cremi", "init": init, "interp": "flow", "kind": "fold", "n": 8, "detected": 8,
           "damaged": score(11.0), "linear": score(16.0), "interp module": score(16.5), "restored": score(restored),
           "gain_db": restored - 16.0} for init, restored in (("pretrained", 16.25), ("fine-tuned 100", 17.5),
                                                             ("scratch 1000", 17.0))]
  fits = [{"volume": "cremi", "init": r["init"], "interp": "flow", "train_seconds": t}
          for r, t in zip(rows, (0.0, 61.2, 598.7))]
  bench.write_text(json.dumps({"train_steps": 1000, "model": "run", "step": 4, "fits": fits, "summary": rows,
                               "cpu": "a CPU"}))
  card = _ship(restore_run, "tinyrestore", tmp_path / "models", recipe="configs/pretrain/sstem_restore.py",
               summary="a tiny restoration model (tests)", bench=str(bench))
  assert [(r["init"], r["restored"]["psnr"]) for r in card["bench"]["rows"]] == [
      ("pretrained", 16.25), ("fine-tuned 100", 17.5), ("scratch 1000", 17.0)]
  assert card["method"] == "sstem_restore" and card["default_for"] == ["sstem_restore"] and card["steps"] == 4
  assert card["factors"] is None and card["fine_tune_steps"] == {"cpu": 100, "default": 400}
  assert card["held_out"] == list(recipe.HELD_OUT)
  got = card["check"]
  assert {k: got[k] for k in ("crop", "step", "precipitates", "lost", "key", "tolerance")} == {
      "crop": [52, 80, 16, 144, 16, 144], "step": 4, "precipitates": 2, "lost": 4, "key": 0, "tolerance": 0.05}
  assert got["damaged_psnr"] < got["linear_psnr"]         # a blank section: far below its neighbours' mean
  assert card["score_line"] == (f"check: {got['psnr']:.2f} dB on a section with precipitates and a lost one of the "
                                f"shipped sample (damaged {got['damaged_psnr']:.2f}, linear {got['linear_psnr']:.2f})")
  md = (tmp_path / "models" / "tinyrestore" / "card.md").read_text()
  assert "no factor range" in md and "default fine-tune: 100 steps on a CPU" in md and "cremi" in md
  assert ("| cremi | fold | fine-tuned 100 | 11.00 / 0.110 | 16.00 / 0.160 | 17.50 / 0.175 | +1.50 |" in md and
          "| cremi | fold | scratch 1000 | " in md and "cremi fine-tuned 100 61 s; cremi scratch 1000 599 s" in md)
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "models")
  assert pretrained.for_method("sstem_restore").name == "tinyrestore"
  psnr_here, baseline, linear = _check_again("tinyrestore", tmp_path)
  assert psnr_here == pytest.approx(got["psnr"], abs=got["tolerance"]) and baseline == "linear_psnr"
  assert linear == pytest.approx(got["linear_psnr"], abs=got["tolerance"])
  assert _damaged_psnr(got, tmp_path) == pytest.approx(got["damaged_psnr"], abs=got["tolerance"])
  capsys.readouterr()
  assert main(["jax-iso", "models"]) == 0
  assert "method sstem_restore" in capsys.readouterr().out
