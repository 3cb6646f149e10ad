"""train_and_evaluate end to end on a real crop: outputs, resume, kill-and-resume, divergence, config checks."""
import json
import os
import pathlib
import signal
import subprocess
import sys

import jax
import numpy as np
import pytest

from jax_iso import jobs
from jax_iso.errors import UserError
from jax_iso.models.loader import load_model
from jax_iso.train import objectives
from jax_iso.train import train_and_evaluate

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_one_step_end_to_end(tiny_config, tmp_path):
  tiny_config.train.steps = 1
  out = train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  assert out["steps"] == 1 and out["resumed_from"] == 0 and np.isfinite(out["final_loss"])
  assert {"checkpoints", "config.json", "metrics.jsonl", "loss.png"} <= {p.name for p in tmp_path.iterdir()}
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert records[0]["step"] == 1 and "eval_psnr" in records[-1] and "eval_psnr_input" in records[-1]
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["resolved"]["factor"] == 4.0 and saved["resolved"]["intensity"]["hi"] == 255.0
  assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_rerun_resumes_from_the_latest_checkpoint(tiny_config, tmp_path):
  tiny_config.train.steps = 2
  train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  tiny_config.train.steps = 4
  out = train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  assert out["resumed_from"] == 2 and load_model(tmp_path).step == 4


def test_a_workdir_of_another_model_is_refused(tiny_config, tmp_path):
  tiny_config.train.steps = 1
  train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  tiny_config.model.width = 4
  with pytest.raises(UserError, match="different model config"):
    train_and_evaluate(tiny_config, tmp_path, show_progress=False)


def _run(workdir, data_path, steps, kill_at):
  return subprocess.run([sys.executable, str(ROOT / "tests" / "train" / "killed_run.py"), str(workdir),
                         str(data_path), str(steps), str(kill_at)], cwd=ROOT, capture_output=True, text=True,
                        env=dict(os.environ, JAX_ISO_PROGRESS="0"), check=False)


@pytest.mark.slow
def test_killed_and_restarted_run_equals_an_uninterrupted_one(aniso_path, tmp_path):
  killed = _run(tmp_path / "killed", aniso_path, 6, 4)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  assert load_model(tmp_path / "killed").step == 4
  resumed = _run(tmp_path / "killed", aniso_path, 6, 0)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  straight = _run(tmp_path / "straight", aniso_path, 6, 0)
  assert straight.returncode == 0, straight.stderr[-2000:]
  a, b = load_model(tmp_path / "killed"), load_model(tmp_path / "straight")
  assert a.step == b.step == 6
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path,
                                                                                   monkeypatch):
  tiny_config.train.steps = 6
  real = objectives.per_example_loss

  def poisoned(pred, target, loss):   # a NaN loss once _after[0] is set (read when the step is traced)
    return real(pred, target, loss) + (float("nan") if _after[0] else 0.0)

  _after = [0.0]
  monkeypatch.setattr(objectives, "per_example_loss", poisoned)
  tiny_config.train.steps = 2
  train_and_evaluate(tiny_config, tmp_path, show_progress=False)          # 2 good steps, checkpoint at 2
  _after[0] = 1.0
  tiny_config.train.steps = 6
  with pytest.raises(UserError, match=r"loss became nan at step 3; the last good checkpoint \(step 2\)"):
    train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  assert load_model(tmp_path).step == 2


@pytest.mark.parametrize("field, value, match", [
    ("data.crop", 30, "data.crop=30 must be a positive multiple of 4"),
    ("train.steps", 0, "train.steps=0"),
    ("optim.lr", -1.0, "optim.lr=-1.0"),
    ("infer.fuse", "median", "infer.fuse='median'"),
    ("model.kernel", 4, "model.kernel=4 must be an odd size"),
    ("data.path", "", "no training volume"),
    ("data.crop", 4096, "crop"),
])
def test_wrong_config_values_are_user_errors(tiny_config, tmp_path, field, value, match):
  section, name = field.split(".")
  setattr(tiny_config[section], name, value)
  with pytest.raises(UserError) as err:
    jobs.train(tiny_config, tmp_path, show_progress=False)     # the infer section is checked before training
  assert match in str(err.value) and "\n" not in str(err.value)
