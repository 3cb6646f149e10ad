"""Local processes for the multi-process tests: a free coordinator port, the --distributed flags of process i of
n, and the processes ended whatever happens (a peer died, a timeout)."""
from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Iterator


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def distributed_flags(port: int, count: int, index: int) -> list[str]:
  """`jax-iso ... --distributed` flags of process `index` of `count` (none for one process)."""
  if count == 1:
    return []
  return ["--distributed", f"--coordinator=localhost:{port}", f"--process_count={count}", f"--process_index={index}"]


@contextlib.contextmanager
def ended(procs: list[subprocess.Popen]) -> Iterator[list[subprocess.Popen]]:
  """`procs` (filled inside the block); on leaving it, a process left hanging is killed by its own id."""
  try:
    yield procs
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
        p.wait()
