"""jax-iso reconstruct: an anisotropic volume onto the isotropic grid."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common
from jax_iso.jobs.reconstruct import METHODS

USAGE = "jax-iso reconstruct --input=ANISO --output=OUT --method=cubic|linear [--factor=F | --spacing=Z,Y,X]"
REQUIRED = ("input", "output")
SUMMARY = "reconstruct an anisotropic volume onto the isotropic grid"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("input", None, "Anisotropic volume: TIFF, zarr / OME-Zarr or N5.", flag_values=fv)
  flags.DEFINE_string("output", None, "Isotropic volume to write: .tif or .ome.zarr.", flag_values=fv)
  flags.DEFINE_string("method", "cubic", f"Reconstruction method: {', '.join(METHODS)}.", flag_values=fv)
  flags.DEFINE_float("factor", None, "Anisotropy factor Z spacing / XY spacing (default: from the voxel size).",
                     flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  common.define_volume_selection(fv)


def main(fv: flags.FlagValues) -> int:
  out = jobs.reconstruct(fv.input, fv.output, method=fv.method, factor=fv.factor, spacing=common.spacing(fv),
                         **common.volume_selection(fv))
  print(f"wrote {out['output']}: {common.shape_str(out['output_shape'])} from "
        f"{common.shape_str(out['input_shape'])} sections ({out['method']}, x{out['factor']:g}), spacing "
        f"{common.spacing_str(out['spacing_nm'])} in {out['seconds']:.1f} s")
  return 0
