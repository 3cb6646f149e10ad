"""`jax-iso restore` from a pretrained restoration model: a tiny model of configs/pretrain/sstem_restore.py:tiny,
shipped into a temporary catalogue, is the default start, fine-tuned on the input's clean sections only (the
damaged ones excluded as the fit excludes them); `train_steps=0` applies it as it is, `init=scratch` and
`variant` fit from nothing, `init=BUNDLE` names it; without a shipped model nothing changes (a fit)."""
import json
import os

import numpy as np
import pytest

from jax_iso import io, jobs, methods, pretrained
from jax_iso.cli.main import main
from jax_iso.errors import UserError
from jax_iso.jobs import model_route, options
from jax_iso.jobs.restore import TASK
from jax_iso.samples import FIBSEM_10NM
import tiny_pretrained

pytestmark = pytest.mark.slow   # a tiny model is pretrained and fine-tuned (a minute or two on 2 CPU cores)

SPACING = (40.0, 10.0, 10.0)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
  """The bundle of 4 steps of configs/pretrain/sstem_restore.py:tiny on the shipped sample (its views at every 4th
  plane), in a catalogue folder with its card (a 2-step default fine-tune); and 10 real sections of the sample 40
  nm apart (64 x 64), section 4 lost (blank), with the clean ones."""
  folder = tmp_path_factory.mktemp("restore_pretrained")
  card = {"method": "sstem_restore", "default_for": ["sstem_restore"], "summary": "a tiny restorer (tests)",
          "factors": None, "steps": 4, "hours": 0.0, "machine": "test", "fine_tune_steps": {"default": 2}}
  shipped = tiny_pretrained.ship(tiny_pretrained.pretrain_run(folder, "sstem_restore"), folder / "models",
                                 "tinyrestore", card,
                                 "# tinyrestore\n\nA tiny restoration model, pretrained for 4 steps (tests).\n")
  clean = np.asarray(io.read_volume(FIBSEM_10NM)[0][40:80:4, 48:112, 48:112])
  damaged = clean.copy()
  damaged[4] = 0
  io.write_volume(folder / "clean.tif", clean, SPACING)
  io.write_volume(folder / "damaged.tif", damaged, SPACING)
  return {"folder": folder, "models": folder / "models", "bundle": shipped, "clean": clean, "damaged": damaged}


@pytest.fixture
def catalogue(made, monkeypatch):
  monkeypatch.setattr(pretrained, "FOLDER", made["models"])
  return made


def _restore(made, out, **settings):
  return jobs.restore(str(made["folder"] / "damaged.tif"), str(out), artifacts="missing", show_progress=False,
                      **settings)


def test_restore_starts_from_the_shipped_model_fine_tuned_on_the_clean_sections(catalogue, tmp_path):
  out = _restore(catalogue, tmp_path / "o.tif", workdir=str(tmp_path / "w"))
  assert out["route"] == "fine_tune" and out["model_name"] == "tinyrestore" and out["fit"]["steps"] == 2
  assert out["model"] == str(catalogue["bundle"]) and [d["section"] for d in out["damaged"]] == [4]
  made = io.provenance(tmp_path / "o.tif")
  assert made["pretrained"] == "tinyrestore" and made["train_steps"] == 2 and made["model_route"] == "fine_tune"
  tuned = json.loads((tmp_path / "w" / "config.json").read_text())
  assert tuned["train"]["init_from"] == str(catalogue["bundle"])
  # the input alone, its sections as they are, the damaged one excluded exactly as a fit excludes it
  assert tuned["data"]["path"] == str(catalogue["folder"] / "damaged.tif") and tuned["data"]["exclude"] == "4"
  assert tuned["data"]["weights"] is None and tuned["data"]["views"] == "lateral"
  assert tuned["data"]["frame_spacing"] == 0.0
  from jax_iso.train.inputs import open_inputs  # pylint: disable=g-import-not-at-top
  inputs = open_inputs(tuned)
  try:                                # the crops are read from the runs around section 4, never from it
    assert [(v.start, v.stop) for v in inputs.volumes] == [(0, 4), (5, 10)]
  finally:
    inputs.close()
  fixed = io.read_volume(tmp_path / "o.tif")[0]
  keep = [z for z in range(10) if z != 4]
  np.testing.assert_array_equal(fixed[keep], catalogue["damaged"][keep])     # clean sections bit for bit
  assert fixed[4].std() > 1                                                   # the blank section is filled
  assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.tif")]   # no hidden fit folder left


