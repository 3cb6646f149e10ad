"""Run as a script with N forced CPU devices: one train step on a mesh of N devices and on a mesh of one, same
batch and key; prints the losses and the largest parameter difference as JSON (used by test_step_sharding).

  python sharded_step.py N [unet|a2i]     # a2i: with stochastic depth and the projected distribution loss"""
import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jax_iso import mesh as mesh_lib
from jax_iso.degrade import config as degrade_config, pairs
from jax_iso.models import build_model
from jax_iso.train import objectives, state as state_lib, step


MODELS = {"unet": {"name": "unet", "depth": 2, "width": 8, "kernel": 3},
          "a2i": {"name": "a2i", "width": 8, "depths": (1, 1, 1), "heads": (1, 2, 1), "window": 4,
                  "drop_path": 0.5}}
PDL = {"unet": None, "a2i": {"weight": 0.5, "patch": 3, "projections": 4}}
LR = 1e-2


def one_step(devices: int, crops: np.ndarray, name: str):
  model = build_model(MODELS[name])
  pair_fn = pairs.make_batch_fn(degrade_config.axial_pair(4.0))
  # plain SGD: Adam's first update is lr * sign(g), which turns float-level gradient noise on tiny gradients into
  # lr-sized differences; SGD keeps the update proportional to the gradient
  schedule = optax.constant_schedule(LR)
  optimizer = optax.sgd(schedule)
  mesh = mesh_lib.make_mesh({"data": devices})
  repl, batch_sh = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
  sample = jax.ShapeDtypeStruct(crops.shape, jnp.float32)
  state = state_lib.create_state(model, optimizer, sample, jax.random.key(0), ema=False, sharding=repl)
  objective = objectives.make("regression", {"loss": "mae", "pdl": PDL[name]})
  fn = step.make_train_step(model, pair_fn, objective, optimizer, schedule, intensity=(0.0, 255.0))
  jitted = step.jit_train_step(fn, jax.tree.map(lambda _: repl, state), batch_sh, repl)
  grads_fn = jax.jit(jax.grad(lambda p, x: objectives.per_example_loss(model.apply(p, x), x, "mae").mean()),
                     in_shardings=(repl, batch_sh))
  x = mesh_lib.global_batch(crops, batch_sh)
  grads = grads_fn(state.params, jnp.asarray(crops, jnp.float32) / 255)
  new_state, metrics = jitted(state, x, jax.random.key(1))
  return float(metrics["loss"]), jax.device_get(new_state.params), jax.device_get(grads)


def main():
  assert jax.device_count() == int(sys.argv[1]), jax.devices()
  crops = np.random.default_rng(0).integers(0, 256, (8, 32, 32), dtype=np.uint8)
  name = sys.argv[2] if len(sys.argv) > 2 else "unet"
  loss_n, params_n, grads_n = one_step(jax.device_count(), crops, name)
  loss_1, params_1, grads_1 = one_step(1, crops, name)
  diff = lambda a, b: max(float(np.abs(x - y).max()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # noqa
  print(json.dumps({"devices": jax.device_count(), "loss_sharded": loss_n, "loss_single": loss_1,
                    "param_diff": diff(params_n, params_1), "grad_diff": diff(grads_n, grads_1),
                    "grad_scale": max(float(np.abs(g).max()) for g in jax.tree.leaves(grads_1)),
                    "param_scale": max(float(np.abs(p).max()) for p in jax.tree.leaves(params_1)), "lr": LR}))


if __name__ == "__main__":
  main()
