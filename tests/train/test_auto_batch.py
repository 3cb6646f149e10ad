"""`data.batch_size = "auto"`: on a device that reports its memory (a fake one here) the largest power of two crops
per device whose compiled train step fits the share, by the same accounting (`fit_check.step_bytes`), with the
run's own step compiled for it; the CPU's fallback; a resumed run keeps its batch; a device too small for one crop
per device gets the fit check's one line (exit code 2 from the command). The shipped accelerator configs say
"auto" where it is sound."""
import importlib
import json
import logging

import jax
import jax.numpy as jnp
import pytest
from absl import flags
from ml_collections import config_flags

from configs import common, unet
from jax_iso import device_memory, mesh as mesh_lib, methods, runconfig
from jax_iso.cli.main import main
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.train import auto_batch, config_checks, engine, fit_check, resolve, setup
from jax_iso.train.inputs import open_inputs


def _fake(limit):
  return device_memory.DeviceMemory(limit=int(limit), kind="Fake GPU")


def _auto(aniso_path, **data):
  config = unet.get_config("tiny")
  config.data.update({"path": str(aniso_path), "batch_size": "auto", **data})
  return config


@pytest.fixture(scope="module")
def sized(aniso_path):
  """(the resolved tiny config with data.batch_size "auto", one crop's shape and dtype, the mesh, and the train
  step's bytes per device for 1, 2 and 4 crops per device, as compiled)."""
  config = runconfig.freeze(_auto(aniso_path))
  inputs = open_inputs(config)
  try:
    config = resolve.resolve(config, inputs)
  finally:
    inputs.close()
  crop = jax.ShapeDtypeStruct((32, 32), jnp.uint8)
  mesh = mesh_lib.make_mesh(config.mesh)
  n = mesh.devices.size
  probe = engine.build(runconfig.replace(config, data={"batch_size": n}), mesh)
  need = {k: fit_check.step_bytes(probe, jax.ShapeDtypeStruct((k * n,) + crop.shape, crop.dtype)) for k in (1, 2, 4)}
  return config, crop, mesh, need


def _between(need, k):
  """A fake device whose share of the limit lies halfway between the step with k and 2k crops per device."""
  return _fake((need[k] + need[2 * k]) / 2 / auto_batch.DEVICE_SHARE)


def test_the_derived_batch_fits_the_share_and_the_next_larger_would_not(sized, caplog):
  config, crop, mesh, need = sized
  n = mesh.devices.size
  assert need[1] < need[2] < need[4]
  memory = _between(need, 2)
  resolved, built, how = auto_batch.resolve(config, mesh, crop, memory=memory)
  assert resolved.data.batch_size == 2 * n and built.sample.shape[0] == 2 * n
  room = auto_batch.DEVICE_SHARE * memory.limit
  at = lambda k: fit_check.step_bytes(built, jax.ShapeDtypeStruct((k * n,) + crop.shape, crop.dtype))
  assert at(2) <= room < at(4)                          # the same compiled-bytes accounting
  assert how.startswith(f"data.batch_size=auto: {2 * n} (2 a device): the step needs ")
  assert "of the Fake GPU's" in how and "\n" not in how
  jax.config.update("jax_log_compiles", True)          # the run's step for that batch is compiled already
  try:
    with caplog.at_level(logging.WARNING):
      fit_check.check(resolved, built, jax.ShapeDtypeStruct((2 * n,) + crop.shape, crop.dtype), memory=memory)
  finally:
    jax.config.update("jax_log_compiles", False)
  assert not [r for r in caplog.records if "Compiling jit(train_step)" in r.getMessage()]


def test_a_run_records_its_auto_batch_and_resumes_with_it(aniso_path, sized, tmp_path, monkeypatch, capsys):
  _, _, mesh, need = sized
  n = mesh.devices.size
  workdir = tmp_path / "run"
  monkeypatch.setattr(device_memory, "local_memory", lambda devices=None: _between(need, 1))
  with setup(_auto(aniso_path), workdir) as run:
    assert run.config.data.batch_size == n and next(run.batches).shape[0] == n
  assert json.loads((workdir / "config.json").read_text())["data"]["batch_size"] == n
  assert f"train unet: data.batch_size=auto: {n} (1 a device)" in capsys.readouterr().err
  monkeypatch.setattr(device_memory, "local_memory", lambda devices=None: _fake(10 ** 12))   # a larger device
  with setup(_auto(aniso_path), workdir) as run:
    assert run.config.data.batch_size == n
  assert f"data.batch_size=auto: {n}, the batch the run in {workdir} was started with" in capsys.readouterr().err
  with pytest.raises(UserError, match=f"holds a run trained with data.batch_size={n}; resume it with "
                                      f"data.batch_size={n} \\(or auto\\)"):
    setup(_auto(aniso_path, batch_size=4 * n), workdir, log=False)