def test_train_steps_0_applies_the_shipped_model_as_it_is(catalogue, tmp_path, capsys):
  out = _restore(catalogue, tmp_path / "a.tif", train_steps=0)
  assert out["route"] == "load" and out["model_name"] == "tinyrestore" and "fit" not in out
  assert io.provenance(tmp_path / "a.tif")["model_route"] == "load"
  _restore(catalogue, tmp_path / "b.tif", init=str(catalogue["bundle"]))       # the bundle named: as it is
  assert main(["jax-iso", "restore", f"--input={catalogue['folder'] / 'damaged.tif'}", f"--output={tmp_path / 'c.tif'}",
               "--artifacts=missing", "--train_steps=0"]) == 0
  assert "with the shipped model tinyrestore" in capsys.readouterr().out
  ref = io.read_volume(tmp_path / "a.tif")[0]
  for name in ("b.tif", "c.tif"):
    np.testing.assert_array_equal(io.read_volume(tmp_path / name)[0], ref)


def test_init_scratch_or_a_variant_fits_from_nothing(catalogue, tmp_path, capsys):
  assert main(["jax-iso", "restore", f"--input={catalogue['folder'] / 'damaged.tif'}", f"--output={tmp_path / 's.tif'}",
               "--artifacts=missing", "--init=scratch", "--variant=tiny", "--train_steps=1"]) == 0
  out = capsys.readouterr().out
  assert "trained on the clean sections: 1 steps" in out and "shipped" not in out
  made = io.provenance(tmp_path / "s.tif")
  assert made["model_route"] == "fit" and made["train_steps"] == 1 and "pretrained" not in made
  for settings in ({"variant": "tiny"}, {"config": {"data.crop": 32}}):   # a config to train: a fit, as before
    opts = options.make("restore", input="in.tif", output="out.tif", method="sstem_restore", **settings)
    assert model_route.choose(opts, methods.get("sstem_restore"), default_init=TASK.default_init).kind == "fit"


def test_a_clean_volume_is_copied_whatever_ships(catalogue, tmp_path):
  out = jobs.restore(str(catalogue["folder"] / "clean.tif"), str(tmp_path / "c.tif"), artifacts="missing",
                     show_progress=False)
  assert out["damaged"] == [] and out["route"] == "none" and "fit" not in out
  np.testing.assert_array_equal(io.read_volume(tmp_path / "c.tif")[0], catalogue["clean"])


def test_without_a_shipped_model_restore_fits_as_before(made, tmp_path, monkeypatch, capsys):
  (tmp_path / "none").mkdir()
  monkeypatch.setattr(pretrained, "FOLDER", tmp_path / "none")
  opts = options.make("restore", input="in.tif", output="out.tif", method="sstem_restore")
  route = model_route.choose(opts, methods.get("sstem_restore"), default_init=TASK.default_init)
  assert route.kind == "fit" and route.name is None
  with pytest.raises(UserError, match="no pretrained model ships for method=sstem_restore"):
    _restore(made, tmp_path / "o.tif", init="pretrained")
  code = main(["jax-iso", "restore", f"--input={made['folder'] / 'damaged.tif'}", f"--output={tmp_path / 'p.tif'}",
               "--train_steps=0"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and "has no model to start from" in err[0], err
  assert not os.path.exists(tmp_path / "o.tif") and not os.path.exists(tmp_path / "p.tif")
