"""`setup` builds the pieces of a run from one frozen config; frozen modules, staged initialisation, metrics
fetched only when needed, progress lines off a terminal."""
import json

import jax
import ml_collections
import numpy as np
import pytest

from configs import a2i_3dem
from jax_iso import runconfig
from jax_iso.errors import UserError
from jax_iso.models.loader import load_model
from jax_iso.train import loop, objectives, optim, setup, train_and_evaluate


def _leaves(params) -> dict:
  return {optim.param_path(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def test_setup_returns_the_pieces_of_a_run_from_one_resolved_frozen_config(tiny_config, tmp_path, capsys):
  with setup(tiny_config, tmp_path) as run:
    assert isinstance(run.config, ml_collections.FrozenConfigDict)
    assert run.config.resolved.factor == 4.0 and run.config.resolved.input_shape == (32, 32)
    assert run.config.pairs.factor == 4.0
    assert run.config.pairs.acquisition.order == ("gaussian_noise",)     # section noise, explicit in the config
    assert json.loads((tmp_path / "config.json").read_text()) == runconfig.to_json(run.config)
    assert run.start == 0 and int(run.state.step) == 0 and run.eval_batch.shape == (4, 32, 32)
    batch = next(run.batches)
    assert batch.shape == (4, 32, 32) and batch.dtype == np.uint8
    state, metrics = run.train_step(run.state, batch, run.step_key)
    assert int(state.step) == 1 and np.isfinite(float(metrics["loss"]))
  resolved = capsys.readouterr().err
  assert "train unet: anisotropy x4 (voxel size 40 x 10 x 10 nm); intensity uint8 [0, 255]" in resolved
  assert "added to each synthetic section" in resolved


@pytest.mark.slow
def test_a_plain_dict_config_trains_exactly_like_its_configdict(tiny_config, tmp_path):
  tiny_config.train.steps = 2
  train_and_evaluate(tiny_config, tmp_path / "configdict", show_progress=False)
  train_and_evaluate(tiny_config.to_dict(), tmp_path / "dict", show_progress=False)
  a, b = load_model(tmp_path / "configdict"), load_model(tmp_path / "dict")
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.slow
@pytest.mark.long
def test_a_later_stage_starts_from_an_earlier_one_and_trains_only_what_is_not_frozen(tiny_config, tmp_path,
                                                                                     capsys):
  tiny_config.train.steps = 2
  train_and_evaluate(tiny_config, tmp_path / "stage1", show_progress=False)
  stage1 = _leaves(load_model(tmp_path / "stage1").params)
  tiny_config.model.width = 4          # a model sharing only some modules with stage 1 (same output conv)
  with setup(tiny_config, tmp_path / "fresh") as run:
    fresh = _leaves(run.state.params)
  tiny_config.train.init_from = str(tmp_path / "stage1")
  tiny_config.train.frozen = ("params/Conv_2/.*",)
  train_and_evaluate(tiny_config, tmp_path / "stage2", show_progress=False)
  stage2 = _leaves(load_model(tmp_path / "stage2").params)
  same_shape = [k for k in fresh if k in stage1 and stage1[k].shape == fresh[k].shape]
  assert same_shape == ["params/Conv_2/bias"]                         # the 1-channel output conv's bias
  assert "1 of 26 parameter arrays initialised from" in capsys.readouterr().err
  np.testing.assert_array_equal(stage2["params/Conv_2/bias"], stage1["params/Conv_2/bias"])   # taken, frozen
  np.testing.assert_array_equal(stage2["params/Conv_2/kernel"], fresh["params/Conv_2/kernel"])   # frozen
  assert not np.array_equal(stage2["params/Conv_0/kernel"], fresh["params/Conv_0/kernel"])     # trained


@pytest.mark.parametrize("patterns, match", [
    (("params/Nope_0/.*",), "train.frozen pattern 'params/Nope_0/.*' matches no parameter; parameter paths look"),
    ((".*",), "freezes every parameter"),
    (("params/[",), "is not a regular expression"),
])
def test_bad_frozen_patterns_are_user_errors(tiny_config, tmp_path, patterns, match):
  tiny_config.train.frozen = patterns
  with pytest.raises(UserError, match=match.replace("[", r"\[").replace("*", r"\*").replace(".", r"\.")):
    setup(tiny_config, tmp_path / "run")
  assert not (tmp_path / "run").exists()             # nothing written: the fixed command starts afresh


@pytest.mark.slow
def test_resume_refuses_other_frozen_modules_and_init_from_needs_a_matching_run(tiny_config, tmp_path):
  tiny_config.train.steps = 1
  train_and_evaluate(tiny_config, tmp_path / "run", show_progress=False)
  tiny_config.train.frozen = ("params/Conv_0/.*",)
  with pytest.raises(UserError, match="other frozen modules"):
    train_and_evaluate(tiny_config, tmp_path / "run", show_progress=False)
  tiny_config.train.frozen = ()
  tiny_config.train.init_from = str(tmp_path / "none")
  with pytest.raises(UserError, match="does not exist"):
    setup(tiny_config, tmp_path / "other")
  a2i = a2i_3dem.get_config("tiny")                      # a model that shares no module with the U-Net
  a2i.data.path, a2i.train.init_from = tiny_config.data.path, str(tmp_path / "run")
  with pytest.raises(UserError, match="none of its parameters has the path and shape"):
    setup(a2i, tmp_path / "other")
  assert not (tmp_path / "other").exists()


@pytest.mark.slow
def test_metrics_are_fetched_only_at_log_eval_and_checkpoint_steps(tiny_config, tmp_path, monkeypatch):
  tiny_config.train.update({"steps": 8, "log_every": 4, "eval_every": 8, "checkpoint_every": 8})
  fetched = []
  real = loop._fetch

  def counting(run, pending, n):
    fetched.append((n, len(pending)))
    return real(run, pending, n)

  monkeypatch.setattr(loop, "_fetch", counting)
  out = train_and_evaluate(tiny_config, tmp_path, show_progress=False)
  assert fetched == [(4, 4), (8, 4)] and out["steps"] == 8
  records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in records if "loss" in r] == [4, 8]


@pytest.mark.slow
def test_a_nan_between_log_steps_is_named_by_its_step_before_any_checkpoint_saves_it(tiny_config, tmp_path,
                                                                                     monkeypatch):
  tiny_config.train.update({"steps": 2, "log_every": 4, "eval_every": 8, "checkpoint_every": 2})
  train_and_evaluate(tiny_config, tmp_path, show_progress=False)         # checkpoint at step 2
  real = objectives.per_example_loss
  monkeypatch.setattr(objectives, "per_example_loss", lambda p, t, loss: real(p, t, loss) * np.nan)
  tiny_config.train.update({"steps": 8, "checkpoint_every": 4})
  with pytest.raises(UserError, match=r"loss became nan at step 3; the last good checkpoint \(step 2\)"):
    train_and_evaluate(tiny_config, tmp_path, show_progress=False)      # fetched at step 4: steps 3 and 4
  assert load_model(tmp_path).step == 2


@pytest.mark.slow
def test_training_prints_plain_progress_lines_when_stderr_is_not_a_terminal(tiny_config, tmp_path, capsys,
                                                                            monkeypatch):
  monkeypatch.setenv("JAX_ISO_PROGRESS", "1")
  tiny_config.train.steps = 4
  train_and_evaluate(tiny_config, tmp_path, show_progress=True)
  lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("train: ")]
  assert lines and lines[-1].startswith("train: 4/4 (100%)  loss ")
  assert "steps/s" in lines[-1] and "elapsed" in lines[-1] and lines[-1].endswith("eta 0:00:00")
