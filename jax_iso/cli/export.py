"""jax-iso export: write an inference bundle (parameters + model config) from a training workdir, or, with
--format=bioimageio, a BioImage Model Zoo package (ONNX weights, test tensors, rdf.yaml) of a feed-forward model."""
from __future__ import annotations

from absl import flags

from jax_iso.cli import common

USAGE = "jax-iso export --workdir=W --output=BUNDLE [--format=bundle|bioimageio] [--input=VOLUME]"
REQUIRED = ("workdir", "output")
SUMMARY = "export a trained model as an inference bundle or a BioImage Model Zoo package"
FORMATS = ("bundle", "bioimageio")


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("workdir", None, "Training workdir (--format=bioimageio: or a bundle, or a shipped model's "
                      "name: `jax-iso models`).", flag_values=fv)
  flags.DEFINE_string("output", None, "Bundle directory to write (replaced atomically if it is a bundle); with "
                      "--format=bioimageio the package folder, or a .zip of it.", flag_values=fv)
  flags.DEFINE_enum("format", "bundle", FORMATS, "bundle: for `jax-iso predict`; bioimageio: a BioImage Model "
                    "Zoo package (model format 0.5, ONNX weights) of a unet or a2i model.", flag_values=fv)
  flags.DEFINE_string("input", None, "--format=bioimageio: the volume to cut the test tile from (default: the "
                      "training volume).", flag_values=fv)
  flags.DEFINE_float("factor", None, "--format=bioimageio of a model that serves a range of anisotropies (a "
                     "pretrained one): the anisotropy the package is for.", flag_values=fv)
  common.define_missing_chunks(fv)


def main(fv: flags.FlagValues) -> int:
  if fv.format == "bioimageio":
    return _bioimageio(fv)
  if fv.input is not None or fv.factor is not None:
    from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
    raise UserError("--input and --factor are used only with --format=bioimageio (the test tile's volume, the "
                    "package's anisotropy); drop them")
  from jax_iso.train.export import export_bundle  # pylint: disable=g-import-not-at-top
  path = export_bundle(fv.workdir, fv.output)
  print(f"wrote {path} (predict with `jax-iso predict --model={path} --input=... --output=...`)")
  return 0


def _bioimageio(fv: flags.FlagValues) -> int:
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  try:
    from jax_iso.zoo import export_bioimageio  # pylint: disable=g-import-not-at-top
  except ImportError as err:
    raise UserError(f"--format=bioimageio needs {err.name}; install it with `pip install 'jax_iso[bioimageio]'`") \
        from None
  path = export_bioimageio(fv.workdir, fv.output, volume=fv.input, factor=fv.factor)
  print(f"wrote {path} (BioImage Model Zoo package: rdf.yaml, weights.onnx, test tensors)")
  return 0
