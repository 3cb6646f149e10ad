"""jax-iso reconstruct: an anisotropic volume onto the isotropic grid."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common
from jax_iso.methods import METHODS, names

ISOTROPIC = names(task="isotropic")

USAGE = (f"jax-iso reconstruct --input=ANISO --output=OUT --method={'|'.join(ISOTROPIC)} [--factor=F | "
         "--spacing=Z,Y,X] [--workdir=W --train_steps=N] [--inpaint=auto|I,J] [--uncertainty=U.tif] "
         "[--train_iso=ISO] [--samples=K --sample_steps=N --flags=F.tif] [--restore] "
         "[--process_index=I --process_count=N | --distributed]")
REQUIRED = ("input", "output")
SUMMARY = "reconstruct an anisotropic volume onto the isotropic grid"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("input", None, "Anisotropic volume: TIFF, HDF5, zarr / OME-Zarr, N5 or "
                      "precomputed.", flag_values=fv)
  flags.DEFINE_string("output", None, "Isotropic volume to write: .tif or .ome.zarr.", flag_values=fv)
  flags.DEFINE_string("method", "cubic", "Reconstruction method: " + "; ".join(f"{n} ({METHODS[n].summary})" for n in
                      ISOTROPIC) + ".", flag_values=fv)
  flags.DEFINE_float("factor", None, "Anisotropy factor Z spacing / XY spacing (default: from the voxel size).",
                     flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  common.define_volume_selection(fv)
  common.define_ome_version(fv)
  common.define_training(fv)
  common.define_init(fv)
  flags.DEFINE_string("train_iso", None, "vemdiffuse_i: the isotropic volume of similar tissue (e.g. a FIB-SEM) it "
                      "learns from; same dtype as the input.", flag_values=fv)
  flags.DEFINE_bool("restore", False, "First repair damaged sections (folds, precipitates, missing or defocused "
                    "sections: `jax-iso restore` with its defaults), then reconstruct the restored volume.",
                    flag_values=fv)
  flags.DEFINE_string("inpaint", None, "emformer: fill lost sections before the isotropic pass: 'auto' (detect "
                      "blank and outlier sections, and print them) or section indices of the input, e.g. 12,57.",
                      flag_values=fv)
  common.define_outputs(fv)
  common.define_sampling(fv)
  common.define_processes(fv)


def main(fv: flags.FlagValues) -> int:
  given = common.settings(fv, "init", "workdir", "train_steps", "variant", "train_iso", "inpaint", "uncertainty", "flags",
                          *common.SAMPLING, *common.SOURCE)
  out = jobs.reconstruct(common.selected(fv, fv.input), fv.output, method=fv.method, restore=fv.restore,
                         part=common.part(fv), **given)
  if out.get("part"):     # fitted by the processes together (--distributed), then each wrote its rows
    common.print_fit(out, f"{'fine-tuned' if out.get('route') == 'fine_tune' else 'fitted'} {out['method']} on "
                     f"the input, {out['part']['count']} processes together")
  if common.print_part(out):
    return 0
  if out.get("restore"):
    print(f"restored {len(out['restore']['restored'])} damaged section(s) first (jax-iso restore)")
  common.print_fit(out, f"{'fine-tuned' if out.get('route') == 'fine_tune' else 'fitted'} {out['method']} on the input")
  print(f"wrote {out['output']}: {common.shape_str(out['output_shape'])} from "
        f"{common.shape_str(out['input_shape'])} sections ({out['method']}, x{out['factor']:g}), spacing "
        f"{common.spacing_str(out['spacing_nm'])} in {out['seconds']:.1f} s")
  common.print_clip_outputs(out)
  return 0
