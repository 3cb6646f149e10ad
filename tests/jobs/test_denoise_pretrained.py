"""`jax-iso denoise` from a pretrained blind EMDiffuse-n: the one-pass mean by default, samples for the uncertainty
map, the route through --init=BUNDLE and through a shipped model (a tiny bundle of the recipe's `tiny` variant,
built here), a fine-tune on a pair, and the bad inputs (one line, exit code 2, nothing written)."""
import json
import shutil

import numpy as np
import pytest

from jax_iso import io, jobs, pretrained
from jax_iso.cli.main import main
from jax_iso.samples import FIBSEM_10NM
from jax_iso.train.export import export_bundle

pytestmark = pytest.mark.slow   # a tiny model is trained (about a minute on 2 CPU cores)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  """Two clean 10 nm volumes (for the mixture and its three views), a noisy crop and its clean partner, and the
  bundle of 4 steps of configs/pretrain/emdiffuse_n.py:tiny trained on the two volumes."""
  folder = tmp_path_factory.mktemp("blind")
  vol, _ = io.read_volume(FIBSEM_10NM)
  out = {"folder": folder}
  for name, (z, y, x) in (("a", (0, 0, 0)), ("b", (40, 64, 64))):
    out[name] = folder / f"{name}.tif"
    io.write_volume(out[name], np.asarray(vol[z:z + 40, y:y + 64, x:x + 64]), (10.0, 10.0, 10.0))
  clean = np.asarray(vol[100:104, 96:144, 96:144])
  noisy = np.clip(clean / 255.0 + np.random.default_rng(0).normal(0, 0.08, clean.shape), 0, 1)
  out["clean"], out["noisy"] = folder / "clean.tif", folder / "noisy.tif"
  io.write_volume(out["clean"], clean, (10.0, 10.0, 10.0))
  io.write_volume(out["noisy"], np.round(noisy * 255).astype(np.uint8), (10.0, 10.0, 10.0))
  from configs.pretrain import emdiffuse_n  # pylint: disable=g-import-not-at-top
  config = emdiffuse_n.get_config("tiny")
  config.unlock()
  config.data.path = f"{out['a']},{out['b']}"
  config.data.weights = (1.0, 1.0)                      # the recipe's mixture, views included
  from jax_iso.jobs.train import train  # pylint: disable=g-import-not-at-top
  train(config, folder / "run", show_progress=False)
  out["bundle"] = export_bundle(folder / "run", folder / "blind.bundle")
  return out


def _read(path):
  return io.read_volume(path)[0]


def test_init_bundle_writes_the_one_pass_mean(files, capsys):
  f = files["folder"]
  assert main(["jax-iso", "denoise", f"--input={files['noisy']}", f"--output={f / 'pass.tif'}",
               f"--init={files['bundle']}"]) == 0
  assert "one-pass posterior mean" in capsys.readouterr().out
  got = _read(f / "pass.tif")
  assert got.shape == (4, 48, 48) and got.dtype == np.uint8
  out = jobs.denoise(str(files["noisy"]), str(f / "pass2.tif"), init=str(files["bundle"]), show_progress=False)
  assert out["route"] == "load" and out["strategy"]["mean"] == "pass" and out["strategy"]["samples"] == 0
  np.testing.assert_array_equal(_read(f / "pass2.tif"), got)           # deterministic: nothing is drawn


def test_samples_make_the_uncertainty_map_beside_the_one_pass_mean(files):
  f = files["folder"]
  out = jobs.denoise(str(files["noisy"]), str(f / "u_mean.tif"), init=str(files["bundle"]), samples=3,
                     uncertainty=str(f / "u_std.tif"), show_progress=False)
  s = out["strategy"]
  assert s["mean"] == "pass" and s["samples"] == 3 and s["flagged_fraction"] is not None
  np.testing.assert_array_equal(_read(f / "u_mean.tif"), _read(f / "pass.tif"))   # the output is still the pass
  std = _read(f / "u_std.tif")
  assert std.shape == (4, 48, 48) and std.dtype == np.float32 and std.max() > 0
  sampled = jobs.denoise(str(files["noisy"]), str(f / "k_mean.tif"), init=str(files["bundle"]), samples=2,
                         mean="samples", show_progress=False)
  assert sampled["strategy"]["mean"] == "samples" and sampled["strategy"]["samples"] == 2
  assert not np.array_equal(_read(f / "k_mean.tif"), _read(f / "pass.tif"))


def test_no_training_input_uses_the_shipped_model(files, tmp_path, monkeypatch, capsys):
  """With a model shipped for emdiffuse_n (the tiny bundle, as jax_iso/pretrained/emdiffuse_n/ would hold it,
  its card's fields as experiments/ship_pretrained.py writes a denoiser's: no factor range, no default fine-tune),
  `jax-iso denoise --input --output` needs nothing else, and writes what --init=BUNDLE writes."""
  shipped = tmp_path / "emdiffuse_n"
  shutil.copytree(files["bundle"], shipped)
  (shipped / "card.json").write_text(json.dumps({"method": "emdiffuse_n", "default_for": ["emdiffuse_n"],
                                                 "factors": None, "fine_tune_steps": None}))
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path)
  out = tmp_path / "out.tif"
  assert main(["jax-iso", "denoise", f"--input={files['noisy']}", f"--output={out}"]) == 0
  assert "the shipped model emdiffuse_n" in capsys.readouterr().out
  np.testing.assert_array_equal(_read(out), _read(files["folder"] / "pass.tif"))
  summary = jobs.denoise(str(files["noisy"]), str(tmp_path / "out2.tif"), show_progress=False)
  assert summary["route"] == "load" and summary["model_name"] == "emdiffuse_n"
  # a registered pair given without init: the pair-trained route (a fit from scratch), not the shipped model
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  from jax_iso.jobs import model_route, options  # pylint: disable=g-import-not-at-top
  opts = options.make("denoise", input=str(files["noisy"]), output=str(out), train_noisy=str(files["noisy"]),
                      train_clean=str(files["clean"]))
  assert model_route.choose(opts, methods.get("emdiffuse_n"), default_init="auto").kind == "fit"


def test_fine_tune_on_a_pair(files):
  """--init=BUNDLE --train_steps=N with a registered pair fine-tunes the mixture-pretrained model on the pair
  alone (its data.weights and data.views reset), keeping its one-pass mean."""
  f = files["folder"]
  out = jobs.denoise(str(files["noisy"]), str(f / "ft.tif"), init=str(files["bundle"]), train_steps=2,
                     train_noisy=str(files["noisy"]), train_clean=str(files["clean"]), workdir=str(f / "ft_run"),
                     show_progress=False)
  assert out["route"] == "fine_tune" and out["fit"]["steps"] == 2 and out["strategy"]["mean"] == "pass"
  saved = json.loads((f / "ft_run" / "config.json").read_text())
  assert saved["data"]["weights"] is None and saved["data"]["views"] == "lateral"
  assert saved["pairs"]["kind"] == "registered" and saved["diffusion"]["mean_fraction"] == 0.5


def _bad(capsys, args, words, out):
  assert main(["jax-iso"] + args) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and words in err, err
  assert not out.exists()


def test_bad_inputs_are_one_line_and_write_nothing(files, tmp_path, monkeypatch, capsys):
  out = tmp_path / "bad.tif"
  base = ["denoise", f"--input={files['noisy']}", f"--output={out}"]
  model = f"--init={files['bundle']}"
  _bad(capsys, base + [model, "--mean=median"], "mean=median is unknown", out)
  _bad(capsys, base + [model, "--samples=0"], "samples", out)
  _bad(capsys, base + [model, "--samples=4"], "samples only make the uncertainty map", out)
  _bad(capsys, base + [model, "--samples=1", f"--uncertainty={tmp_path / 'u.tif'}"], "at least 2 samples", out)
  _bad(capsys, base + [model, "--train_steps=3"], "and none is given", out)
  no_term = tmp_path / "no_term.bundle"                 # the same network, its config without the mean pass
  shutil.copytree(files["bundle"], no_term)
  meta = json.loads((no_term / "bundle.json").read_text())
  meta["config"]["diffusion"]["mean_fraction"] = 0.0
  (no_term / "bundle.json").write_text(json.dumps(meta))
  _bad(capsys, base + [f"--init={no_term}", "--mean=pass"], "needs a model trained with the one-pass mean", out)
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "none")      # no model ships: say what to give
  (tmp_path / "none").mkdir()
  _bad(capsys, base, "no pretrained emdiffuse_n model ships yet", out)
  _bad(capsys, base + ["--init=pretrained"], "no pretrained model ships for method=emdiffuse_n", out)
