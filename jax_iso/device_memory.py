"""How much memory a device has, and how much a compiled computation needs on it: what inference sizes its tile
batches by (`infer/memory_defaults.py`) and what training checks a step against before it runs
(`train/fit_check.py`).

    memory = local_memory()                  # the smallest of this process's devices; None on the CPU
    need = compiled_bytes(jax.jit(f).lower(*args).compile())     # per device; None where XLA reports nothing
    if memory is not None and need > memory.limit: ...

GPUs and TPUs report their memory (`device.memory_stats()`: `bytes_limit`, what XLA's allocator may use, and
`bytes_in_use`, `peak_bytes_in_use`); the CPU reports none, and its memory is the host's (`host_bytes`). A
compiled executable's need is XLA's own account (`memory_analysis()`): arguments + outputs + temporaries, less
the outputs that reuse a donated argument's buffer (`experiments/accelerator_check.py` records it beside the
allocator's peak).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax


@dataclasses.dataclass(frozen=True)
class DeviceMemory:
  """What one device reports of its memory (`memory_stats()`), in bytes."""
  limit: int       # what XLA's allocator may use (bytes_limit)
  in_use: int = 0  # allocated now (bytes_in_use)
  peak: int = 0    # the most allocated so far (peak_bytes_in_use)
  kind: str = ""   # the device's name, e.g. "NVIDIA H100 80GB HBM3"

  @property
  def free(self) -> int:
    return max(0, self.limit - self.in_use)


def device_memory(device: Any) -> DeviceMemory | None:
  """The memory `device` (a `jax.Device`, or anything with `memory_stats()`) reports; None where it reports
  none or no limit (the CPU)."""
  try:
    stats = device.memory_stats()
  except (AttributeError, NotImplementedError, RuntimeError):
    stats = None
  if not stats or not stats.get("bytes_limit"):
    return None
  return DeviceMemory(limit=int(stats["bytes_limit"]), in_use=int(stats.get("bytes_in_use", 0)),
                      peak=int(stats.get("peak_bytes_in_use", 0)),
                      kind=str(getattr(device, "device_kind", "") or getattr(device, "platform", "")))


def local_memory(devices=None) -> DeviceMemory | None:
  """The memory of the smallest of `devices` (default: this process's), which every device of a data-parallel
  mesh must hold; None when one of them reports none (the CPU)."""
  found = [device_memory(d) for d in (jax.local_devices() if devices is None else devices)]
  if not found or any(m is None for m in found):
    return None
  return min(found, key=lambda m: m.limit)


def host_bytes() -> int | None:
  """The host's physical memory (what the CPU backend computes in); None where the OS does not say."""
  try:
    return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
  except (AttributeError, ValueError, OSError):
    return None


def compiled_bytes(compiled: Any) -> int | None:
  """Per-device bytes a compiled executable (`jax.jit(f).lower(...).compile()`) needs while it runs: arguments +
  outputs + temporaries - aliased (donated buffers reused by outputs); None where the backend gives no
  analysis."""
  try:
    stats = compiled.memory_analysis()
  except (AttributeError, NotImplementedError, RuntimeError):
    return None
  if stats is None:
    return None
  return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
             - stats.alias_size_in_bytes)


def tree_bytes(tree: Any) -> int:
  """Bytes of the arrays (or shape-dtype structs) of a pytree, each counted whole."""
  return sum(int(x.size) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def readable(n: float) -> str:
  """Bytes for messages, decimal as device makers count: '12.3 GB', or '3.5 MB' below 0.1 GB."""
  return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"
