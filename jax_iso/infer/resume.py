"""What lets a killed reconstruction continue: a manifest of finished slabs, keyed by everything that matters.

The manifest (`manifest.json` in the work folder) holds a key (input file identity, output path, model
fingerprint, parameters) and the slabs finished per pass. A run with the same key continues after the last
recorded slab; any difference in the key starts over.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys

import numpy as np

from jax_iso.io.sink import read_json, write_json_atomic

MANIFEST = "manifest.json"
_VERSION = 1
_HASH_BYTES = 64 << 20


def fingerprint(*objects) -> str:
  """A sha256 hex digest of pytrees of arrays (e.g. model params) and JSON-able values (e.g. a config).

  Give it what determines a model's output, e.g. `fingerprint(params, model_config)`.
  """
  digest = hashlib.sha256()
  for obj in objects:
    _update(digest, obj)
  return digest.hexdigest()


def _update(digest, obj) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  leaves, treedef = jax.tree_util.tree_flatten(obj)
  digest.update(str(treedef).encode())
  for leaf in leaves:
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
      arr = np.ascontiguousarray(np.asarray(leaf))
      digest.update(f"{arr.dtype.str}{arr.shape}".encode())
      digest.update(arr.tobytes())
    else:
      digest.update(json.dumps(leaf, sort_keys=True, default=str).encode())


def input_identity(src) -> dict:
  """Identifies an input: path, size and modification time of a file (or of a folder's top entries), or a
  content hash for an in-memory array."""
  path = getattr(src, "path", None)
  if path is None:
    digest = hashlib.sha256()
    flat = np.asarray(src).reshape(-1)
    step = max(1, _HASH_BYTES // max(1, flat.itemsize))
    for i in range(0, flat.size, step):
      digest.update(np.ascontiguousarray(flat[i:i + step]).tobytes())
    return {"array": digest.hexdigest(), "shape": list(np.shape(src)), "dtype": str(np.asarray(src).dtype)}
  path = os.path.abspath(os.fspath(path))
  stat = os.stat(path)
  ident = {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
  if os.path.isdir(path):  # zarr / N5: metadata files and chunk folders at the top
    entries = sorted(os.scandir(path), key=lambda e: e.name)
    ident["entries"] = [[e.name, e.stat().st_size, e.stat().st_mtime_ns] for e in entries]
  return ident


def _normalise(obj):
  return json.loads(json.dumps(obj, sort_keys=True, default=str))


class Manifest:
  """Finished slabs per pass (`done[pass] = [slab start, ...]`) of a run identified by `key`."""

  def __init__(self, folder: str, key: dict, passes: tuple[str, ...]):
    self.path = os.path.join(folder, MANIFEST)
    self.key = _normalise({"version": _VERSION, **key})
    self.done: dict[str, list[int]] = {p: [] for p in passes}

  def load(self) -> str | None:
    """Takes over the finished slabs of a matching manifest; returns why an existing one was rejected."""
    stored = read_json(self.path)
    if stored is None:
      return None
    old_key = stored.get("key", {}) if isinstance(stored, dict) else {}
    if old_key != self.key:
      changed = sorted(k for k in set(old_key) | set(self.key) if old_key.get(k) != self.key.get(k))
      return f"it was left by a different run (changed: {', '.join(changed) or 'format'})"
    for name in self.done:
      self.done[name] = sorted(int(v) for v in stored.get("done", {}).get(name, []))
    return None

  def save(self) -> None:
    write_json_atomic(self.path, {"key": self.key, "done": self.done})

  def mark(self, name: str, start: int) -> None:
    """Records slab `start` of pass `name` as finished (durably, before the next slab starts)."""
    if start not in self.done[name]:
      self.done[name].append(int(start))
      self.done[name].sort()
    self.save()

  def reset(self, *names: str) -> None:
    """Forgets the finished slabs of these passes (their results are gone)."""
    for name in names:
      self.done[name] = []


def note(message: str) -> None:
  """One line on stderr for the user (resuming, starting over)."""
  print(f"jax_iso: {message}", file=sys.stderr, flush=True)
