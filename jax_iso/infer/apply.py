"""A trained 2D model as the `apply_fn` the tiler calls: jitted once, batches sharded over every device."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
from flax import linen as nn
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P


def make_apply_fn(model: nn.Module, params: Any) -> Callable[[jax.Array], jax.Array]:
  """`apply_fn(tiles [B, h, w]) -> [B, h, w]` with B a multiple of the device count (the tiler pads)."""
  mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
  batch, repl = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
  params = jax.device_put(params, repl)
  apply = jax.jit(lambda p, x: model.apply(p, x), in_shardings=(repl, batch), out_shardings=batch)
  return functools.partial(apply, params)
