"""The device mesh and shardings, one helper for training and inference: one data-parallel axis; batches
sharded over it, parameters replicated.

    mesh = make_mesh({"data": -1})             # all devices (the config's `mesh` section; None: all)
    x = global_batch(local_batch, batch_sharding(mesh))

Multi-host (TPU pods, GPU clusters, or local CPU processes): call `jax.distributed.initialize()` first (the
`jax-iso train` command does with `--distributed` or when JAX_COORDINATOR_ADDRESS is set); the training mesh
then spans every process's devices, every process feeds its own share of each batch (`jax_iso.data` shards the
crop stream by process: process p's share is the p-th block of the global batch) and `global_batch` assembles
the global array (docs/scaling.md, "Training across processes").
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
  if size < n and not local and jax.process_count() > 1:   # every process feeds its share of each batch
    raise UserError(f"mesh.data={size}: across {jax.process_count()} processes the mesh spans all {n} devices; "
                    "use mesh.data=-1")
  return jax.make_mesh((size,), (DATA,), axis_types=(AxisType.Auto,), devices=devices[:size])


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over the data axis."""
  return NamedSharding(mesh, P(DATA))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def check_batch(batch_size: int, mesh: Mesh) -> None:
  devices = mesh.shape[DATA]   # all processes' devices: a multiple of the processes' count
  if batch_size < 1 or batch_size % devices:
    raise UserError(f"data.batch_size={batch_size} must be a positive multiple of the {devices} devices of the "
                    f"mesh; use e.g. --config.data.batch_size={max(devices, batch_size - batch_size % devices)}")


def sync_processes(name: str) -> None:
  """A barrier across the processes of jax.distributed (nothing with one process). Its collective also opens
  the connections of the CPU collectives (gloo), which wait only 30 s for the other processes: opened while they
  are in step, not at a first train step that one process reaches a compile (minutes) ahead of the others (on
  CPU only process 0 hits the persistent compilation cache)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def global_batch(local: np.ndarray, sharding: NamedSharding) -> jax.Array:
  """The global batch from this process's share (the whole batch on a single host)."""
  return jax.make_array_from_process_local_data(sharding, np.asarray(local))
