"""jax-iso train: fit a method's model on your volume (self-supervised), with checkpoints in a workdir."""
import os

from absl import flags
from ml_collections import config_flags

from jax_iso.cli import common

USAGE = "jax-iso train --config=configs/unet.py --workdir=W --config.data.path=VOL [--config.FIELD=VALUE ...]"
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
  flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() first (multi-host TPU/GPU; also "
                    "done when JAX_COORDINATOR_ADDRESS is set).", flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  import jax  # pylint: disable=g-import-not-at-top
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  if fv.distributed or os.environ.get("JAX_COORDINATOR_ADDRESS"):
    jax.distributed.initialize()
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
