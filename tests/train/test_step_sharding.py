"""Sharded (4 forced CPU devices) and unsharded train steps give the same loss, gradients and update."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.slow
@pytest.mark.parametrize("model", ["unet", pytest.param("a2i", marks=pytest.mark.long)])
def test_sharded_step_equals_single_device_step(model):
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
  script = pathlib.Path(__file__).with_name("sharded_step.py")
  done = subprocess.run([sys.executable, str(script), "4", model], capture_output=True, text=True, env=env,
                        cwd=pathlib.Path(__file__).resolve().parents[2], check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  out = json.loads(done.stdout.strip().splitlines()[-1])
  assert out["devices"] == 4
  # float32 bounds for two compilations (4 devices of 2 examples vs 1 of 8): the convolutions and matmuls sum
  # their products in another order, and the batch mean is a cross-device sum. Each example's loss is a mean of
  # 1024 terms (uniform random crops: the loss is ~0.3) computed through a few layers whose sums of <= 9 * 16
  # products are reordered: relative rounding <= ~1e-6 per value (about 16 ulp), so the loss differs by far less
  # than 1e-5 * loss + 1e-7; a wrong shard (a missing example, a doubled one) changes it by about 1/8 of itself.
  assert abs(out["loss_sharded"] - out["loss_single"]) < 1e-5 * abs(out["loss_single"]) + 1e-7
  # gradients: sums over 8 * 1024 pixels, reordered across devices: ~1e-5 of the largest gradient
  assert out["grad_diff"] < 1e-5 * max(out["grad_scale"], 1.0)
  # SGD moves a parameter by lr * gradient, so the update differs by lr * grad_diff; the new parameter is then
  # rounded to float32, which can flip its last bit: plus 1 ulp of the largest parameter
  ulp = float(np.spacing(np.float32(out["param_scale"])))
  assert out["param_diff"] <= out["lr"] * 1e-5 * max(out["grad_scale"], 1.0) + ulp
