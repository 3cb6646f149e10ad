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

from jax_iso.io.paths import input_file
from jax_iso.io.sink import read_json, write_json_atomic

MANIFEST = "manifest.json"
_VERSION = 2     # 2: folders identified by every file, HDF5 datasets by their file
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
  """Identifies an input so that a resume notices any change of its data: a file's size and modification time;
  for a folder (zarr, N5, precomputed) the number, total size and a digest of every file's relative path, size
  and modification time (metadata and each chunk); a content hash for an in-memory array. The path names the
  volume (an HDF5 dataset: `f.h5/volumes/raw`); what is measured is the file or folder holding it
  (`io.input_file`)."""
  path = getattr(src, "path", None)
  if path is None:
    digest = hashlib.sha256()
    flat = np.asarray(src).reshape(-1)
    step = max(1, _HASH_BYTES // max(1, flat.itemsize))
    for i in range(0, flat.size, step):
      digest.update(np.ascontiguousarray(flat[i:i + step]).tobytes())
    return {"array": digest.hexdigest(), "shape": list(np.shape(src)), "dtype": str(np.asarray(src).dtype)}
  where = os.path.abspath(input_file(os.fspath(path)))
  ident = {"path": os.path.abspath(os.fspath(path))}
  if os.path.isdir(where):
    ident.update(_folder_listing(where))
  else:
    stat = os.stat(where)
    ident.update(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
  return ident


def _folder_listing(folder: str) -> dict:
  """{"files", "bytes", "listing"}: every file under `folder` (relative path, size, mtime) in one digest."""
  digest = hashlib.sha256()
  files = total = 0
  for root, dirs, names in os.walk(folder):
    dirs.sort()
    for name in sorted(names):
      stat = os.stat(os.path.join(root, name))
      digest.update(f"{os.path.relpath(os.path.join(root, name), folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n"
                    .encode())
      files, total = files + 1, total + stat.st_size
  return {"files": files, "bytes": total, "listing": digest.hexdigest()}


def _input_change(old: dict | None, new: dict | None) -> str:
  """What changed between two input identities, in words."""
  if not isinstance(old, dict) or not isinstance(new, dict) or old.get("path") != new.get("path"):
    return "another input"
  if "listing" in new and old.get("files") != new.get("files"):
    return f"the input has {new['files']} files now, {old.get('files')} before"
  if "listing" in new:
    return "files of the input (metadata or chunks) were rewritten"
  return "the input file was rewritten"


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
      if changed == ["input"]:
        return (f"was made from other input data ({_input_change(old_key.get('input'), self.key.get('input'))} "
                "since the finished slabs were made)")
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
