"""Speed measurements shared by the model benchmarks: the CPU's matmul peak and a jitted train step's rate.

    peak = dot_peak()                                  # FLOP/s of a 2048^2 float32 matmul
    speed = step_speed(config, factor=4.0)             # seconds/step, samples/s, FLOP/step, FLOP/s
    config, how = train_batch(config)                  # data.batch_size "auto" derived as training derives it
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso import mesh as mesh_lib, runconfig
from jax_iso.degrade import pairs
from jax_iso.train import auto_batch, config_checks, engine
from jax_iso.train.inputs import crop_spec


def dot_peak() -> float:
  """FLOP/s of a 2048^2 float32 matmul (median of 10 after warm-up)."""
  a = jnp.ones((2048, 2048), jnp.float32)
  f = jax.jit(jnp.dot)
  f(a, a).block_until_ready()
  times = []
  for _ in range(10):
    t = time.perf_counter()
    f(a, a).block_until_ready()
    times.append(time.perf_counter() - t)
  return 2 * 2048**3 / float(np.median(times))


def resolved(config, crop_shape: tuple[int, ...]) -> runconfig.Frozen:
  """`config` (its `pairs.factor` set) with the `resolved` fields the train step is built from
  (`jax_iso.train.resolve`), without data: uint8 crops of `crop_shape` ([B, ...]), no section noise added."""
  cfg = runconfig.freeze(config)
  pair_fn = pairs.make_batch_fn(cfg.pairs)
  inputs = jax.eval_shape(lambda k, x: pair_fn(k, x)[0], jax.random.key(0),
                          jax.ShapeDtypeStruct(tuple(crop_shape), jnp.float32))
  return runconfig.replace(cfg, data={"batch_size": int(crop_shape[0])}, resolved={
      "factor": cfg.pairs.get("factor"), "intensity": {"lo": 0.0, "hi": 255.0, "dtype": "uint8"},
      "input_shape": list(inputs.shape[1:])})


def train_batch(cfg) -> tuple[runconfig.Frozen, str | None]:
  """(`cfg` with a number for data.batch_size, how an "auto" one was derived or None): "auto" is sized as training
  sizes it (`jax_iso.train.auto_batch`: the largest batch whose compiled step fits the device's memory; the CPU's
  fallback where the device reports none), for uint8 crops; `cfg`: its pairs.factor set. Callers build their
  own engine for that batch (a fresh jit, so a compile they time is a real one)."""
  cfg = runconfig.freeze(cfg)
  if config_checks.batch_setting(cfg.data.batch_size) is not None:
    return cfg, None
  crop = tuple(crop_spec(cfg)[1])
  base = runconfig.replace(resolved(cfg, (1,) + crop), data={"batch_size": cfg.data.batch_size})
  sized, _, how = auto_batch.resolve(base, mesh_lib.make_mesh(cfg.mesh), jax.ShapeDtypeStruct(crop, jnp.uint8))
  return runconfig.replace(cfg, data={"batch_size": int(sized.data.batch_size)}), how


def train_step_fn(config, crop_shape: tuple[int, ...]):
  """(jitted train step, its initial state, a batch of random uint8 crops of `crop_shape` on the mesh) of a
  config whose `pairs.factor` is set: the step training runs (`jax_iso.train.engine`: frozen modules and the
  moving average included)."""
  cfg = resolved(config, crop_shape)
  built = engine.build(cfg, mesh_lib.make_mesh(cfg.mesh))
  crops = mesh_lib.global_batch(np.random.default_rng(0).integers(0, 256, tuple(crop_shape), np.uint8),
                                built.batch_sharding)
  return built.train_step, built.init(jax.random.key(0)), crops


def step_speed(config, factor: float | None, repeats: int = 5) -> dict:
  """Seconds per train step, samples/s and achieved FLOP/s of the config's jitted step (random crops); `factor`
  None for a method without one (ssTEM restoration)."""
  cfg = config if factor is None else runconfig.replace(config, pairs={"factor": factor})
  if factor is not None and "factor" in cfg["model"]:
    cfg = runconfig.replace(cfg, model={"factor": factor})
  cfg, _ = train_batch(cfg)
  batch = int(cfg["data"]["batch_size"])
  _, size = crop_spec(cfg)
  fn, state, crops = train_step_fn(cfg, (batch,) + tuple(size))
  flops = fn.lower(state, crops, jax.random.key(1)).compile().cost_analysis()
  flops = float((flops[0] if isinstance(flops, list) else flops).get("flops", 0.0))
  state, m = fn(state, crops, jax.random.key(1))
  jax.block_until_ready(m)
  times = []
  for i in range(repeats):
    t = time.perf_counter()
    state, m = fn(state, crops, jax.random.key(i))
    jax.block_until_ready(m)
    times.append(time.perf_counter() - t)
  sec = float(np.median(times))
  return {"seconds_per_step": sec, "samples_per_s": batch / sec, "pixels_per_s": batch * np.prod(size) / sec,
          "flops_per_step": flops, "flop_per_s": flops / sec}
