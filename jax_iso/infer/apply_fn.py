"""A trained model as the `apply_fn` the tiler calls: jitted once, batches sharded over every device, and able to
say what one call needs on the device (`TileFn.call_bytes`: how `memory_defaults` sizes batches)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from flax import linen as nn

from jax_iso import device_memory, mesh as mesh_lib


class TileFn(functools.partial):
  """`functools.partial(jitted, params)`: `fn(tiles, *extra)` runs the jitted `(params, tiles, *extra)` on a
  batch of tiles split over the devices. `extra` gives the other arguments' shapes per tile and dtypes (a
  sampler's origins: ((3,), int32))."""

  def __new__(cls, jitted: Callable, params: Any, *, extra: Sequence[tuple[tuple[int, ...], Any]] = ()):
    self = super().__new__(cls, jitted, params)
    self.extra = tuple((tuple(shape), np.dtype(dtype)) for shape, dtype in extra)
    return self

  @property
  def resident_bytes(self) -> int:
    """Bytes of the bound parameters on each device (replicated)."""
    return device_memory.tree_bytes(self.args)

  def call_bytes(self, shape: Sequence[int]) -> int | None:
    """Per-device bytes one call on float32 tiles of `shape` ([B, ...]) needs, the resident parameters included
    (`device_memory.compiled_bytes`); None where the backend says nothing. The executable compiled here is the
    one a call of that shape then runs (JAX keeps it)."""
    b = int(shape[0])
    args = [jax.ShapeDtypeStruct(tuple(int(s) for s in shape), np.float32)]
    args += [jax.ShapeDtypeStruct((b,) + s, d) for s, d in self.extra]
    return device_memory.compiled_bytes(self.func.lower(*self.args, *args).compile())


def make_apply_fn(model: nn.Module, params: Any, output: str | None = None,
                  factor: float | None = None) -> TileFn:
  """`apply_fn(tiles [B, h, w]) -> [B, h, w]` with B a multiple of the device count (the tiler pads); `output`
  picks one entry of a model that returns a dict (the restorer's "fused"); a model conditioned on the anisotropy
  (`conditioned`) is told `factor`."""
  mesh = mesh_lib.make_mesh(local=True)
  batch, repl = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)
  params = jax.device_put(params, repl)
  pick = (lambda out: out[output]) if output else (lambda out: out)
  told = {"factor": float(factor)} if getattr(model, "conditioned", False) else {}
  apply = jax.jit(lambda p, x: pick(model.apply(p, x, **told)), in_shardings=(repl, batch), out_shardings=batch)
  return TileFn(apply, params)
