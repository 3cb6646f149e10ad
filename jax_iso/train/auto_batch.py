"""The training batch from the device's memory: what `data.batch_size = "auto"` becomes.

    config, built, how = resolve(config, mesh, crop, workdir=workdir)   # crop: one crop's jax.ShapeDtypeStruct
    # config.data.batch_size: a number now; built: the run's engine (`engine.build`); how: one line, or None

A number is kept as given (the mesh checks it). "auto" is, in this order:
- **resumed**: the batch the run in `workdir` was started with (its `config.json`), whatever the device says
  now: a resumed run trains on the batches it would have had (its data iterator counts them; `run.check_resume`
  refuses a different number);
- **a device that reports its memory** (GPU, TPU: `device_memory.local_memory`, the smallest of this process's
  devices): the largest global batch of a power of two crops per device, at most MAX_PER_DEVICE per device and at
  most `data.max_batch_size` in all where the config sets one, whose compiled train step needs at most
  DEVICE_SHARE of the device's `bytes_limit` (XLA's account per device, `fit_check.step_bytes`: the state, the
  crops, the outputs and the temporaries, less the donated buffers). The step is compiled for 1 and 2 crops per
  device; the batch the straight line through them allows is compiled next, then doubled or halved until the
  largest that fits lies next to one that does not or to the cap (at most _ATTEMPTS compiles beyond the first
  two). Every compile is of the run's own jitted step, and JAX keeps the executables: the run's first step (and
  the fit check before it) compiles nothing more. The rest of the limit is left to what the step's account does
  not hold: the held-out crops and their evaluation step, the batches prefetched onto the device, the allocator's
  slack. Across processes every process sizes its own devices and the smallest batch is taken. Powers of two keep
  the batches a config gets on devices of similar size to a few values (runs compare), at the price of at most
  half the share unused. One crop per device that needs more than the whole limit is the fit check's one-line
  error naming data.crop and the model's width; more than the share but within the limit gives one crop per
  device;
- **a device that reports none** (the CPU): CPU_BATCH crops (rounded up to a multiple of the devices, at most
  `data.max_batch_size`), nothing compiled ahead. The shipped `cpu` and `tiny` variants give their own numbers,
  measured on a CPU; "auto" is for the accelerator-sized configs.
The batch is printed with how it was derived (`how`) and written into `config.json` as a number.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh

from jax_iso import device_memory, runconfig
from jax_iso.errors import UserError
from jax_iso.models.loader import CONFIG_FILE
from jax_iso.train import config_checks, engine, fit_check

CPU_BATCH = 8          # "auto" where the device reports no memory (the CPU): the `cpu` U-Net's measured batch
DEVICE_SHARE = 0.8     # of the device's bytes_limit the compiled train step may need
MAX_PER_DEVICE = 64    # crops a step per device, at most: more buy no speed, and each step sees more of the data
_ATTEMPTS = 4          # compiles beyond those of 1 and 2 crops per device, at most

_LOCAL = object()      # `resolve`'s memory default: this process's devices


@dataclasses.dataclass(frozen=True)
class Sized:
  """How an "auto" batch was derived from a device's memory."""
  batch: int            # crops a step, all devices
  per_device: int
  need: int             # bytes the step needs per device, as compiled
  limit: int            # the device's bytes_limit
  device: str           # its name
  compiles: int         # train steps compiled to find it (of the run's jitted step: kept for the run)

  def describe(self) -> str:
    gb = device_memory.readable
    share = (f"at most {DEVICE_SHARE:.0%}" if self.need <= DEVICE_SHARE * self.limit else
             f"more than the {DEVICE_SHARE:.0%} aimed at, with one crop a device")
    return (f"data.batch_size=auto: {self.batch} ({self.per_device} a device): the step needs {gb(self.need)} of "
            f"the {self.device or 'device'}'s {gb(self.limit)} per device ({share}; {self.compiles} compiles)")


