"""jax-iso validate: rank methods on the user's own volume against real held-out sections.

Every other section is held out; the rest (as thick as before, twice as far apart) is reconstructed at twice the
factor by each method (learned methods are fitted on those sections alone), and each prediction, integrated
over the held-out sections' thickness, is scored against the real sections by PSNR, SSIM and FRC resolution.
"""
import pathlib

from absl import flags

from jax_iso import jobs
from jax_iso.cli import common
from jax_iso.jobs.validate import DEFAULT_METHODS

USAGE = "jax-iso validate --input=REAL --methods=cubic,unet,a2i [--out_dir=DIR] [--train_steps=N] [--init=I]"
REQUIRED = ("input",)
SUMMARY = "score methods against real held-out sections of your own volume"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("input", None, "Anisotropic volume (sections along Z): TIFF, HDF5, zarr / OME-Zarr, N5 or "
                      "precomputed; it is read into memory.", flag_values=fv)
  flags.DEFINE_string("methods", ",".join(DEFAULT_METHODS), "Comma-separated methods to score.", flag_values=fv)
  flags.DEFINE_string("out_dir", None, "Where validate.json, validate.png and the held-out sections go "
                      "(default: INPUT_validate beside --input).", flag_values=fv)
  flags.DEFINE_float("factor", None, "Anisotropy factor Z spacing / XY spacing (default: from the voxel size).",
                     flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  common.define_volume_selection(fv)
  flags.DEFINE_integer("train_steps", None, "Learned methods: training steps (default: the method config's).",
                       flag_values=fv)
  common.define_init(fv)


def main(fv: flags.FlagValues) -> int:
  source = common.selected(fv, fv.input)
  out = jobs.validate(source, fv.methods, **common.settings(fv, "out_dir", "train_steps", "init", *common.SOURCE))
  unit = out["resolution_units"]
  rows = [("method", "PSNR (dB)", "SSIM", f"FRC res ({unit})", "seconds")]
  for name, s in out["methods"].items():
    rows.append((name, f"{s['psnr']:.2f}", f"{s['ssim']:.4f}",
                 f"{'<=' if s['frc_limited'] else ''}{s['frc_resolution']:.1f}", f"{s['seconds']:.0f}"))
  widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
  for i, r in enumerate(rows):
    print("  ".join([r[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(r[1:], widths[1:])]))
    if i == 0:
      print("  ".join("-" * w for w in widths))
  print(f"{len(out['heldout'])} real held-out sections of {out['sections']}, methods at x{out['validated_factor']:g} "
        f"(twice the input's x{out['factor']:g}); best: {out['best']}")
  print(f"report: {out['out_dir']} (validate.json, {', '.join(pathlib.Path(p).name for p in out['pictures'])}, "
        "heldout_*.tif)")
  return 0
