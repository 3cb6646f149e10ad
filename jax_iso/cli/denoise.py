"""jax-iso denoise: EMDiffuse-n, conditional diffusion that denoises every section of a volume (or a stack of 2D
images): the model shipped with jax_iso when no training data is given, else one trained on a registered
noisy/clean pair, or on a clean volume with synthetic noise, or a trained model (--init / --model). The output is
the model's one-pass posterior mean where it was trained for one (the shipped blind model), else the mean of K
samples; --uncertainty and --flags write the K samples' spread and where it is high."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common

USAGE = ("jax-iso denoise --input=NOISY --output=OUT [--train_noisy=A --train_clean=B | --train_clean=B "
         "--noise=gaussian:SIGMA | --init=pretrained|scratch|BUNDLE [--train_steps=N]] [--mean=pass|samples] "
         "[--samples=K] [--sample_steps=N] [--sampler=ddpm|ddim|dpm2m] [--uncertainty=U.tif] [--flags=F.tif] "
         "[--report=R.png]")
REQUIRED = ("input", "output")
SUMMARY = "denoise every section with EMDiffuse-n (mean, uncertainty, flags)"


def define_flags(fv: flags.FlagValues) -> None:
  common.define_diffusion(fv, "denoise")
  flags.DEFINE_string("train_noisy", None, "Noisy training volume, registered to --train_clean (same shape).",
                      flag_values=fv)
  flags.DEFINE_string("train_clean", None, "Clean training volume (the target).", flag_values=fv)
  flags.DEFINE_string("noise", None, "Synthetic pairs from --train_clean: gaussian:SIGMA or "
                      "poisson_gaussian:DOSE[,READ_SIGMA] (intensities in [0, 1]).", flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  source = common.selected(fv, fv.input)
  out = jobs.denoise(source, fv.output, **common.diffusion_settings(fv),
                     **common.settings(fv, "train_noisy", "train_clean", "noise"))
  common.print_diffusion(out)
  return 0
