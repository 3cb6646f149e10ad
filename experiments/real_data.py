"""Trust on real data: `validate` and the reference-free spectral resolution of cubic and the learned methods.

  python experiments/real_data.py [--quick] [--crop=192] [--methods=cubic,unet,a2i] [--unet_steps=300] \
      [--a2i_steps=120] [--emformer_steps=600] [--vemdiffuse_steps=1200 --vemdiffuse_sampling=2,6] [--work=DIR]
      [--out=results/real_data.json]

For each volume: `jobs.validate` (every other real section held out, the rest reconstructed at twice the factor,
learned methods fitted on the remaining sections alone) and, at the volume's own factor, each method's
reconstruction (learned methods fitted on the whole volume) measured without a reference
(`metrics.evaluate_reference_free`: spectral Z / X resolution, and the odd/even self-FSC for comparison).
Volumes: the real ssTEM crops of ../shared/data (CREMI x10, ISBI 2012 x12.5, Drosophila L3 VNC ~x10.9), each
its central `--crop` x `--crop` pixels laterally (inference time), and FlyEM sample2 (10 nm isotropic FIB-SEM)
with box sections simulated at x4 and x3, where the reconstructions are also scored against the true volume so that
validate's ranking can be checked. Learned methods train their `cpu` variant for a fixed number of steps.
EMformer and vEMDiffuse-a also write their uncertainty maps (the 8 orientations' / the K samples' standard
deviation), drawn beside the planes.
With --work, a rerun reuses the inputs, reconstructions and validate results found there and scores them again.
--quick: the CREMI crop at 128 px, 12 sections, cubic and U-Net (20 steps).
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile

import numpy as np
from absl import app, flags

from jax_iso import io, jobs, metrics
from jax_iso.metrics import heldout_plot
from jax_iso.metrics.reading import centre_crop
from common import ROOT, SAMPLE2, write_json  # experiments/common.py

DATA = ROOT.parent / "shared" / "data"
VOLUMES = {  # name: (file, simulate factor or None)
    "flyem_x4": (SAMPLE2, 4.0),
    "flyem_x3": (SAMPLE2, 3.0),
    "cremi": (DATA / "cremi_sstem_crop_isovem_train.tif", None),
    "isbi2012": (DATA / "isbi2012_sstem_train.tif", None),
    "vnc_stack1": (DATA / "drosophila_l3_vnc_sstem_stack1.tif", None),
}
METHODS = ("cubic", "unet", "a2i", "emformer", "vemdiffuse_a")
SNR_SWEEP = (1.5, 2.0, 3.0, 4.0, 8.0)

_QUICK = flags.DEFINE_bool("quick", False, "CREMI at 128 px, 12 sections; cubic and U-Net, 20 steps.")
_CROP = flags.DEFINE_integer("crop", 192, "Lateral crop (px) of the real ssTEM volumes.")
_UNET_STEPS = flags.DEFINE_integer("unet_steps", 300, "U-Net training steps (each fit).")
_A2I_STEPS = flags.DEFINE_integer("a2i_steps", 120, "A2I-3DEM training steps (each fit).")
_EMFORMER_STEPS = flags.DEFINE_integer("emformer_steps", 600, "EMformer training steps (each fit).")
_VEM_STEPS = flags.DEFINE_integer("vemdiffuse_steps", 1200, "vEMDiffuse-a training steps (each fit).")
_VEM_SAMPLING = flags.DEFINE_list("vemdiffuse_sampling", ["2", "6"], "vEMDiffuse-a samples K and sampler steps.")
_METHODS = flags.DEFINE_list("methods", ["cubic", "unet", "a2i"], f"Which of {', '.join(METHODS)}.")
_VALIDATE = flags.DEFINE_bool("validate", True, "Run validate (off: only the reconstructions' resolutions).")
_VOLUMES = flags.DEFINE_list("volumes", list(VOLUMES), "Which volumes.")
_WORK = flags.DEFINE_string("work", None, "Keep inputs, reconstructions and reports here (default: a temp dir).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")


def _input(name: str, work: pathlib.Path, crop: int, depth: int | None) -> pathlib.Path:
  """The anisotropic input of a case: a lateral crop of a real volume, or FlyEM with simulated sections."""
  path, factor = VOLUMES[name]
  out = work / f"{name}.tif"
  if factor is not None:
    jobs.simulate(str(path), str(out), factor=factor)
    return out
  data, spacing = io.read_volume(str(path))
  _, cy, cx = centre_crop(data.shape, crop)
  io.write_volume(out, data[:depth, cy, cx], spacing)
  return out


def _case(name: str, work: pathlib.Path, methods: tuple[str, ...], steps: dict, crop: int,
          depth: int | None) -> dict:
  aniso = work / f"{name}.tif"
  if not aniso.exists():
    aniso = _input(name, work, crop, depth)
  learned = {m: {"train_steps": steps[m], "show_progress": False} for m in steps}
  val = _validate(aniso, work / f"{name}_validate", methods, steps) if _VALIDATE.value else {}
  row = {"input": str(aniso), "validate": val.get("methods", {}), "validate_best": val.get("best"),
         "reconstruction": {}}
  for method in methods:
    recon = work / f"{name}_{method}.tif"
    if not recon.exists():
      extra = {"uncertainty": str(work / f"{name}_{method}_std.tif")} if method in ("emformer", "vemdiffuse_a") else {}
      if method == "vemdiffuse_a":
        k, n = (int(v) for v in _VEM_SAMPLING.value)
        extra.update(samples=k, sample_steps=n)
      jobs.reconstruct(str(aniso), str(recon), method=method, **learned.get(method, {"show_progress": False}),
                       **extra)
    free = jobs.evaluate(str(recon), report_dir=str(work / f"{name}_{method}_report"))
    entry = {"spectral_nm": free["resolution_nm"], "spectral_limited": free["resolution_limited"],
             "self_fsc_nm": free["self_fsc"]["resolution_nm"], "spectral_z_by_snr_factor": _sweep(recon)}
    if VOLUMES[name][1] is not None:  # simulated: the truth is known
      ref = jobs.evaluate(str(recon), str(VOLUMES[name][0]), report_dir=str(work / f"{name}_{method}_ref"))
      entry.update(psnr=ref["psnr"], fsc_z_nm=ref["resolution_nm"]["z"], ssim_xz=ref["ssim_xz"])
    row["reconstruction"][method] = entry
  row["picture"] = str(_xz_picture(name, work, methods))
  return row


def _xz_picture(name: str, work: pathlib.Path, methods: tuple[str, ...]) -> pathlib.Path:
  """The central XZ plane (256 px wide at most) of the anisotropic input and of each method's reconstruction, and
  of EMformer's uncertainty map when there is one (on its own colour scale)."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  planes = {}
  paths = [("sections (input)", work / f"{name}.tif")] + [(m, work / f"{name}_{m}.tif") for m in methods]
  for method in ("emformer", "vemdiffuse_a"):
    if (work / f"{name}_{method}_std.tif").exists() and method in methods:
      paths.append((f"{method} uncertainty", work / f"{name}_{method}_std.tif"))
  for label, path in paths:
    with io.open_volume(str(path)) as src:
      _, _, cx = centre_crop(src.shape, 256)
      planes[label] = (np.asarray(src[:, src.shape[1] // 2, cx], np.float32), src.spacing)
  fig = Figure(figsize=(3.0 * len(planes), 3.6), layout="constrained")
  lo, hi = np.percentile(next(iter(planes.values()))[0], [0.5, 99.5])   # one grey scale, set by the input
  for ax, (label, (plane, spacing)) in zip(fig.subplots(1, len(planes)), planes.items()):
    std = label.endswith("uncertainty")
    ax.imshow(plane, cmap="magma" if std else "gray", interpolation="nearest",
              vmin=0 if std else lo, vmax=(float(np.percentile(plane, 99.5)) or 1.0) if std else hi,
              extent=(0, plane.shape[1] * spacing[2], plane.shape[0] * spacing[0], 0))
    ax.set_title(label, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
  fig.suptitle(f"{name}: XZ plane (Z down), {plane.shape[1] * spacing[2]:.0f} nm wide", fontsize=10)
  out = work / f"xz_{name}.png"
  fig.savefig(out, dpi=100)
  return out


def _sweep(recon: pathlib.Path) -> dict[str, float]:
  """The spectral Z resolution of a reconstruction at several crossing thresholds (evaluate's crop)."""
  with io.open_volume(str(recon)) as src:
    block = np.asarray(src[centre_crop(src.shape, 384)], np.float32) / np.iinfo(src.dtype).max
    result = metrics.spectral_resolution(block, src.spacing, section_factor=io.provenance(recon)["factor"])
  return {f"{k:g}": result.resolution("z", k).resolution for k in SNR_SWEEP}


def _validate(aniso: pathlib.Path, out_dir: pathlib.Path, methods: tuple[str, ...], steps: dict) -> dict:
  """validate with per-method steps: one call per learned method, merged; a finished one is read back."""
  merged = None
  for method in methods:
    done = out_dir / method / "validate.json"
    one = json.loads(done.read_text()) if done.exists() else jobs.validate(
        str(aniso), [method], out_dir=str(out_dir / method), train_steps=steps.get(method), show_progress=False)
    merged = one if merged is None else {**merged, "methods": {**merged["methods"], **one["methods"]}}
  merged["best"] = max(merged["methods"], key=lambda m: merged["methods"][m]["psnr"])
  real = io.read_volume(str(out_dir / methods[0] / "heldout_real.tif"))[0]
  predicted = {m: io.read_volume(str(out_dir / m / f"heldout_{m}.tif"))[0] for m in methods}
  heldout_plot.heldout_picture(out_dir / "validate.png", real, predicted, merged)  # all methods in one picture
  return merged


def _print(rows: dict) -> None:
  print(f"{'volume':<11} {'method':<8} {'val PSNR':>8} {'val SSIM':>8} {'val FRC':>8} {'Z spec':>7} {'X spec':>7} "
        f"{'Z selfFSC':>9} {'ref PSNR':>8} {'ref FSC Z':>9}")
  for name, row in rows.items():
    for method, rec in row["reconstruction"].items():
      v = row["validate"].get(method, {"psnr": float("nan"), "ssim": float("nan"), "frc_resolution": float("nan")})
      ref = (f"{rec['psnr']:>8.2f} {rec['fsc_z_nm']:>9.1f}" if "psnr" in rec else f"{'-':>8} {'-':>9}")
      z = ("<=" if rec["spectral_limited"]["z"] else "") + f"{rec['spectral_nm']['z']:.1f}"
      print(f"{name:<11} {method:<8} {v['psnr']:>8.2f} {v['ssim']:>8.4f} {v['frc_resolution']:>8.1f} {z:>7} "
            f"{rec['spectral_nm']['x']:>7.1f} {rec['self_fsc_nm']['z']:>9.1f} {ref}")


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  quick = _QUICK.value
  names = ["cremi"] if quick else _VOLUMES.value
  methods = ("cubic", "unet") if quick else tuple(_METHODS.value)
  unknown = sorted(set(methods) - set(METHODS))
  if unknown:
    raise app.UsageError(f"--methods: unknown {', '.join(unknown)}; choose from {', '.join(METHODS)}")
  every = {"unet": _UNET_STEPS.value, "a2i": _A2I_STEPS.value, "emformer": _EMFORMER_STEPS.value,
           "vemdiffuse_a": _VEM_STEPS.value}
  steps = {"unet": 20} if quick else {m: every[m] for m in methods if m in every}
  crop, depth = (128, 12) if quick else (_CROP.value, None)
  rows = {}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(_WORK.value or tmp)
    work.mkdir(parents=True, exist_ok=True)
    for name in names:
      rows[name] = _case(name, work, methods, steps, crop, depth)
      _print({name: rows[name]})
      write_json(_OUT.value, {"crop": crop, "steps": steps, "validate": _VALIDATE.value, "volumes": rows})
  _print(rows)


if __name__ == "__main__":
  app.run(main)
