"""The method registry: every entry's pieces exist and agree with its config, and a new method plugs in by
registering its pieces, without editing cli, jobs, train or infer."""
import dataclasses
import json

import numpy as np
import pytest

from jax_iso import io, jobs, methods
from jax_iso.cli.main import main
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.models import MODELS
from jax_iso.samples import FIBSEM_10NM
from jax_iso.train import objectives


@pytest.mark.parametrize("name", methods.names())
def test_every_entry_names_pieces_that_are_registered(name):
  method = methods.get(name)
  assert method.name == name and method.summary
  assert method.strategy in strategies.STRATEGIES
  if not method.learned:
    assert method.model is method.pairs is method.loss is None
    with pytest.raises(UserError, match="learns nothing"):
      method.default_config()
    return
  assert method.model in MODELS and method.loss in objectives.OBJECTIVES and method.task in methods.TASKS
  assert all(kind in pairs.PAIR_MAKERS for kind in method.pair_kinds)
  for variant in (None,) + method.variants():
    config = method.default_config(variant)
    assert config.method == name, variant
    assert config.model.name == method.model and config.pairs.kind == method.pairs, variant
    strategies.get(method.strategy).check(config.infer)          # its inference settings are valid
    objectives.make(method.loss, config)                          # and its loss settings


def test_lookups_and_variants():
  assert methods.names(learned=False) == ("linear", "cubic")
  assert set(methods.names(learned=True)) == {"unet", "a2i", "emformer", "vemdiffuse_a", "vemdiffuse_i",
                                              "emdiffuse_n", "emdiffuse_r", "sstem_restore"}
  assert methods.names(task="isotropic") == ("linear", "cubic", "unet", "a2i", "emformer", "vemdiffuse_a",
                                             "vemdiffuse_i")
  assert [m for m in methods.names() if methods.get(m).train_iso] == ["vemdiffuse_i"]
  assert methods.names(task="denoise") == ("emdiffuse_n",) and methods.names(task="superres") == ("emdiffuse_r",)
  assert methods.names(task="restore") == ("sstem_restore",)
  assert methods.get("emdiffuse_n").pair_kinds == ("noise", "registered", "noise_mixture")
  assert methods.get("unet").default_variant("cpu") == "cpu"
  assert methods.get("unet").default_variant("gpu") is None
  assert methods.get("cubic").default_variant("cpu") is None
  with pytest.raises(UserError, match="unknown method=magic; choose one of linear, cubic, unet, a2i, emformer, "
                     "vemdiffuse_a, vemdiffuse_i, emdiffuse_n, emdiffuse_r, sstem_restore"):
    methods.get("magic")
  with pytest.raises(UserError, match=r"method=emdiffuse_r is a superres method \(run it with `jax-iso superres`\); "
                     "choose one of linear, cubic, unet, a2i, emformer, vemdiffuse_a, vemdiffuse_i$"):
    methods.get("emdiffuse_r", task="isotropic")


def test_reconstruct_help_lists_every_isotropic_method(capsys):
  assert main(["jax-iso", "reconstruct", "--help"]) == 0
  text = capsys.readouterr().out
  for method in methods.METHODS.values():
    assert (f"{method.name} ({method.summary})" in text) == (method.task == "isotropic")


def _flat_run(src, sink, job):
  """A test strategy: every output slice is the mean of the sections, scaled by options.gain."""
  mean = job.intensity.to_unit(np.asarray(src[:])).mean(axis=0) * float(job.options["gain"])
  sink[:] = job.intensity.from_unit(np.broadcast_to(mean, sink.shape))
  return {"gain": float(job.options["gain"])}


def _flat_check(options):
  if float(options["gain"]) <= 0:
    raise UserError(f"gain={options['gain']} must be > 0")


def test_a_new_method_is_one_registration(monkeypatch, tmp_path, capsys):
  """A method with a new strategy: registering both makes `jax-iso reconstruct --method=flat` run it."""
  monkeypatch.setitem(strategies.STRATEGIES, "flat", strategies.Strategy("flat", _flat_run, _flat_check, False))
  monkeypatch.setitem(methods.METHODS, "flat", methods.Method("flat", "mean of the sections", strategy="flat",
                                                              options=(("gain", 0.5),)))
  base = 4 * np.random.default_rng(0).integers(0, 63, (1, 10, 12))             # half the mean is an integer
  sections = (base + 4 * (np.arange(6)[:, None, None] % 2)).astype(np.uint8)
  io.write_volume(tmp_path / "in.tif", sections, (40.0, 10.0, 10.0))
  assert main(["jax-iso", "reconstruct", f"--input={tmp_path / 'in.tif'}", f"--output={tmp_path / 'out.tif'}",
               "--method=flat"]) == 0
  got, spacing = io.read_volume(tmp_path / "out.tif")
  assert got.shape == (24, 10, 12) and spacing == (10.0, 10.0, 10.0)
  want = (base[0] + 2) // 2
  np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape))
  assert "(flat, x4)" in capsys.readouterr().out
  # the strategy checks its options before anything is written
  monkeypatch.setitem(methods.METHODS, "flat", dataclasses.replace(methods.get("flat"), options=(("gain", 0),)))
  with pytest.raises(UserError, match="gain=0 must be > 0"):
    jobs.reconstruct(str(tmp_path / "in.tif"), str(tmp_path / "bad.tif"), method="flat")
  assert not (tmp_path / "bad.tif").exists()


@pytest.mark.slow
def test_a_method_that_reuses_existing_pieces_is_a_config_and_one_entry(tmp_path, monkeypatch, capsys):
  """docs/adding_a_method.md: a wider U-Net is its config module and its registry entry; nothing in cli/, jobs/,
  train/ or infer/ changes, and the command line runs it (fitted, then applied through the planes strategy)."""
  (tmp_path / "unet_wide_config.py").write_text(
      "from configs import unet\n"
      "VARIANTS = unet.VARIANTS\n"
      "def get_config(arg=None):\n"
      "  config = unet.get_config(arg)\n"
      "  with config.unlocked():\n"
      "    config.method = 'unet_wide'\n"
      "    config.model.width = 2 * config.model.width\n"
      "  return config\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.setitem(methods.METHODS, "unet_wide", methods.Method(
      "unet_wide", "a U-Net twice as wide", strategy="planes", config="unet_wide_config", model="unet",
      pairs="axial", loss="regression"))
  sections = io.read_volume(FIBSEM_10NM)[0][:48:4, :64, :64]
  io.write_volume(tmp_path / "in.tif", sections, (40.0, 10.0, 10.0))
  run = tmp_path / "run"
  assert main(["jax-iso", "reconstruct", f"--input={tmp_path / 'in.tif'}", f"--output={tmp_path / 'out.tif'}",
               "--method=unet_wide", "--variant=tiny", "--train_steps=2", f"--workdir={run}"]) == 0
  assert "(unet_wide, x4)" in capsys.readouterr().out
  assert io.read_volume(tmp_path / "out.tif")[0].shape == (48, 64, 64)
  saved = json.loads((run / "config.json").read_text())
  assert saved["method"] == "unet_wide" and saved["model"]["width"] == 16        # tiny's 8, doubled
