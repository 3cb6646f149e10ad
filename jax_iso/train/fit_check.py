"""Does a training run fit the device? Checked before its first step (and before anything is written), with the
compile the run then uses.

    need = check(config, built, crops)   # crops: one batch's jax.ShapeDtypeStruct; UserError when it cannot fit

The train step is lowered and compiled for the state, a batch of crops and the key (`built.train_step.lower(...)
.compile()`; JAX keeps the executable, so the first step runs it without compiling again). XLA's account of its
memory per device (`device_memory.compiled_bytes`: the state, the crops, the outputs and the temporaries, less
the donated state's buffers that the new state reuses) is compared with the device's `bytes_limit`. A step that
needs more is refused with one line naming what to lower, with the numbers (a second compile, of one crop per
device, tells how many crops would fit). A CPU reports no limit: nothing is refused there, whatever XLA's account
says (the host's memory is shared, swap may hold more, and a config that runs today keeps running).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax

from jax_iso import device_memory
from jax_iso.errors import UserError

_LOCAL = object()    # `check`'s memory default: this process's devices


def step_bytes(built: Any, crops: jax.ShapeDtypeStruct) -> int | None:
  """Per-device bytes of the train step of `built` (an `engine.Engine`) on a batch like `crops`, as compiled;
  None where the backend gives no memory analysis."""
  spec = jax.ShapeDtypeStruct(crops.shape, crops.dtype, sharding=built.batch_sharding)
  key = jax.eval_shape(jax.random.key, 0)
  return device_memory.compiled_bytes(built.train_step.lower(built.abstract, spec, key).compile())


def check(config: Mapping, built: Any, crops: jax.ShapeDtypeStruct, *, memory: Any = _LOCAL) -> int | None:
  """The train step's bytes per device (None where unknown); a UserError naming data.batch_size, data.crop and
  the model's width when they exceed the device's limit. `memory`: a `device_memory.DeviceMemory`, or None for
  a device that reports none (default: the smallest of this process's devices')."""
  need = step_bytes(built, crops)
  memory = device_memory.local_memory() if memory is _LOCAL else memory
  if need is None or memory is None or need <= memory.limit:
    return need
  raise UserError(_message(config, built, crops, need, memory))


def _message(config: Mapping, built: Any, crops: jax.ShapeDtypeStruct, need: int,
             memory: device_memory.DeviceMemory) -> str:
  batch, devices = int(crops.shape[0]), int(built.batch_sharding.mesh.size)
  gb = device_memory.readable   # for messages
  device = f"the {memory.kind}" if memory.kind else "the device"
  model = config["model"]
  width = next((f" or model.{k} (now {model[k]})" for k in ("width", "base") if k in model), "")
  smaller = f"lower data.crop (now {config['data']['crop']}){width}"
  head = f"the train step needs {gb(need)} per device, more than {device}'s {gb(memory.limit)}"
  one = need if batch <= devices else step_bytes(built, jax.ShapeDtypeStruct((devices,) + crops.shape[1:],
                                                                              crops.dtype))
  if one is None or one > memory.limit:
    return f"{head}, even with one crop per device ({gb(one or need)}): {smaller}"
  per_crop = (need - one) / max(1, batch // devices - 1)          # per device, beyond the first crop
  fit = (1 + int((memory.limit - one) // per_crop)) * devices
  return f"{head} at data.batch_size={batch}: set data.batch_size={fit} (or less), or {smaller}"
