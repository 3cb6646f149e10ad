"""Checkpoints with orbax: the train state and the data iterators' states, saved together every N steps.

A run restarted on the same workdir resumes from the latest complete checkpoint (orbax writes each one to a
temporary directory and renames it when complete, so a kill mid-save leaves the previous one intact). The layout
(`checkpoints/<step>/state`, `.../data`) is the one `jax_iso.models.loader` reads parameters from.

Across processes (jax.distributed) every process calls `save` and `restore` with the same step: orbax writes
each array once (the state is replicated) and process 0 commits the checkpoint. Each process's data iterator
state is its own file, `data/process_<i>-of-<n>.json` (grain's names), restored by the same process; a run
may resume on another number of processes, as the states of all of them are the same (the next batch's number:
`jax_iso.data.crop_dataset`), which is checked. Single-process checkpoints from before these files
(`data/metadata`) restore too.
"""
from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp

from jax_iso.errors import UserError
from jax_iso.models.loader import CHECKPOINTS, DATA_ITEM, STATE_ITEM
from jax_iso.train.state import TrainState

LEGACY_DATA_FILE = "metadata"   # the one data state of checkpoints written before the per-process files


def process_file(index: int | None = None, count: int | None = None) -> str:
  """The data state file of process `index` of `count` (default: this one)."""
  index = jax.process_index() if index is None else index
  count = jax.process_count() if count is None else count
  return f"process_{index}-of-{count}.json"


class ProcessJsonHandler(ocp.handlers.JsonCheckpointHandler):
  """Every process writes its own JSON (`process_file()`) and reads it back."""

  async def _save_fn(self, x, directory):
    (directory / process_file()).write_text(json.dumps(x))

  def restore(self, directory, item=None, args=None) -> dict:
    del item, args
    own = pathlib.Path(directory) / process_file()
    if own.exists():
      return json.loads(own.read_text())
    files = sorted(pathlib.Path(directory).glob("process_*-of-*.json")) or [pathlib.Path(directory) /
                                                                             LEGACY_DATA_FILE]
    states = [json.loads(f.read_text()) for f in files if f.exists()]
    if not states or any(s != states[0] for s in states):
      raise UserError(f"checkpoint {pathlib.Path(directory).parent} holds no data state this process "
                      f"({process_file()}) can resume from ({', '.join(f.name for f in files)}); resume with "
                      "the number of processes that wrote it")
    return states[0]


@ocp.args.register_with_handler(ProcessJsonHandler, for_save=True)
@dataclasses.dataclass
class ProcessJsonSave(ocp.args.CheckpointArgs):
  item: Any


@ocp.args.register_with_handler(ProcessJsonHandler, for_restore=True)
@dataclasses.dataclass
class ProcessJsonRestore(ocp.args.CheckpointArgs):
  item: Any = None


class Checkpointer:
  """`save(step, state, data_state)`, `restore(abstract_state) -> (state, data_state)`, keep-N."""

  def __init__(self, workdir: str | pathlib.Path, *, keep: int = 3):
    self.directory = pathlib.Path(workdir).absolute() / CHECKPOINTS
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: TrainState, data_state: dict) -> None:
    """Saves asynchronously (every process, with its own `data_state`); call `wait()` before reading the files
    or exiting."""
    items = {STATE_ITEM: ocp.args.StandardSave(state), DATA_ITEM: ProcessJsonSave(data_state)}
    self._manager.save(step, args=ocp.args.Composite(**items), force=True)

  def restore(self, abstract: TrainState, step: int | None = None) -> tuple[TrainState, dict]:
    """The state at `step` (default: the latest), placed like `abstract`, and this process's data iterator
    state."""
    step = self.latest_step() if step is None else step
    items = {STATE_ITEM: ocp.args.StandardRestore(abstract), DATA_ITEM: ProcessJsonRestore()}
    restored = self._manager.restore(step, args=ocp.args.Composite(**items))
    return restored[STATE_ITEM], restored[DATA_ITEM]

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    """Waits for the last save and closes; closing again does nothing."""
    if self._manager is not None:
      self._manager.wait_until_finished()
      self._manager.close()
      self._manager = None
