"""jax-iso simulate: make an anisotropic volume from an isotropic one (thicker sections along Z)."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common

USAGE = "jax-iso simulate --input=ISO --output=ANISO --factor=F [--profile=box|gaussian] [--noise=SD --seed=N]"
REQUIRED = ("input", "output", "factor")
SUMMARY = "make an anisotropic volume from an isotropic one"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("input", None, "Isotropic volume: TIFF, HDF5, zarr / OME-Zarr, N5 or "
                      "precomputed.", flag_values=fv)
  flags.DEFINE_string("output", None, "Anisotropic volume to write: .tif or .ome.zarr.", flag_values=fv)
  flags.DEFINE_float("factor", None, "Section thickness in fine slices (> 1, may be fractional, e.g. 2.5).",
                     flag_values=fv)
  flags.DEFINE_enum("profile", "box", ["box", "gaussian"],
                    "Section profile: box = physical section thickness, gaussian = FWHM of one section.",
                    flag_values=fv)
  flags.DEFINE_float("sigma", None, "Gaussian profile width in fine slices (default: FWHM = factor).",
                     flag_values=fv)
  flags.DEFINE_float("noise", 0.0, "Standard deviation of added Gaussian noise, on the [0, 1] intensity scale.",
                     flag_values=fv)
  flags.DEFINE_integer("seed", 0, "Seed of the noise.", flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  common.define_volume_selection(fv)
  common.define_ome_version(fv)


def main(fv: flags.FlagValues) -> int:
  source = common.selected(fv, fv.input)
  out = jobs.simulate(source, fv.output, factor=fv.factor, profile=fv.profile, sigma=fv.sigma,
                      noise=fv.noise, seed=fv.seed, **common.settings(fv, "channel", "timepoint"))
  print(f"wrote {out['output']}: {common.shape_str(out['output_shape'])} sections from "
        f"{common.shape_str(out['input_shape'])}, spacing {common.spacing_str(out['spacing_nm'])} "
        f"(x{out['factor']:g}, {out['profile']}) in {out['seconds']:.1f} s")
  return 0
