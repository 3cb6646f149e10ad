"""Training across processes: `jax-iso train --distributed` in 2 local CPU processes with a local coordinator
(one CPU device each) against the same command in 1 process, on the tiny U-Net and a small real EM crop.

- The 2-process loss curve equals the 1-process one (same global batch, same crops in the same rows) up to
  float32 rounding: the mean loss and the gradients are summed as two per-process partial sums joined by an
  all-reduce instead of one sum over the batch, so they may differ in the last bits, and the parameters carry
  that difference on. `LOSS_RTOL` bounds it for these few steps.
- A 2-process run killed with SIGKILL (both processes) right after its checkpoint of step KILL_AT and started
  again equals the uninterrupted 2-process run bit for bit: the same programs on the same devices, the state
  restored exactly and each process's data iterator restored from its own file.

Run as a script (`python test_multiprocess_train.py KILL_AT LOG jax-iso-train-flags...`), this file is one
training process that, with KILL_AT > 0, waits for its SIGKILL once the checkpoint of step KILL_AT is complete.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jax_iso.models.loader import load_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS, KILL_AT = 6, 4
LOSS_RTOL = 1e-5     # float32 eps is 1.2e-7; a reduction order differing per step, amplified over 6 Adam steps
TIMEOUT = 300        # seconds a training command may take (2 loaded cores, start-up and compiles included)


def _train(workdir: pathlib.Path, data: pathlib.Path, *, processes: int, kill_at: int = 0) -> list[str]:
  """Runs `processes` training processes of the tiny U-Net (under jax.distributed when more than one, one CPU
  device each) to the end, or, with `kill_at`, until all have completed the checkpoint of that step, when all
  are SIGKILLed at once; returns their output."""
  flags = [f"--config={ROOT}/configs/unet.py:tiny", f"--workdir={workdir}", f"--config.data.path={data}",
           f"--config.train.steps={STEPS}"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_ISO_PROGRESS": "0",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
  from local_processes import distributed_flags, ended, free_port  # pylint: disable=g-import-not-at-top
  port, logs = free_port(), []                                        # (not at the top: this file runs as a script)
  earlier = len(list(workdir.parent.glob(f"{workdir.name}-*.log")))     # of earlier runs in this workdir
  with ended([]) as procs:
    for i in range(processes):
      distributed = distributed_flags(port, processes, i)
      logs.append(workdir.parent / f"{workdir.name}-{earlier + i}.log")
      with logs[-1].open("w") as log:
        procs.append(subprocess.Popen([sys.executable, __file__, str(kill_at), str(logs[-1]), *flags,
                                       *distributed], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT
    ready = [pathlib.Path(f"{log}.ready") for log in logs]
    while kill_at and not all(r.exists() for r in ready) and all(p.poll() is None for p in procs):
      assert time.monotonic() < deadline, f"no checkpoint of step {kill_at} within {TIMEOUT} s"
      time.sleep(0.2)
    for p in procs if kill_at else []:
      p.send_signal(signal.SIGKILL)
    codes = [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in procs]
  outs = [log.read_text() for log in logs]
  expect = [-signal.SIGKILL if kill_at else 0] * processes
  assert codes == expect and all(r.exists() for r in ready if kill_at), "\n".join(o[-3000:] for o in outs)
  return outs


def _losses(workdir: pathlib.Path) -> dict[int, float]:
  records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return {r["step"]: r["loss"] for r in records if "loss" in r}


@pytest.mark.slow
@pytest.mark.ci
def test_two_processes_train_like_one_and_resume_exactly_after_sigkill(aniso_path, tmp_path):
  one, two, killed = tmp_path / "one", tmp_path / "two", tmp_path / "killed"
  _train(one, aniso_path, processes=1)
  outs = _train(two, aniso_path, processes=2)
  assert sum("trained 6 steps (from step 0)" in out for out in outs) == 2, outs
  a, b = _losses(one), _losses(two)
  assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
  steps = sorted(a)
  np.testing.assert_allclose([b[s] for s in steps], [a[s] for s in steps], rtol=LOSS_RTOL, atol=0)
  assert (two / "loss.png").exists() and len((two / "metrics.jsonl").read_text().splitlines()) == len(
      (one / "metrics.jsonl").read_text().splitlines())                # written once, by process 0
  data_files = sorted(p.name for p in (two / "checkpoints" / str(STEPS) / "data").glob("process_*"))
  assert data_files == ["process_0-of-2.json", "process_1-of-2.json"]

  _train(killed, aniso_path, processes=2, kill_at=KILL_AT)
  assert max(_losses(killed)) == KILL_AT and load_model(killed).step == KILL_AT
  outs = _train(killed, aniso_path, processes=2)
  assert sum(f"trained 6 steps (from step {KILL_AT})" in out for out in outs) == 2, outs
  resumed = _losses(killed)
  assert [resumed[s] for s in steps] == [b[s] for s in steps]          # bit for bit
  for x, y in zip(jax.tree.leaves(load_model(killed).params), jax.tree.leaves(load_model(two).params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _saved(tmp_path, files: dict[str, dict]):
  """A checkpoint of step 1 whose data folder holds `files` (name -> data state) in place of what was saved."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from jax_iso.train import checkpoint  # pylint: disable=g-import-not-at-top
  state = {"w": jnp.arange(3.0)}
  saver = checkpoint.Checkpointer(tmp_path)
  saver.save(1, state, {"next_index": 1})
  saver.close()
  folder = tmp_path / "checkpoints" / "1" / "data"
  (folder / "process_0-of-1.json").unlink()
  for name, value in files.items():
    (folder / name).write_text(json.dumps(value))
  return checkpoint.Checkpointer(tmp_path), state


