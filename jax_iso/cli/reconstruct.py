"""jax-iso reconstruct: an anisotropic volume onto the isotropic grid."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common
from jax_iso.methods import METHODS, names

ISOTROPIC = names(task="isotropic")

USAGE = (f"jax-iso reconstruct --input=ANISO --output=OUT --method={'|'.join(ISOTROPIC)} [--factor=F | "
         "--spacing=Z,Y,X] [--workdir=W --train_steps=N] [--inpaint=auto|I,J] [--uncertainty=U.tif] "
         "[--train_iso=ISO] [--samples=K --steps=N --flags=F.tif] [--restore] "
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
  flags.DEFINE_string("workdir", None, "Learned methods: keep the fitted model here (default: a temporary "
                      "folder, removed after).", flag_values=fv)
  flags.DEFINE_integer("steps", None, "Diffusion methods (vemdiffuse_a/_i): sampler steps per sample, as in "
                       "`denoise`; other learned methods: training steps (as --train_steps). Default: the config's.",
                       flag_values=fv)
  flags.DEFINE_integer("train_steps", None, "Learned methods: training steps (default: the method config's).",
                       flag_values=fv)
  flags.DEFINE_string("train_iso", None, "vemdiffuse_i: the isotropic volume of similar tissue (e.g. a FIB-SEM) it "
                      "learns from; same dtype as the input.", flag_values=fv)
  flags.DEFINE_bool("restore", False, "First repair damaged sections (folds, precipitates, missing or defocused "
                    "sections: `jax-iso restore` with its defaults), then reconstruct the restored volume.",
                    flag_values=fv)
  common.define_clip_outputs(fv)
  common.define_processes(fv)


def main(fv: flags.FlagValues) -> int:
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  from jax_iso.infer import strategies  # pylint: disable=g-import-not-at-top
  sampled = fv.method in METHODS and "sampling" in strategies.get(METHODS[fv.method].strategy).features
  if not sampled and fv.steps is not None and fv.train_steps is not None:
    raise UserError(f"--steps and --train_steps both give the training steps of --method={fv.method}; pass one")
  train_steps = fv.train_steps if sampled or fv.train_steps is not None else fv.steps
  source = common.selected(fv, fv.input)
  out = jobs.reconstruct(source, fv.output, method=fv.method, factor=fv.factor, spacing=common.spacing(fv),
                         workdir=fv.workdir, steps=train_steps, inpaint=fv.inpaint, uncertainty=fv.uncertainty,
                         flags=fv.flags, sampling=common.sampling(fv, fv.steps if sampled else None),
                         train_iso=fv.train_iso, restore=fv.restore, part=common.part(fv),
                         **common.volume_selection(fv))
  if common.print_part(out):
    return 0
  if out.get("restore"):
    print(f"restored {len(out['restore']['restored'])} damaged section(s) first (jax-iso restore)")
  if out.get("fit"):
    fit = out["fit"]
    print(f"fitted {out['method']} on the input: {fit['steps']} steps in {fit['seconds']:.0f} s; held-out PSNR "
          f"{fit['eval_psnr']:.2f} dB (interpolated input {fit['eval_psnr_input']:.2f} dB)")
  print(f"wrote {out['output']}: {common.shape_str(out['output_shape'])} from "
        f"{common.shape_str(out['input_shape'])} sections ({out['method']}, x{out['factor']:g}), spacing "
        f"{common.spacing_str(out['spacing_nm'])} in {out['seconds']:.1f} s")
  common.print_clip_outputs(out)
  return 0
