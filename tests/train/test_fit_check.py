"""The check that a training run fits the device: the tiny config passes on the CPU with one compile of its
step; a step bigger than the device is refused in one line naming the setting to lower, with the numbers, before
anything is written (exit code 2 from the command)."""
import logging

import jax
import pytest

from jax_iso import device_memory, mesh as mesh_lib
from jax_iso.cli.main import main
from jax_iso.errors import UserError
from jax_iso.train import engine, fit_check, setup


def _fake(limit):
  return device_memory.DeviceMemory(limit=int(limit), kind="Fake GPU")


def test_the_tiny_config_fits_on_the_cpu_and_its_step_is_compiled_once(tiny_config, tmp_path, caplog):
  jax.config.update("jax_log_compiles", True)
  try:
    with caplog.at_level(logging.WARNING), setup(tiny_config, tmp_path / "run", log=False) as run:
      for _ in range(2):
        run.state, metrics = run.train_step(run.state, next(run.batches), run.step_key)
      jax.block_until_ready(metrics)
  finally:
    jax.config.update("jax_log_compiles", False)
  compiles = [r for r in caplog.records if "Compiling jit(train_step)" in r.getMessage()]
  assert len(compiles) == 1


@pytest.fixture(scope="module")
def built(aniso_path, tmp_path_factory):
  """(resolved tiny config, its engine, one batch of its crops)."""
  from configs import unet
  config = unet.get_config("tiny")
  config.data.path = str(aniso_path)
  with setup(config, tmp_path_factory.mktemp("run"), log=False) as run:
    crops = next(run.batches)
    config = run.config
  return config, engine.build(config, mesh_lib.make_mesh(config.mesh)), jax.ShapeDtypeStruct(crops.shape, crops.dtype)


def test_a_step_bigger_than_the_device_is_refused_in_one_line_with_a_batch_that_fits(built):
  config, eng, crops = built
  need = fit_check.step_bytes(eng, crops)
  one = fit_check.step_bytes(eng, jax.ShapeDtypeStruct((1,) + crops.shape[1:], crops.dtype))
  assert need > one > 0 and crops.shape[0] == 4
  assert fit_check.check(config, eng, crops, memory=_fake(need)) == need
  assert fit_check.check(config, eng, crops, memory=None) == need          # no limit reported: nothing refused
  with pytest.raises(UserError) as err:
    fit_check.check(config, eng, crops, memory=_fake((need + one) // 2))
  message = str(err.value)
  assert "\n" not in message
  assert f"needs {device_memory.readable(need)} per device, more than the Fake GPU's" in message
  assert "at data.batch_size=4: set data.batch_size=" in message
  fit = int(message.split("set data.batch_size=")[1].split()[0])
  assert 1 <= fit < 4
  assert "data.crop (now 32) or model.width (now 8)" in message


def test_a_step_that_does_not_fit_even_one_crop_names_the_crop_and_the_width(built):
  config, eng, crops = built
  with pytest.raises(UserError, match=r"even with one crop per device .*: lower data.crop \(now 32\) or "
                                      r"model.width \(now 8\)"):
    fit_check.check(config, eng, crops, memory=_fake(1000))


def test_the_train_command_refuses_it_with_exit_code_2_before_writing(aniso_path, tmp_path, monkeypatch, capsys):
  monkeypatch.setattr(device_memory, "local_memory", lambda devices=None: _fake(10 ** 6))
  workdir = tmp_path / "w"
  code = main(["jax-iso", "train", "--config=unet:tiny", f"--workdir={workdir}", f"--config.data.path={aniso_path}"])
  err = capsys.readouterr().err.strip()
  assert code == 2, err
  assert len(err.splitlines()) == 1 and "more than the Fake GPU's 1.0 MB" in err
  assert "--config.data.crop" not in err and "data.crop (now 32)" in err
  assert not workdir.exists()
