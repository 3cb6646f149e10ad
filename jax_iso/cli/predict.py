"""jax-iso predict: reconstruct a volume with a trained model (a training workdir or an exported bundle)."""
from absl import flags

from jax_iso.cli import common

USAGE = ("jax-iso predict --model=BUNDLE|--workdir=W --input=ANISO --output=OUT [--fuse=mean|geometric|xz|yz] "
         "[--inpaint=auto|I,J] [--uncertainty=U.tif] [--process_index=I --process_count=N | --distributed]")
REQUIRED = ("input", "output")
SUMMARY = "reconstruct a volume with a trained model"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("model", None, "Bundle written by `jax-iso export`.", flag_values=fv)
  flags.DEFINE_string("workdir", None, "Training workdir (its latest checkpoint), instead of --model.",
                      flag_values=fv)
  flags.DEFINE_string("input", None, "Anisotropic volume: TIFF, HDF5, zarr / OME-Zarr, N5 or "
                      "precomputed.", flag_values=fv)
  flags.DEFINE_string("output", None, "Isotropic volume to write: .tif or .ome.zarr.", flag_values=fv)
  flags.DEFINE_float("factor", None, "Anisotropy (default: from the voxel size); must match the model's.",
                     flag_values=fv)
  flags.DEFINE_enum("fuse", None, ["mean", "geometric", "xz", "yz"], "How the xz and yz predictions are "
                    "combined (default: the model config's).", flag_values=fv)
  flags.DEFINE_string("inpaint", None, "emformer: fill lost sections before the isotropic pass: 'auto' or "
                      "section indices of the input, e.g. 12,57.", flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  common.define_volume_selection(fv)
  common.define_ome_version(fv)
  common.define_outputs(fv)
  common.define_sampling(fv)
  common.define_processes(fv)


def main(fv: flags.FlagValues) -> int:
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  from jax_iso.jobs import predict  # pylint: disable=g-import-not-at-top
  if (fv.model is None) == (fv.workdir is None):
    raise UserError("pass exactly one of --model=BUNDLE or --workdir=W")
  given = common.settings(fv, "fuse", "inpaint", "uncertainty", "flags", *common.SAMPLING, *common.SOURCE)
  out = predict(fv.model or fv.workdir, common.selected(fv, fv.input), fv.output, part=common.part(fv), **given)
  if common.print_part(out):
    return 0
  fused = f", fused by {out['fuse']}" if out.get("fuse") else ""
  print(f"wrote {out['output']}: {common.shape_str(out['output_shape'])} from "
        f"{common.shape_str(out['input_shape'])} sections ({out['method']}, x{out['factor']:g}{fused}), spacing "
        f"{common.spacing_str(out['spacing_nm'])} in {out['seconds']:.1f} s")
  common.print_clip_outputs(out)
  return 0
