"""jax-iso train: fit a method's model on your volume (self-supervised), with checkpoints in a workdir.

Across processes (TPU pod hosts, GPU cluster nodes, or local CPU processes): start the same command in every
process with --distributed; each reads its own share of every batch, all write the checkpoints together, and
process 0 writes metrics.jsonl and loss.png (docs/scaling.md, "Training across processes")."""
import os

from absl import flags
from ml_collections import config_flags

from jax_iso.cli import common

USAGE = ("jax-iso train --config=configs/unet.py --workdir=W --config.data.path=VOL [--config.FIELD=VALUE ...] "
         "[--distributed [--coordinator=HOST:PORT --process_count=N --process_index=I]]")
REQUIRED = ("config", "workdir")
SUMMARY = "train a model on a volume (resumes from the workdir's checkpoints)"
NEEDS_ARGV = True


def define_flags(fv: flags.FlagValues, argv: list[str] | None = None) -> None:
  config_flags.DEFINE_config_file("config", None, "Method config file, e.g. configs/unet.py (configs/unet.py:tiny "
                                  "for a quick check); override fields with --config.FIELD=VALUE.",
                                  flag_values=fv, lock_config=True, sys_argv=argv)
  flags.DEFINE_string("workdir", None, "Folder for checkpoints, metrics.jsonl, loss.png; rerun to resume.",
                      flag_values=fv)
  common.define_missing_chunks(fv)
  flags.DEFINE_bool("distributed", False, "Train across processes: call jax.distributed.initialize() first, "
                    "with --coordinator, --process_count and --process_index where given, else from the "
                    "cluster's environment (Cloud TPU, SLURM, Open MPI, ...); also done when "
                    "JAX_COORDINATOR_ADDRESS is set.", flag_values=fv)
  flags.DEFINE_string("coordinator", None, "With --distributed: the coordinator's host:port (process 0's; "
                      "default JAX_COORDINATOR_ADDRESS or the cluster's).", flag_values=fv)
  flags.DEFINE_integer("process_count", None, "With --distributed: how many processes train together.",
                       flag_values=fv)
  flags.DEFINE_integer("process_index", None, "With --distributed: this process's id, 0 to --process_count - 1.",
                       flag_values=fv)


def start_distributed(fv: flags.FlagValues) -> None:
  """jax.distributed.initialize() for --distributed (or JAX_COORDINATOR_ADDRESS); a UserError when it cannot."""
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  names = ("coordinator", "process_count", "process_index")
  given = [f"--{name}" for name in names if getattr(fv, name) is not None]
  if not (fv.distributed or os.environ.get("JAX_COORDINATOR_ADDRESS")):
    if given:
      raise UserError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for --distributed; add "
                      "--distributed, or leave them out")
    return
  import jax  # pylint: disable=g-import-not-at-top
  try:
    jax.distributed.initialize(coordinator_address=fv.coordinator, num_processes=fv.process_count,
                               process_id=fv.process_index)
  except (ValueError, RuntimeError, TypeError) as err:
    raise UserError(f"--distributed: jax.distributed could not start ({' '.join(str(err).split())[:200]}); "
                    "give --coordinator=HOST:PORT --process_count=N --process_index=I, or run under a "
                    "cluster scheduler") from err


def main(fv: flags.FlagValues) -> int:
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  start_distributed(fv)
  from jax_iso.errors import Terminated  # pylint: disable=g-import-not-at-top
  try:
    out = jobs.train(fv.config, fv.workdir)
  except (KeyboardInterrupt, Terminated) as err:
    err.add_note(f"the checkpoints saved so far are kept in {fv.workdir}: run the same command again to resume")
    raise
  psnr = (f"; held-out PSNR {out['eval_psnr']:.2f} dB (interpolated input {out['eval_psnr_input']:.2f} dB)"
          if "eval_psnr" in out else "")
  print(f"trained {out['steps']} steps (from step {out['resumed_from']}) in {out['seconds']:.0f} s, "
        f"{out['samples_per_s']:.1f} samples/s{psnr}; checkpoints, metrics.jsonl and loss.png in {out['workdir']}")
  return 0
