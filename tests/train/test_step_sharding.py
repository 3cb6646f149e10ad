"""Sharded (4 forced CPU devices) and unsharded train steps give the same loss, gradients and update."""
import json
import os
import pathlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("model", ["unet", "a2i"])
def test_sharded_step_equals_single_device_step(model):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
  script = pathlib.Path(__file__).with_name("sharded_step.py")
  done = subprocess.run([sys.executable, str(script), "4", model], capture_output=True, text=True, env=env,
                        cwd=pathlib.Path(__file__).resolve().parents[2], check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  out = json.loads(done.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4
  assert abs(out["loss_sharded"] - out["loss_single"]) < 1e-6
  assert out["grad_diff"] < 1e-5 * max(out["grad_scale"], 1.0)
  assert out["param_diff"] < 1e-7
