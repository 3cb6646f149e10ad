"""Checkpoints with orbax: the train state and the data iterator's state, saved together every N steps.

A run restarted on the same workdir resumes from the latest complete checkpoint (orbax writes each one to a
temporary directory and renames it when complete, so a kill mid-save leaves the previous one intact). The layout
(`checkpoints/<step>/state`, `.../data`) is the one `jax_iso.models.loader` reads parameters from.
"""
from __future__ import annotations

import pathlib

import orbax.checkpoint as ocp

from jax_iso.models.loader import CHECKPOINTS, DATA_ITEM, STATE_ITEM
from jax_iso.train.state import TrainState


class Checkpointer:
  """`save(step, state, data_state)`, `restore(abstract_state) -> (state, data_state)`, keep-N."""

  def __init__(self, workdir: str | pathlib.Path, *, keep: int = 3):
    self.directory = pathlib.Path(workdir).absolute() / CHECKPOINTS
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: TrainState, data_state: dict) -> None:
    """Saves asynchronously; call `wait()` before reading the files or exiting."""
    items = {STATE_ITEM: ocp.args.StandardSave(state), DATA_ITEM: ocp.args.JsonSave(data_state)}
    self._manager.save(step, args=ocp.args.Composite(**items), force=True)

  def restore(self, abstract: TrainState, step: int | None = None) -> tuple[TrainState, dict]:
    """The state at `step` (default: the latest), placed like `abstract`, and the data iterator state."""
    step = self.latest_step() if step is None else step
    items = {STATE_ITEM: ocp.args.StandardRestore(abstract), DATA_ITEM: ocp.args.JsonRestore()}
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
