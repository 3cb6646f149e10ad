"""The parameters-only loader: exactly the checkpoint's (or the EMA) parameters, no training code imported."""
import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import unet
from jax_iso.errors import UserError
from jax_iso.models import loader
from shared_data import write_sample_sections

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """Two 3-step tiny U-Net runs on x4 sections of the real sample: without and with a moving average."""
  from jax_iso.train import train_and_evaluate  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("loader")
  aniso = write_sample_sections(root / "aniso.tif", 48, depth=48)
  for name, ema in (("plain", 0.0), ("ema", 0.5)):
    config = unet.get_config("tiny")
    config.data.path, config.train.steps, config.train.ema = str(aniso), 3, ema
    train_and_evaluate(config, root / name, show_progress=False)
  return root


def _restore_whole_state(workdir):
  """The full train state of the latest checkpoint, restored the way training does."""
  from jax_iso import mesh, runconfig  # pylint: disable=g-import-not-at-top
  from jax_iso.models import build_model  # pylint: disable=g-import-not-at-top
  from jax_iso.train import checkpoint, optim, state  # pylint: disable=g-import-not-at-top
  config = runconfig.freeze(json.loads((workdir / "config.json").read_text()))
  model = build_model(config.model)
  optimizer, _ = optim.make_optimizer(config.optim, int(config.train.steps))
  sample = jax.ShapeDtypeStruct(loader.input_shape(config, model), np.float32)
  abstract = state.abstract_state(model, optimizer, sample, ema=float(config.train.ema) > 0,
                                  sharding=mesh.replicated(mesh.make_mesh()))
  ckpt = checkpoint.Checkpointer(workdir)
  try:
    return ckpt.restore(abstract)[0]
  finally:
    ckpt.close()


@pytest.mark.slow
@pytest.mark.parametrize("name, field", [("plain", "params"), ("ema", "ema_params")])
def test_a_workdir_gives_the_parameters_to_predict_with(trained, name, field):
  loaded = loader.load_model(trained / name)
  whole = _restore_whole_state(trained / name)
  assert loaded.step == 3 and int(whole.step) == 3 and loaded.multiple == 4
  want = getattr(whole, field)
  assert jax.tree.structure(loaded.params) == jax.tree.structure(want)
  for x, y in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(want)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
  if field == "ema_params":                   # the average differs from the last parameters
    assert any(not np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(whole.params)))


@pytest.mark.slow
def test_a_config_without_input_shape_still_loads(trained, tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  old = tmp_path / "old"
  shutil.copytree(trained / "plain", old)
  config = json.loads((old / "config.json").read_text())
  del config["resolved"]["input_shape"]       # as written before input shapes were recorded
  (old / "config.json").write_text(json.dumps(config))
  a, b = loader.load_model(old), loader.load_model(trained / "plain")
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
def test_loading_imports_nothing_of_training(trained):
  code = ("import sys; import jax_iso.jobs.predict; print([m for m in ('grain', 'optax') if m in sys.modules]); "
          f"from jax_iso.models.loader import load_model; load_model({str(trained / 'ema')!r}); "
          "print([m for m in ('grain', 'optax', 'jax_iso.train') if m in sys.modules])")
  done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert done.returncode == 0, done.stderr[-2000:]
  assert done.stdout.split() == ["[]", "[]"]


def test_missing_and_untrained_paths_are_user_errors(tmp_path):
  with pytest.raises(UserError, match="does not exist"):
    loader.load_model(tmp_path / "nothing")
  with pytest.raises(UserError, match="holds no finished training"):
    loader.load_model(tmp_path)
  assert os.listdir(tmp_path) == []            # a failed load writes nothing