@pytest.mark.parametrize("files", [
    {"process_0-of-1.json": {"next_index": 7}},      # this process's own
    {"process_0-of-2.json": {"next_index": 7}, "process_1-of-2.json": {"next_index": 7}},   # 2 processes wrote it
    {"metadata": {"next_index": 7}},                  # one process, before the per-process files
])
def test_a_data_state_restores_from_its_own_file_or_from_other_processes_that_agree(tmp_path, files):
  saver, state = _saved(tmp_path, files)
  try:
    restored, data_state = saver.restore(state)
  finally:
    saver.close()
  assert data_state == {"next_index": 7}
  np.testing.assert_array_equal(restored["w"], state["w"])


def test_data_states_that_disagree_are_refused(tmp_path):
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  saver, state = _saved(tmp_path, {"process_0-of-2.json": {"next_index": 7},
                                   "process_1-of-2.json": {"next_index": 8}})
  try:
    with pytest.raises(UserError, match="resume with the number of processes that wrote it"):
      saver.restore(state)
  finally:
    saver.close()


def test_process_flags_without_distributed_are_refused(tmp_path, capsys, monkeypatch):
  from jax_iso.cli.main import main  # pylint: disable=g-import-not-at-top
  monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
  assert main(["jax-iso", "train", f"--config={ROOT}/configs/unet.py:tiny", f"--workdir={tmp_path}",
               "--process_count=2", "--process_index=0"]) == 2
  assert "--process_count, --process_index are for --distributed" in capsys.readouterr().err


def _main(kill_at: int, log: str, flags: list[str]) -> int:
  """One training process; with kill_at > 0, once every process has completed the checkpoint of step kill_at,
  it says so (LOG.ready) and waits for the SIGKILL."""
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  from jax_iso.cli.main import main  # pylint: disable=g-import-not-at-top
  from jax_iso.train import checkpoint  # pylint: disable=g-import-not-at-top
  save = checkpoint.Checkpointer.save

  def save_then_wait_for_the_kill(self, step, state, data_state):
    save(self, step, state, data_state)
    if step == kill_at:
      self.wait()
      multihost_utils.sync_global_devices("checkpoint written")   # every process has written its part
      pathlib.Path(f"{log}.ready").touch()
      time.sleep(TIMEOUT)

  checkpoint.Checkpointer.save = save_then_wait_for_the_kill
  return main(["jax-iso", "train", *flags])


if __name__ == "__main__":
  sys.exit(_main(int(sys.argv[1]), sys.argv[2], sys.argv[3:]))
