"""A trained model as the `apply_fn` the tiler calls: jitted once, batches sharded over every device."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
from flax import linen as nn

from jax_iso import mesh as mesh_lib


def make_apply_fn(model: nn.Module, params: Any, output: str | None = None,
                  factor: float | None = None) -> Callable[[jax.Array], jax.Array]:
  """`apply_fn(tiles [B, h, w]) -> [B, h, w]` with B a multiple of the device count (the tiler pads); `output`
  picks one entry of a model that returns a dict (the restorer's "fused"); a model conditioned on the anisotropy
  (`conditioned`) is told `factor`."""
  mesh = mesh_lib.make_mesh(local=True)
  batch, repl = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)
  params = jax.device_put(params, repl)
  pick = (lambda out: out[output]) if output else (lambda out: out)
  told = {"factor": float(factor)} if getattr(model, "conditioned", False) else {}
  apply = jax.jit(lambda p, x: pick(model.apply(p, x, **told)), in_shardings=(repl, batch), out_shardings=batch)
  return functools.partial(apply, params)
