"""jax-iso export: write an inference bundle (parameters + model config) from a training workdir."""
from absl import flags

USAGE = "jax-iso export --workdir=W --output=BUNDLE"
REQUIRED = ("workdir", "output")
SUMMARY = "export a trained model as an inference bundle"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("workdir", None, "Training workdir.", flag_values=fv)
  flags.DEFINE_string("output", None, "Bundle directory to write (replaced atomically if it is a bundle).",
                      flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  from jax_iso.train.export import export_bundle  # pylint: disable=g-import-not-at-top
  path = export_bundle(fv.workdir, fv.output)
  print(f"wrote {path} (predict with `jax-iso predict --model={path} --input=... --output=...`)")
  return 0
