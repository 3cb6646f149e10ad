"""`engine.build`: the one train step, built from a resolved config and a mesh without a workdir, is the step a
run trains with, bit for bit; its frozen modules stay put while its moving average follows the training."""
import jax
import pytest
import numpy as np

from jax_iso import mesh as mesh_lib, runconfig
from jax_iso.train import engine, optim, setup

STEPS = 3


def _leaves(params) -> dict:
  return {optim.param_path(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(params)[0]}


def _train(train_step, state, batches, key):
  losses = []
  for crops in batches:
    state, metrics = train_step(state, crops, key)
    losses.append(np.asarray(metrics["loss"]))
  return state, losses


def _run_and_batches(config, workdir):
  """The resolved config of a run of `config`, its step's state and losses after STEPS steps, and its batches."""
  with setup(config, workdir, log=False) as run:
    batches = [next(run.batches) for _ in range(STEPS)]
    state, losses = _train(run.train_step, run.state, batches, run.step_key)
    return run.config, run.step_key, jax.device_get(state), losses, batches


@pytest.mark.slow
def test_the_engine_step_is_the_step_setup_trains_with_bit_for_bit(tiny_config, tmp_path):
  config, key, by_setup, setup_losses, batches = _run_and_batches(tiny_config, tmp_path / "run")
  built = engine.build(config, mesh_lib.make_mesh(config.mesh))
  init_key = jax.random.split(jax.random.key(int(config.seed)), 3)[0]
  state, losses = _train(built.train_step, built.init(init_key), batches, key)
  assert int(state.step) == int(by_setup.step) == STEPS
  for a, b in zip(losses, setup_losses):
    np.testing.assert_array_equal(a, b)
  want, got = _leaves(by_setup.params), _leaves(state.params)
  assert got.keys() == want.keys()
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)


@pytest.mark.slow
def test_frozen_modules_stay_and_the_moving_average_follows_the_training(tiny_config, tmp_path):
  config, key, _, _, batches = _run_and_batches(tiny_config, tmp_path / "run")
  config = runconfig.replace(config, train={"ema": 0.9, "frozen": ("params/Conv_0/.*",)})
  built = engine.build(config, mesh_lib.make_mesh(config.mesh))     # no workdir, no data
  first = built.init(jax.random.key(0))
  initial = _leaves(jax.device_get(first.params))
  assert _leaves(jax.device_get(first.ema_params)).keys() == initial.keys()
  state, _ = _train(built.train_step, first, batches, key)
  params, ema = _leaves(jax.device_get(state.params)), _leaves(jax.device_get(state.ema_params))
  frozen = [name for name in initial if name.startswith("params/Conv_0/")]
  assert frozen == ["params/Conv_0/bias", "params/Conv_0/kernel"]
  for name in initial:
    if name in frozen:
      np.testing.assert_array_equal(params[name], initial[name], err_msg=name)
      np.testing.assert_allclose(ema[name], initial[name], rtol=1e-6, atol=1e-7, err_msg=name)   # d e + (1-d) e
    else:
      assert not np.array_equal(params[name], initial[name]), name
      assert not np.array_equal(ema[name], initial[name]), name        # the average moved
      assert not np.array_equal(ema[name], params[name]), name         # and lags the parameters