def resolve(config: Any, mesh: Mesh, crop: jax.ShapeDtypeStruct, *, workdir: str | pathlib.Path | None = None,
            memory: Any = _LOCAL) -> tuple[runconfig.Frozen, engine.Engine, str | None]:
  """(`config` with a number for data.batch_size, its engine on `mesh`, one line on how "auto" was derived or
  None for a number given). `crop`: one training crop as the data gives it (shape and dtype); `workdir`: the
  run's folder (its config.json gives a resumed run's batch); `memory`: a `device_memory.DeviceMemory`, or None
  for a device that reports none (default: this process's devices')."""
  config = runconfig.freeze(config)
  given = config_checks.batch_setting(config.data.batch_size)
  if given is not None:
    config = runconfig.replace(config, data={"batch_size": given})
    return config, engine.build(config, mesh), None
  devices = int(mesh.devices.size)
  cap = _cap(config, devices)
  saved = saved_batch(workdir)
  if saved is not None:
    config = runconfig.replace(config, data={"batch_size": saved})
    return config, engine.build(config, mesh), (f"data.batch_size=auto: {saved}, the batch the run in {workdir} "
                                                "was started with")
  memory = device_memory.local_memory() if memory is _LOCAL else memory
  if memory is None:
    batch = min(-(-CPU_BATCH // devices), cap) * devices
    config = runconfig.replace(config, data={"batch_size": batch})
    rounded = "" if batch == CPU_BATCH else f" as a multiple of the {devices} devices"
    return config, engine.build(config, mesh), (f"data.batch_size=auto: {batch}, the fallback of {CPU_BATCH} "
                                                f"crops a step{rounded} where the device reports no memory (a CPU)")
  probe = engine.build(runconfig.replace(config, data={"batch_size": devices}), mesh)
  seen: dict[int, int | None] = {}

  def measure(k: int) -> int | None:
    """Bytes per device of the step on k crops per device."""
    if k not in seen:
      seen[k] = fit_check.step_bytes(probe, jax.ShapeDtypeStruct((k * devices,) + tuple(crop.shape), crop.dtype))
    return seen[k]

  one = measure(1)
  if one is None:                    # the backend gives no memory analysis: the CPU's fallback
    return resolve(config, mesh, crop, workdir=workdir, memory=None)
  if one > memory.limit:             # not even one crop a device: the fit check's line, naming what to lower
    fit_check.check(runconfig.replace(config, data={"batch_size": devices}), probe,
                    jax.ShapeDtypeStruct((devices,) + tuple(crop.shape), crop.dtype), memory=memory)
  k = _agreed(largest(measure, room=DEVICE_SHARE * memory.limit, cap=cap))
  batch, need = k * devices, int(measure(k) or 0)
  config = runconfig.replace(config, data={"batch_size": batch})
  sized = Sized(batch, k, need, memory.limit, memory.kind, len(seen))
  return config, probe.with_batch(batch), sized.describe()


def largest(measure: Callable[[int], int | None], *, room: float, cap: int) -> int:
  """The largest power of two k <= `cap` (crops per device) with measure(k) <= `room`, 1 when none fits: a
  straight line through k = 1 and 2 gives the first guess, then k is doubled while it fits and halved while it
  does not, until the largest fit lies next to a k that does not fit or to the cap (at most _ATTEMPTS measures
  beyond the first two)."""
  top = _power_below(cap)
  one = measure(1)
  if one is None or one > room or top == 1:
    return 1
  two = measure(2)
  if two is None or two > room:
    return 1
  ok, over = 2, 2 * top              # the largest k known to fit; the smallest known not to (or beyond the cap)
  per = max(1.0, float(two - one))   # bytes a crop per device
  k = _power_below(min(top, max(1, int((room - (one - per)) // per))))
  k = max(k, 2 * ok)                 # the line says 2 is the largest: 4 is checked
  for _ in range(_ATTEMPTS):
    if k <= ok or k >= over:
      break
    need = measure(k)
    if need is not None and need <= room:
      ok, k = k, 2 * k
    else:
      over, k = k, k // 2
  return ok


def saved_batch(workdir: str | pathlib.Path | None) -> int | None:
  """The data.batch_size of the run whose config.json `workdir` holds, or None (no run there, or none readable:
  `run.check_resume` reports a damaged one)."""
  if workdir is None:
    return None
  try:
    saved = json.loads((pathlib.Path(workdir) / CONFIG_FILE).read_text())
    value = saved["data"]["batch_size"]
  except (OSError, ValueError, KeyError, TypeError):
    return None
  return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def _cap(config: runconfig.Frozen, devices: int) -> int:
  """Crops per device an "auto" batch may have: MAX_PER_DEVICE, and data.max_batch_size's share."""
  most = config.data.get("max_batch_size")
  if most is None:
    return MAX_PER_DEVICE
  if isinstance(most, bool) or not isinstance(most, int) or most < devices:
    raise UserError(f"data.max_batch_size={most} must be a whole number >= the {devices} devices of the mesh "
                    "(one crop a device), or None (no cap beyond 64 a device)")
  return min(MAX_PER_DEVICE, most // devices)


def _power_below(n: int) -> int:
  """The largest power of two <= n (n >= 1)."""
  return 1 << (max(1, int(n)).bit_length() - 1)


def _agreed(k: int) -> int:
  """The smallest of the processes' crops per device (this one's alone without jax.distributed)."""
  if jax.process_count() == 1:
    return k
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  return int(np.min(multihost_utils.process_allgather(np.asarray(k, np.int32))))
