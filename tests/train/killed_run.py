"""Run as a script: train the tiny U-Net config for STEPS steps in WORKDIR; if KILL_AT > 0, the process SIGKILLs
itself right after the checkpoint of step KILL_AT is on disk (used by test_resume)."""
import os
import signal
import sys

from configs import unet
from jax_iso.train import checkpoint, train_and_evaluate


def main(workdir: str, data_path: str, steps: int, kill_at: int) -> None:
  config = unet.get_config("tiny")
  config.data.path = data_path
  config.train.steps, config.train.checkpoint_every, config.train.eval_every = steps, 2, 4
  save = checkpoint.Checkpointer.save

  def save_then_maybe_die(self, step, state, data_state):
    save(self, step, state, data_state)
    if step == kill_at:
      self.wait()
      os.kill(os.getpid(), signal.SIGKILL)

  checkpoint.Checkpointer.save = save_then_maybe_die
  train_and_evaluate(config, workdir, show_progress=False)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
