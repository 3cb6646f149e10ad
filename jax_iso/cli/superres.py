"""jax-iso superres: EMDiffuse-r, conditional diffusion that super-resolves every section 2x in X and Y (the
output's lateral spacing halved), trained on a high-resolution volume (its images at 2x coarser pixels as
inputs), on a registered low/high-resolution pair, or a trained model. K samples a voxel: the output is their
mean; --uncertainty and --flags write their spread and where it is high."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common

USAGE = ("jax-iso superres --input=LR --output=OUT (--train_hr=B [--train_lr=A] | --model=BUNDLE) [--samples=K] "
         "[--steps=N] [--sampler=ddpm|ddim|dpm2m] [--uncertainty=U.tif] [--flags=F.tif] [--report=R.png]")
REQUIRED = ("input", "output")
SUMMARY = "super-resolve every section 2x in X and Y with EMDiffuse-r (mean, uncertainty, flags)"


def define_flags(fv: flags.FlagValues) -> None:
  common.define_diffusion(fv, "super-resolve")
  flags.DEFINE_string("train_hr", None, "High-resolution training volume (the target).", flag_values=fv)
  flags.DEFINE_string("train_lr", None, "Low-resolution training volume registered to --train_hr, half its Y and "
                      "X (default: made from --train_hr).", flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  source = common.selected(fv, fv.input)
  out = jobs.superres(source, fv.output, **common.diffusion_settings(fv), **common.settings(fv, "train_lr", "train_hr"))
  common.print_diffusion(out)
  return 0
