"""One OME-Zarr written by several processes: each writes its own rows (`Part`), the last to finish commits.

    part = Part(index=1, count=4)                      # this process, of 4 (a job array task, or jax.distributed)
    y0, y1 = part.rows(n_y)                            # its rows: whole chunks, so no chunk has two writers
    with create_volume("out.ome.zarr", shape, dtype, spacing, resume_dir=True, part=part) as sink:
      sink[:, y0:y1, :] = ...                          # on exit: its part is done; the last process commits

All processes share the output's resume folder (`.NAME.work` beside it, on a file system they all see). Process 0
creates the level-0 temp there (or reopens the one an interrupted run left, when its header matches) and writes
`ready.json`; the others wait for it and open the same temp. A finished process writes `done-I.json`; the one
that finds every part done (an exclusive `commit.lock` decides a tie) builds the pyramid and moves the output into
place. An interrupted process leaves the folder as it is, so running the same command again continues, each
process from its own work (`infer.planes` keeps one work folder per part). The processes need not run at the
same time, except that processes 1.. wait for process 0 to have opened the output.
"""
from __future__ import annotations

import dataclasses
import json
import os
import secrets
import sys
import time

from jax_iso.errors import UserError
from jax_iso.io.ome_zarr_sink import CHUNK, OmeZarrSink
from jax_iso.io.sink import HEADER, read_json, remove, write_json_atomic

READY = "ready.json"
COMMIT_LOCK = "commit.lock"
WAIT_SECONDS = float(os.environ.get("JAX_ISO_PART_WAIT_S", 3600))   # how long processes 1.. wait for process 0
_POLL_SECONDS = 0.2


@dataclasses.dataclass(frozen=True)
class Part:
  """Process `index` of `count` writing one output together."""
  index: int
  count: int

  def __post_init__(self):
    if self.count < 1:
      raise UserError(f"process_count={self.count} must be >= 1")
    if not 0 <= self.index < self.count:
      raise UserError(f"process_index={self.index} with process_count={self.count}: the index must be 0 to "
                      f"{self.count - 1}")

  def rows(self, n_y: int, chunk: int = CHUNK) -> tuple[int, int]:
    """This part's Y rows: the chunks of `chunk` rows split into `count` contiguous runs (the first parts take
    one more chunk when they do not divide evenly); (y, y) when there are fewer chunks than parts."""
    chunk = min(chunk, n_y)
    chunks = -(-n_y // chunk)
    lo = self.index * chunks // self.count
    hi = (self.index + 1) * chunks // self.count
    return min(n_y, lo * chunk), min(n_y, hi * chunk)

  def folder_name(self) -> str:
    """The name of this part's own work folder inside the output's resume folder."""
    return f"part-{self.index}-of-{self.count}"


class SharedOmeZarrSink(OmeZarrSink):
  """An `OmeZarrSink` that `part.count` processes write together (module docstring); `resume_dir` is required.

  After `commit()`, `committed` says whether this process completed the output (it was the last part), and
  `parts_done` how many parts were done when it looked.
  """

  def __init__(self, path, shape, dtype, spacing, description, resume_dir, version: str = "0.4", *,
               part: Part):
    if resume_dir is None:
      raise ValueError("a shared output needs its resume folder")
    self.part = part
    self.committed = False
    self.part_written = False
    self.parts_done = 0
    self._token = None
    super().__init__(path, shape, dtype, spacing, description, resume_dir, version=version)

  def _lock_name(self) -> str:
    return f"lock-{self.part.index}"

  def _header(self) -> dict:
    return {**super()._header(), "parts": self.part.count}

  def _done_path(self, index: int) -> str:
    return os.path.join(self.resume_dir, f"done-{index}.json")

  def _open_temp(self) -> None:
    ready_path = os.path.join(self.resume_dir, READY)
    header = json.loads(json.dumps(self._header(), default=str))
    remove(self._done_path(self.part.index))
    if self.part.index == 0:
      before = read_json(ready_path)
      remove(ready_path)
      remove(os.path.join(self.resume_dir, COMMIT_LOCK))
      super()._open_temp()
      same = self.resumed and isinstance(before, dict) and before.get("header") == header
      self._token = before["token"] if same else secrets.token_hex(8)
      if not self.resumed:
        for i in range(1, self.part.count):
          remove(self._done_path(i))
      write_json_atomic(ready_path, {"header": header, "token": self._token, "resumed": self.resumed})
      return
    ready = self._wait_ready(ready_path, header)
    self._reopen()
    self._token, self.resumed = ready["token"], bool(ready["resumed"])

  def _wait_ready(self, ready_path: str, header: dict) -> dict:
    deadline, told = time.monotonic() + WAIT_SECONDS, False
    while True:
      ready = read_json(ready_path)
      if isinstance(ready, dict) and ready.get("header") == header and os.path.exists(self.temp):
        return ready
      if isinstance(ready, dict) and read_json(os.path.join(self.resume_dir, HEADER)) not in (None, header):
        raise UserError(f"process 0 is writing {self.path} with other settings (shape, dtype, voxel size, "
                        "process count or model); give every process the same command")
      if time.monotonic() > deadline:
        raise UserError(f"process 0 did not open {self.path} within {WAIT_SECONDS:.0f} s; start it (the same "
                        "command with process_index=0), then this one again")
      if not told:
        print(f"part {self.part.index}: waiting for process 0 to open {self.path}", file=sys.stderr)
        told = True
      time.sleep(_POLL_SECONDS)

  def commit(self) -> None:
    """Marks this part done; the process that finds every part done completes the output."""
    if self.part_written:
      return
    if self.state != "open":
      super().commit()
      return
    ready = read_json(os.path.join(self.resume_dir, READY)) or {}
    if ready.get("token") != self._token:
      self.suspend()
      raise UserError(f"process 0 started {self.path} over while this process wrote its part; run this "
                      "process again")
    self.flush()
    write_json_atomic(self._done_path(self.part.index), {"token": self._token})
    self.part_written = True
    done = [read_json(self._done_path(i)) for i in range(self.part.count)]
    self.parts_done = sum(isinstance(d, dict) and d.get("token") == self._token for d in done)
    if self.parts_done == self.part.count:
      try:
        os.mkdir(os.path.join(self.resume_dir, COMMIT_LOCK))
      except FileExistsError:
        self.suspend()
        return
      super().commit()
      self.committed = True
      return
    self.suspend()
