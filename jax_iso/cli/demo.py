"""jax-iso demo: simulate x4 anisotropy on the shipped EM sample, reconstruct it (interpolation and a U-Net fitted
on the sections alone), score every result against the original."""
from absl import flags

from jax_iso import jobs
from jax_iso.jobs.demo import DEMO_STEPS, METHODS as DEMO_METHODS

USAGE = "jax-iso demo [--out_dir=demo_output] [--factor=4] [--methods=linear,cubic,unet] [--train_steps=N]"
REQUIRED = ()
SUMMARY = "run the main job on the real EM sample shipped in the package"


def define_flags(fv: flags.FlagValues) -> None:
  flags.DEFINE_string("out_dir", "demo_output", "Folder for the volumes, training runs and reports.",
                      flag_values=fv)
  flags.DEFINE_float("factor", 4.0, "Anisotropy to simulate (Z section thickness in 10 nm slices).",
                     flag_values=fv)
  flags.DEFINE_list("methods", list(DEMO_METHODS), "Reconstruction methods to compare.", flag_values=fv)
  flags.DEFINE_integer("train_steps", DEMO_STEPS, "Training steps of each learned method (rerunning the demo "
                       "resumes from its run_<method>_x<factor>/ folder).", flag_values=fv)


def main(fv: flags.FlagValues) -> int:
  from jax_iso.errors import UserError  # pylint: disable=g-import-not-at-top
  from jax_iso.io.factor import check_factor  # pylint: disable=g-import-not-at-top
  from jax_iso.methods import names  # pylint: disable=g-import-not-at-top
  isotropic = names(task="isotropic")
  unknown = [m for m in fv.methods if m not in isotropic]
  if unknown or not fv.methods:
    raise UserError(f"--methods={','.join(fv.methods)}: choose among {', '.join(isotropic)}")
  if fv.train_steps < 1:
    raise UserError(f"--train_steps={fv.train_steps} must be >= 1")
  check_factor(fv.factor)
  print("jax_iso demo: FlyEM FIB-SEM sample (160^3, 10 nm isotropic) -> simulated "
        f"{10 * fv.factor:g} nm sections (x{fv.factor:g}) -> reconstruction ({', '.join(fv.methods)}) -> scores "
        "against the original")
  out = jobs.demo(fv.out_dir, factor=fv.factor, methods=tuple(fv.methods), train_steps=fv.train_steps)
  for method, run in out["runs"].items():
    if run.get("fit"):
      fit = run["fit"]
      trained = (f"reused the finished {fit['steps']}-step run" if fit["resumed_from"] >= fit["steps"] else
                 f"trained {fit['steps'] - fit['resumed_from']} steps in {fit['seconds']:.0f} s")
      print(f"{method}: {trained} ({run['variant'] or 'default'} config), reconstructed in "
            f"{run['predict_seconds']:.0f} s; run folder {run['workdir']}")
  print(out["table"])
  print(f"best: {out['best']}, {out['gain_db']:+.2f} dB PSNR over {out['baseline']} interpolation")
  for method, report in out["reports"].items():
    print(f"report ({method}): {report}/ (orthoslices.png, fsc.png, metrics.json)")
  return 0
