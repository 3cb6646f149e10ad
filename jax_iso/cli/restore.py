"""jax-iso restore: repair the damaged sections of a serial-section volume (support-film folds, staining
precipitates, missing or defocused sections). The damage is found automatically (or named with --sections), a
restoration network (interpolation, correction and fusion) is trained on the volume's own clean sections (the
shipped one fine-tuned on them, where one ships; else fitted from nothing), and every damaged section is
repaired; clean sections are copied unchanged, bit for bit."""
from absl import flags

from jax_iso import jobs
from jax_iso.cli import common

USAGE = ("jax-iso restore --input=VOL --output=OUT [--artifacts=auto|fold,precipitate,missing,defocus] "
         "[--sections=12,57] [--masks=MASKS.tif] [--model=RUN | --init=pretrained|scratch|M] [--workdir=W] "
         "[--train_steps=N]")
REQUIRED = ("input", "output")
SUMMARY = "find and repair folds, precipitates and missing sections (ssTEM restoration)"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("input", None, "Serial-section volume: TIFF, HDF5, zarr / OME-Zarr, N5 or "
                      "precomputed.", flag_values=fv)
  flags.DEFINE_string("output", None, "Restored volume to write (same shape and dtype): .tif or .ome.zarr.",
                      flag_values=fv)
  flags.DEFINE_string("artifacts", "auto", "What to look for: auto (every kind) or a comma-separated subset of "
                      "missing, fold, precipitate, defocus.", flag_values=fv)
  flags.DEFINE_string("sections", None, "Restore only these sections (indices from 0, e.g. 12,57); the regions "
                      "found in each are repaired, or the whole section where nothing was found.", flag_values=fv)
  flags.DEFINE_string("masks", None, "Also write the detection masks here (uint8 per voxel: 0 clean, 1 missing, "
                      "2 fold, 3 precipitate, 4 defocus, 5 named by --sections).", flag_values=fv)
  flags.DEFINE_string("model", None, "A trained sstem_restore model (training workdir or bundle) instead of "
                      "training one on the input (the same as --init=M).", flag_values=fv)
  common.define_init(fv)
  common.define_training(fv)
  common.define_volume_selection(fv)
  common.define_ome_version(fv)


def main(fv: flags.FlagValues) -> int:
  source = common.selected(fv, fv.input)
  out = jobs.restore(source, fv.output, artifacts=fv.artifacts,
                     **common.settings(fv, "sections", "masks", "model", "init", "workdir", "train_steps",
                                       "variant", "channel", "timepoint"))
  tuned = out.get("route") == "fine_tune"
  common.print_fit(out, f"fine-tuned {out.get('model_name') or out['model']} on the clean sections" if tuned else
                   "trained on the clean sections")
  shipped = f" with the shipped model {out['model_name']}" if out.get("model_name") else ""
  print(f"wrote {out['output']}: {len(out['restored'])} section(s) restored{shipped}, {out['copied']} copied "
        f"unchanged, in {out['seconds']:.1f} s" + (f"; masks in {out['masks']}" if out.get("masks") else ""))
  return 0
