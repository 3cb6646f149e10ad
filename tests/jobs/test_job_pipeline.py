"""The one job pipeline: options checked once, model routes, and the limits the design keeps."""
import inspect
import json
import pkgutil
import importlib

import numpy as np
import pytest

import jax_iso.jobs
from jax_iso import io, jobs, methods
from jax_iso.cli.main import main
from jax_iso.errors import UserError
from jax_iso.jobs import model_route, options
from jax_iso.samples import FIBSEM_10NM


@pytest.fixture(scope="module")
def sections(tmp_path_factory):
  path = tmp_path_factory.mktemp("pipe") / "x4.tif"
  io.write_volume(path, io.read_volume(FIBSEM_10NM)[0][:64:4, :64, :64], (40.0, 10.0, 10.0))
  return path


def test_no_function_in_jobs_takes_more_than_eight_parameters():
  for info in pkgutil.iter_modules(jax_iso.jobs.__path__):
    module = importlib.import_module(f"jax_iso.jobs.{info.name}")
    for name, fn in inspect.getmembers(module, inspect.isfunction):
      if fn.__module__ == module.__name__:
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        assert len(params) <= 8, (module.__name__, name, len(params))


def test_a_setting_a_job_does_not_take_names_the_closest_one():
  with pytest.raises(UserError, match="train_step is not a setting of reconstruct; did you mean train_steps"):
    jobs.reconstruct("a.tif", "b.tif", method="unet", train_step=5)
  with pytest.raises(UserError, match="masks is not a setting of denoise"):
    options.make("denoise", masks="m.tif")


@pytest.mark.parametrize("settings,fragment", [
    ({"method": "cubic", "train_steps": 5}, "train_steps=5 sets how a model is obtained; method=cubic learns nothing"),
    ({"method": "unet", "init": "scratch", "train_steps": 0}, "train_steps=0 trains nothing"),
    ({"method": "unet", "train_steps": -1}, "train_steps=-1 must be >= 0"),
    ({"method": "unet", "variant": "huge"}, "variant=huge is not a variant of unet"),
    ({"method": "unet", "init": "nope.bundle"}, "nope.bundle does not exist"),
    ({"method": "unet", "init": "pretrained", "train_steps": 0, "variant": "tiny"}, "pretrained"),
])
def test_route_settings_are_checked_before_anything_is_written(sections, tmp_path, settings, fragment):
  with pytest.raises(UserError, match=fragment):
    jobs.reconstruct(str(sections), str(tmp_path / "o.tif"), **settings)
  assert list(tmp_path.iterdir()) == []


def test_bad_settings_at_the_command_line_are_one_line_with_flags(sections, tmp_path, capsys):
  for argv, fragment in ((["--steps=5"], "--train_steps=N sets a learned method's training steps"),
                         (["--method=unet", "--variant=huge"], "--variant=huge is not a variant of unet")):
    code = main(["jax-iso", "reconstruct", f"--input={sections}", f"--output={tmp_path / 'o.tif'}", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err
  assert list(tmp_path.iterdir()) == []


def test_routes():
  unet, cubic = methods.get("unet"), methods.get("cubic")
  assert model_route.choose(options.Options(method="cubic"), cubic).kind == "none"
  fit = model_route.choose(options.Options(method="unet", variant="tiny", train_steps=3), unet)
  assert (fit.kind, fit.steps, fit.variant) == ("fit", 3, "tiny")
  assert model_route.choose(options.Options(init="run"), unet, default_init="scratch") == \
      model_route.Route("load", source="run")
  assert model_route.choose(options.Options(init="run", train_steps=5), unet) == \
      model_route.Route("fine_tune", source="run", steps=5)
  with pytest.raises(UserError, match="fine-tuning init=run keeps its own config"):
    model_route.choose(options.Options(init="run", train_steps=5, variant="tiny"), unet)
  with pytest.raises(UserError, match="workdir=w sets how a model is trained; with init=run"):
    model_route.choose(options.Options(init="run", workdir="w"), unet)


@pytest.mark.slow
def test_a_model_fine_tuned_on_the_input_starts_from_its_parameters(sections, tmp_path):
  first = jobs.reconstruct(str(sections), str(tmp_path / "a.tif"), method="unet", variant="tiny", train_steps=2,
                           workdir=str(tmp_path / "first"), show_progress=False)
  assert first["route"] == "fit" and first["fit"]["steps"] == 2
  loaded = jobs.reconstruct(str(sections), str(tmp_path / "b.tif"), method="unet", init=str(tmp_path / "first"),
                            show_progress=False)
  assert loaded["route"] == "load" and "fit" not in loaded
  np.testing.assert_array_equal(io.read_volume(tmp_path / "a.tif")[0], io.read_volume(tmp_path / "b.tif")[0])
  tuned = jobs.reconstruct(str(sections), str(tmp_path / "c.tif"), method="unet", init=str(tmp_path / "first"),
                           train_steps=2, workdir=str(tmp_path / "tuned"), show_progress=False)
  assert tuned["route"] == "fine_tune" and tuned["fit"]["steps"] == 2
  saved = json.loads((tmp_path / "tuned" / "config.json").read_text())
  assert saved["train"]["init_from"] == str(tmp_path / "first") and saved["model"]["width"] == 8
  provenance = io.provenance(tmp_path / "c.tif")
  assert provenance["model_route"] == "fine_tune" and provenance["train_steps"] == 2
  assert not np.array_equal(io.read_volume(tmp_path / "a.tif")[0], io.read_volume(tmp_path / "c.tif")[0])
