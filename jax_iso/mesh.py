"""The device mesh and shardings, one helper for training and inference: one data-parallel axis; batches
sharded over it, parameters replicated.

    mesh = make_mesh({"data": -1})             # all devices (the config's `mesh` section; None: all)
    x = global_batch(local_batch, batch_sharding(mesh))

Multi-host (TPU pods, GPU clusters): call `jax.distributed.initialize()` first (the `jax-iso train` command does
when `--distributed` is given or JAX_COORDINATOR_ADDRESS is set); every process then feeds its own share of
each batch (`jax_iso.data` shards the crop stream by process) and `global_batch` assembles the global array.
"""
from __future__ import annotations

from collections.abc import Mapping

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jax_iso.errors import UserError

DATA = "data"


def make_mesh(cfg: Mapping | None = None, *, local: bool = False) -> Mesh:
  """A 1-D mesh over `cfg['data']` devices (-1 or no config: all of them); `local`: this process's devices only
  (inference, where every process works on its own part of the volume)."""
  devices = jax.local_devices() if local else jax.devices()
  n = len(devices)
  size = int((cfg or {}).get("data", -1))
  size = n if size == -1 else size
  if size < 1 or size > n or n % size:
    raise UserError(f"mesh.data={size} does not fit the {n} available devices; use -1 (all) or a divisor of {n}")
  return jax.make_mesh((size,), (DATA,), axis_types=(AxisType.Auto,), devices=devices[:size])


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over the data axis."""
  return NamedSharding(mesh, P(DATA))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch(batch_size: int, mesh: Mesh) -> None:
  devices = mesh.shape[DATA]
  if batch_size < 1 or batch_size % (devices * jax.process_count()) and batch_size % devices:
    raise UserError(f"data.batch_size={batch_size} must be a positive multiple of the {devices} devices of the "
                    f"mesh; use e.g. --config.data.batch_size={max(devices, batch_size - batch_size % devices)}")


def global_batch(local: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """The global batch from this process's share (the whole batch on a single host)."""
  return jax.make_array_from_process_local_data(sharding, np.asarray(local))