def test_the_cpu_gets_the_fallback_without_compiling(sized):
  config, crop, mesh, _ = sized
  n = mesh.devices.size
  resolved, built, how = auto_batch.resolve(config, mesh, crop, memory=None)
  assert resolved.data.batch_size == -(-auto_batch.CPU_BATCH // n) * n == built.sample.shape[0]
  assert "the fallback of 8 crops a step where the device reports no memory (a CPU)" in how
  capped = runconfig.replace(config, data={"max_batch_size": n})
  assert auto_batch.resolve(capped, mesh, crop, memory=None)[0].data.batch_size == n
  number = runconfig.replace(config, data={"batch_size": "3"})      # text from the command line over "auto"
  resolved, _, how = auto_batch.resolve(number, mesh, crop, memory=_fake(1))
  assert resolved.data.batch_size == 3 and how is None


def test_a_device_too_small_for_one_crop_per_device_is_refused_in_one_line(aniso_path, tmp_path, monkeypatch,
                                                                           capsys):
  monkeypatch.setattr(device_memory, "local_memory", lambda devices=None: _fake(10 ** 6))
  workdir = tmp_path / "w"
  code = main(["jax-iso", "train", "--config=unet:tiny", f"--workdir={workdir}", f"--config.data.path={aniso_path}",
               "--config.data.batch_size=auto"])
  err = capsys.readouterr().err.strip()
  assert code == 2, err
  assert len(err.splitlines()) == 1 and "more than the Fake GPU's 1.0 MB, even with one crop per device" in err
  assert "lower data.crop (now 32) or model.width (now 8)" in err
  assert not workdir.exists()


def _linear(fixed, per, *, power=1.0):
  calls = []

  def measure(k):
    calls.append(k)
    return int(fixed + per * k ** power)
  return measure, calls


@pytest.mark.parametrize("power, room, cap, expect", [
    (1.0, 1000 + 100 * 12, 64, 8),     # linear: the line's guess (8) fits, 16 does not
    (1.0, 1000 + 100 * 2.5, 64, 2),    # 2 fits, 4 is checked and does not
    (1.0, 1000 + 100 * 1e6, 64, 64),   # the cap
    (1.0, 1000 + 100 * 1e6, 24, 16),   # a cap that is no power of two: the power below it
    (0.7, 1000 + 100 * 20, 64, 64),    # sublinear: the line guesses low (16), doubling finds the cap
    (1.3, 1000 + 100 * 12, 64, 4),     # superlinear: the line guesses 8 (too many), halving finds 4
    (1.0, 1000 + 150, 64, 1),          # only one crop per device fits
    (1.0, 900, 64, 1),                 # not even one fits the share: one (the limit decides, `resolve`)
])
def test_the_search_finds_the_largest_power_of_two_that_fits_in_few_measures(power, room, cap, expect):
  measure, calls = _linear(1000, 100, power=power)
  k = auto_batch.largest(measure, room=room, cap=cap)
  assert k == expect
  assert measure(k) <= room or k == 1
  assert 2 * k > cap or measure(2 * k) > room                          # the next larger does not fit (or is capped)
  assert len(set(calls)) <= 2 + auto_batch._ATTEMPTS                    # pylint: disable=protected-access


def test_batch_settings():
  assert config_checks.batch_setting("auto") is None and config_checks.batch_setting(None) is None
  assert config_checks.batch_setting(" AUTO ") is None
  assert config_checks.batch_setting(16) == 16 and config_checks.batch_setting("16") == 16
  for bad in (0, -2, "x", 2.5, True, (4,)):
    with pytest.raises(UserError, match="must be a whole number >= 1 or \"auto\""):
      config_checks.batch_setting(bad)
  with pytest.raises(ValueError, match="resolve it first"):
    engine.build({"data": {"batch_size": "auto"}, "train": {"ema": 0.0}}, None)


# The accelerator variants ("auto" where it is sound) and the exceptions, with their reason:
# - emformer's infer.tile: the clips strategy sizes its batch only (a tile is a lateral block of every clip);
# - the diffusion methods' infer.tile: their U-Net's middle attention spans the whole tile, so it samples tiles of
#   the size it was trained on (data.crop, 256).
FIXED_TILE = {"emformer": 128, "emdiffuse_n": 256, "emdiffuse_r": 256, "vemdiffuse_a": 256, "vemdiffuse_i": 256}


@pytest.mark.parametrize("name", methods.names(learned=True))
def test_the_accelerator_configs_size_themselves_and_the_cpu_ones_keep_their_numbers(name):
  method = methods.get(name)
  accelerator = [None] + (["paper"] if "paper" in method.variants() else [])
  for variant in accelerator:
    config = method.default_config(variant)
    assert config.data.batch_size == "auto" and config.infer.batch_size == "auto", variant
    assert config.infer.tile == FIXED_TILE.get(name, "auto"), variant
    strategies.get(method.strategy).check(config.infer)
  for variant in ("cpu", "tiny"):
    assert variant in method.variants()
    config = method.default_config(variant)
    assert all(isinstance(v, int) for v in (config.data.batch_size, config.infer.batch_size, config.infer.tile))


def test_a_size_field_takes_a_number_or_auto_from_the_command_line(tmp_path):
  path = tmp_path / "c.py"
  path.write_text("import ml_collections\nfrom configs import common\n\ndef get_config():\n"
                  "  return ml_collections.ConfigDict({'data': {'batch_size': common.size()}})\n")
  for given, expect in (("16", 16), ("auto", "auto")):
    argv = ["x", f"--config={path}", f"--config.data.batch_size={given}"]
    fv = flags.FlagValues()
    config_flags.DEFINE_config_file("config", None, "", flag_values=fv, lock_config=True, sys_argv=argv)
    fv(argv)
    assert fv.config.data.batch_size == expect
  config = importlib.import_module("configs.unet").get_config()
  config.data.batch_size = 32                          # a variant's number where the default says "auto"
  assert runconfig.to_json(config)["data"]["batch_size"] == 32 and common.size().get() == "auto"
