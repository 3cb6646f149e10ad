"""Checkpoints with orbax: the train state and the data iterator's state, saved together every N steps.

A run restarted on the same workdir resumes from the latest complete checkpoint (orbax writes each one to a
temporary directory and renames it when complete, so a kill mid-save leaves the previous one intact).
"""
from __future__ import annotations

import pathlib

import orbax.checkpoint as ocp

from jax_iso.train.state import TrainState


DIRNAME = "checkpoints"


def exists(workdir: str | pathlib.Path) -> bool:
  """Whether `workdir` has a checkpoints folder (opening a `Checkpointer` creates one)."""
  return (pathlib.Path(workdir) / DIRNAME).is_dir()


class Checkpointer:
  """`save(step, state, data_state)`, `restore(abstract_state) -> (state, data_state)`, keep-N."""

  def __init__(self, workdir: str | pathlib.Path, *, keep: int = 3):
    self.directory = pathlib.Path(workdir).absolute() / DIRNAME
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: TrainState, data_state: dict) -> None:
    """Saves asynchronously; call `wait()` before reading the files or exiting."""
    self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                     data=ocp.args.JsonSave(data_state)), force=True)

  def restore(self, abstract: TrainState, step: int | None = None) -> tuple[TrainState, dict]:
    """The state at `step` (default: the latest), placed like `abstract`, and the data iterator state."""
    step = self.latest_step() if step is None else step
    restored = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                                                   data=ocp.args.JsonRestore()))
    return restored["state"], restored["data"]

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
