"""jax-iso evaluate: score a reconstruction against a reference, or measure its anisotropy without one."""
import pathlib

from absl import flags

from jax_iso import jobs, metrics
from jax_iso.cli import common
from jax_iso.jobs.evaluate import NORMALIZATIONS
from jax_iso.metrics.spectral import SNR_FACTOR

USAGE = "jax-iso evaluate --pred=OUT [--ref=ISO] [--report_dir=DIR]"
REQUIRED = ("pred",)
SUMMARY = "PSNR, SSIM and directional FSC resolution, with a picture report"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("pred", None, "Volume to score (e.g. a reconstruction).", flag_values=fv)
  flags.DEFINE_string("ref", None, "Reference (ground-truth) volume on the same grid. Without it: "
                      "reference-free directional resolution of --pred from its power spectrum and noise floor (how "
                      "anisotropic it still is).", flag_values=fv)
  flags.DEFINE_string("report_dir", None, "Where metrics.json and the PNG pictures go "
                      "(default: PRED_report beside --pred).", flag_values=fv)
  flags.DEFINE_enum("normalize", "dtype", list(NORMALIZATIONS),
                    "Intensity scaling to [0, 1]: dtype range, or the 0.1-99.9 percentiles of each volume.",
                    flag_values=fv)
  common.define_spacing(fv, "Voxel size Z,Y,X in nm for the FSC axes (default: from the files).")
  flags.DEFINE_float("factor", None, "Without --ref: the anisotropy of the sections --pred was reconstructed "
                     "from (default: the factor jax-iso wrote into its metadata); the Z power that is an image of "
                     "that section grid is not counted as resolution.", flag_values=fv)
  common.define_volume_selection(fv)


def main(fv: flags.FlagValues) -> int:
  out = jobs.evaluate(*common.selected_all(fv, fv.pred, fv.ref), report_dir=fv.report_dir, normalize=fv.normalize,
                      factor=fv.factor, **common.settings(fv, "channel", "timepoint"))
  print(metrics.format_table({pathlib.Path(fv.pred).name: out}))
  if out.get("reference_free"):
    own = out["self_fsc"]
    values = ", ".join(f"{d.upper()} {'<=' if own['resolution_limited'][d] else ''}{own['resolution_nm'][d]:.1f}"
                       for d in ("z", "x"))
    grid = (f"; the images of the x{out['section_factor']:g} section grid removed" if out["section_factor"]
            else "")
    print(f"Z/X res: where the power spectrum falls to {SNR_FACTOR:g} x the noise floor (no reference{grid}).\n"
          f"{own['note']}: {values} {out['resolution_units']}")
  print(f"report: {out['report_dir']} (metrics.json, " +
        ", ".join(pathlib.Path(p).name for p in out["pictures"]) + ")")
  return 0
