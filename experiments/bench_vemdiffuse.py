"""vEMDiffuse-a and -i against cubic and a regression method on real FIB-SEM: quality, flicker, uncertainty, speed.

  python experiments/bench_vemdiffuse.py [--quick] [--factors=4,2.5] [--variants=a,i] [--train_steps=1500]
      [--samples=4] [--steps=8] [--sweep=4,16] [--noises=shared,plane] [--crop=96] [--methods=unet] [--minutes=5]
      [--out=results/bench_vemdiffuse.json]
      [--pictures=docs] [--sizes=8,16,62]

Quality: sample2 (../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif, 250^3, 10 nm isotropic) gets box
sections of each factor (`jobs.simulate`). vEMDiffuse-a is fitted on that anisotropic volume alone, vEMDiffuse-i
on sample1 (another region, isotropic), `--train_steps` steps each (`cpu` variant); both then sample the central
`--crop` x `--crop` columns of the anisotropic volume (all sections; sampling is the costly part on a CPU), K
samples (`--samples`) of `--steps` DPM-Solver++(2M) steps. Scored on that crop against the original: PSNR, SSIM
of the xz and yz planes and the FSC resolution along Z and X (`jobs.evaluate`) of one sample and of the K-sample
mean; cubic and the regression `--methods` (fitted on the whole anisotropic volume for `--minutes` of training,
`jobs.reconstruct`) scored on the same crop.
Flicker (consistency across the generated planes): the RMS of the difference between consecutive Z slices of
the output divided by the original's (1: as much change from plane to plane as the tissue; above: flicker;
below: too smooth along Z), and the PSNR of that difference against the original's, for one sample with each
slice's noise blended from its two sections' (`infer.noise = "sections"`, the default) and with the `--noises`
modes: one field for every slice (`"shared"`) or noise of its own per slice (`"plane"`, as the reference).
Sampler steps: one sample at `--steps` and at the `--sweep` counts (PSNR, seconds per 256^2 plane).
Uncertainty: the Spearman correlation of 16^3 block means of the K samples' standard deviation with the true
absolute error of their mean, and the share the 0.12 threshold flags.
Speed: seconds per generated 256^2 plane-sample-step, and the whole 250^3 volume at x4 extrapolated from it.
Smallest volume (`--sizes`): vEMDiffuse-a fitted on only the first N sections of the first factor's volume
(all 250^2 pixels of each; the crops' section count shrinks to fit, as `reconstruct` does), `--train_steps`
steps, then one sample of the same central columns scored as above: how quality falls with fewer sections.
--pictures=DIR draws `vemdiffuse_orthoslices.png` (xz planes: original, cubic, -a mean, -a uncertainty).
--quick: x4, vEMDiffuse-a only, 60 training steps, a 64 x 64 crop, K = 2, 4 steps, no regression method.
"""
from __future__ import annotations

import os
import pathlib
import tempfile
import time

import numpy as np
from absl import app, flags
from scipy import stats

from jax_iso import io, jobs
from common import block_means, ROOT, SAMPLE2, require_sample2, write_json  # experiments/common.py

SAMPLE1 = ROOT.parent / "shared" / "data" / "flyem_medulla_fibsem_10nm_iso_sample1.tif"
THRESHOLD = 0.12

_QUICK = flags.DEFINE_bool("quick", False, "x4, -a only, 60 training steps, 64^2 crop, K = 2, 4 steps.")
_FACTORS = flags.DEFINE_list("factors", ["4", "2.5"], "Anisotropy factors simulated from sample2.")
_VARIANTS = flags.DEFINE_list("variants", ["a", "i"], "vEMDiffuse variants: a (the input alone), i (sample1).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 1500, "Training steps of each vEMDiffuse model.")
_SAMPLES = flags.DEFINE_integer("samples", 4, "Samples per voxel, K.")
_STEPS = flags.DEFINE_integer("steps", 8, "DPM-Solver++(2M) steps per sample.")
_SWEEP = flags.DEFINE_list("sweep", ["4", "16"], "Other sampler step counts tried on the first model (one sample).")
_NOISES = flags.DEFINE_list("noises", ["shared", "plane"], "Other noise modes whose flicker is measured (one "
                            "sample; the default mode, sections, is the main rows').")
_CROP = flags.DEFINE_integer("crop", 96, "Lateral size of the central columns sampled and scored.")
_METHODS = flags.DEFINE_list("methods", ["unet"], "Regression methods to compare (fitted on the whole volume).")
_MINUTES = flags.DEFINE_float("minutes", 5.0, "Training minutes of each regression method.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_SIZES = flags.DEFINE_list("sizes", [], "Section counts of the smallest-volume sweep (vEMDiffuse-a, first factor).")
_PICTURES = flags.DEFINE_string("pictures", None, "Draw the orthoslice picture into this folder.")


def _crop(vol: np.ndarray, size: int) -> np.ndarray:
  y0, x0 = (vol.shape[1] - size) // 2, (vol.shape[2] - size) // 2
  return vol[:, y0:y0 + size, x0:x0 + size]


def _scores(pred_path: pathlib.Path, ref_path: pathlib.Path, work: pathlib.Path) -> dict:
  r = jobs.evaluate(str(pred_path), str(ref_path), report_dir=str(work / f"rep_{pred_path.stem}"))
  return {"psnr": round(r["psnr"], 3), "ssim_xz": round(r["ssim_xz"], 4), "ssim_yz": round(r["ssim_yz"], 4),
          "z_res_nm": round(r["resolution_nm"]["z"], 1), "x_res_nm": round(r["resolution_nm"]["x"], 1)}


def flicker(pred: np.ndarray, ref: np.ndarray) -> dict:
  """Change from one Z slice to the next, against the original's."""
  ref = ref[:pred.shape[0]].astype(np.float64)
  dp, dr = np.diff(pred.astype(np.float64), axis=0), np.diff(ref, axis=0)
  mse = float(np.mean((dp - dr) ** 2))
  return {"dz_rms_ratio": round(float(np.sqrt(np.mean(dp ** 2)) / np.sqrt(np.mean(dr ** 2))), 3),
          "dz_psnr": round(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)), 2)}


def calibration(mean: np.ndarray, std: np.ndarray, ref: np.ndarray) -> dict:
  err = np.abs(mean.astype(np.float64) - ref[:mean.shape[0]].astype(np.float64)) / 255.0
  return {"spearman_16": round(float(stats.spearmanr(block_means(std), block_means(err)).statistic), 3),
          "flagged_share": round(float((std > THRESHOLD).mean()), 4), "mean_std": round(float(std.mean()), 4),
          "mean_abs_error": round(float(err.mean()), 4)}


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  require_sample2()
  quick = _QUICK.value
  factors = (4.0,) if quick else tuple(float(f) for f in _FACTORS.value)
  variants = ("a",) if quick else tuple(_VARIANTS.value)
  train_steps = 60 if quick else _TRAIN_STEPS.value
  k, steps, crop = (2, 4, 64) if quick else (_SAMPLES.value, _STEPS.value, _CROP.value)
  regressors = () if quick else tuple(m for m in _METHODS.value if m)
  sweep = () if quick else tuple(int(n) for n in _SWEEP.value if n.strip())
  ref_full = io.read_volume(SAMPLE2)[0]
  rows, extra = [], {"flicker": [], "steps": [], "calibration": [], "sizes": []}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for factor in factors:
      tag = f"x{factor:g}"
      aniso = work / f"{tag}.tif"
      jobs.simulate(SAMPLE2, aniso, factor=factor)
      sections, spacing = io.read_volume(aniso)
      aniso_crop = work / f"{tag}_crop.tif"
      io.write_volume(aniso_crop, _crop(sections, crop), spacing)
      ref = _crop(ref_full, crop)
      ref_path = work / f"{tag}_ref.tif"
      io.write_volume(ref_path, ref, (10.0, 10.0, 10.0))
      cubic = work / f"{tag}_cubic.tif"
      jobs.reconstruct(aniso_crop, cubic, method="cubic", show_progress=False)
      rows.append({"factor": factor, "method": "cubic", **_scores(cubic, ref_path, work)})
      for method in regressors:
        from speed import step_speed  # pylint: disable=g-import-not-at-top  experiments/speed.py
        from jax_iso import methods as methods_lib  # pylint: disable=g-import-not-at-top
        config = methods_lib.get(method).default_config("cpu")
        n = max(1, int(_MINUTES.value * 60 / step_speed(config, factor)["seconds_per_step"]))
        full = work / f"{tag}_{method}_full.tif"
        out = jobs.reconstruct(aniso, full, method=method, train_steps=n, variant="cpu", show_progress=False)
        cropped = work / f"{tag}_{method}.tif"
        io.write_volume(cropped, _crop(io.read_volume(full)[0], crop), (10.0, 10.0, 10.0))
        rows.append({"factor": factor, "method": method, "train_steps": n, "train_seconds": out["fit"]["seconds"],
                     **_scores(cropped, ref_path, work)})
      for variant in variants:
        name = f"vemdiffuse_{variant}"
        run = work / f"run_{name}_{tag}"
        fit = jobs.train(_config(name, aniso, factor, train_steps), str(run), show_progress=False)
        one, mean, std = (work / f"{tag}_{name}_{kind}.tif" for kind in ("one", "mean", "std"))
        t0 = time.perf_counter()
        jobs.predict(str(run), str(aniso_crop), str(one), samples=1, sample_steps=steps,
                     show_progress=False)
        one_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        jobs.predict(str(run), str(aniso_crop), str(mean), uncertainty=str(std),
                     samples=k, sample_steps=steps, show_progress=False)
        mean_seconds = time.perf_counter() - t0
        planes = io.read_volume(one)[0].shape[0]
        per_step = one_seconds / (planes * steps) * (256 * 256) / (crop * crop)   # s per 256^2 plane-step
        common = {"factor": factor, "train_steps": train_steps, "train_seconds": round(fit["seconds"], 1),
                  "eval_psnr_pairs": fit.get("eval_psnr")}
        rows.append({**common, "method": f"{name} (one sample)", "predict_seconds": round(one_seconds, 1),
                     "seconds_per_256_plane_step": round(per_step, 3), **_scores(one, ref_path, work)})
        rows.append({**common, "method": f"{name} (mean of {k})", "predict_seconds": round(mean_seconds, 1),
                     **_scores(mean, ref_path, work)})
        pred_one = io.read_volume(one)[0]
        extra["flicker"].append({"factor": factor, "method": name, "noise": "sections", **flicker(pred_one, ref)})
        for mode in [m for m in _NOISES.value if m.strip() and m != "sections"]:
          other = work / f"{tag}_{name}_{mode}.tif"
          jobs.predict(str(run), str(aniso_crop), str(other), samples=1, sample_steps=steps, noise_field=mode,
                       show_progress=False)
          extra["flicker"].append({"factor": factor, "method": name, "noise": mode,
                                   **flicker(io.read_volume(other)[0], ref), **_scores(other, ref_path, work)})
        extra["calibration"].append({"factor": factor, "method": name, "k": k,
                                     **calibration(io.read_volume(mean)[0], io.read_volume(std)[0], ref)})
        if factor == factors[0] and variant == variants[0]:
          extra["steps"].append({"factor": factor, "method": name, "steps": steps,
                                 "seconds_per_256_plane": round(one_seconds / planes * 65536 / crop ** 2, 2),
                                 **{k_: v for k_, v in rows[-2].items() if k_ in ("psnr", "ssim_xz", "ssim_yz",
                                                                               "z_res_nm", "x_res_nm")}})
          for n_steps in sweep:
            path = work / f"{tag}_{name}_s{n_steps}.tif"
            t0 = time.perf_counter()
            jobs.predict(str(run), str(aniso_crop), str(path), samples=1, sample_steps=n_steps,
                         show_progress=False)
            seconds = time.perf_counter() - t0
            extra["steps"].append({"factor": factor, "method": name, "steps": n_steps,
                                   "seconds_per_256_plane": round(seconds / planes * 65536 / crop ** 2, 2),
                                   **_scores(path, ref_path, work)})
          whole = 250 * 1 * steps * per_step          # 250 slices of 250^2 (about one 256^2 plane), one sample
          extra["whole_volume_x4_minutes_one_sample"] = round(whole / 60, 1)
          if _PICTURES.value:
            _picture(pathlib.Path(_PICTURES.value), factor, ref, io.read_volume(cubic)[0], io.read_volume(mean)[0],
                     io.read_volume(std)[0], k)
        print(f"{tag} {name}: " + ", ".join(f"{r['method']} {r['psnr']:.2f} dB" for r in rows
                                            if r["factor"] == factor), flush=True)
      if factor == factors[0]:
        for size in (int(n) for n in _SIZES.value if n.strip()):
          extra["sizes"].append(_size_row(work, aniso, aniso_crop, ref_path, factor, size, train_steps, steps))
          print(f"{tag} vemdiffuse_a on {size} sections: {extra['sizes'][-1]['psnr']:.2f} dB", flush=True)
  _print(rows, extra)
  write_json(_OUT.value, {"quick": quick, "crop": crop, "samples": k, "steps": steps, "rows": rows, **extra,
                          "cpu": os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip()})


def _size_row(work: pathlib.Path, aniso: pathlib.Path, aniso_crop: pathlib.Path, ref_path: pathlib.Path,
              factor: float, size: int, train_steps: int, steps: int) -> dict:
  """vEMDiffuse-a fitted on the first `size` sections of `aniso` alone, one sample of `aniso_crop` scored."""
  from jax_iso.jobs.isotropic import fit_crops  # pylint: disable=g-import-not-at-top
  sections, spacing = io.read_volume(aniso)
  small = work / f"first{size}.tif"
  io.write_volume(small, sections[:size], spacing)
  config = _config("vemdiffuse_a", small, factor, train_steps)
  with io.open_volume(small) as src:
    fit_crops(config, src, str(small))
  run = work / f"run_first{size}"
  fit = jobs.train(config, str(run), show_progress=False)
  out = work / f"first{size}_one.tif"
  jobs.predict(str(run), str(aniso_crop), str(out), samples=1, sample_steps=steps, show_progress=False)
  return {"factor": factor, "sections": size, "frames": int(config.data.frames), "train_steps": train_steps,
          "train_seconds": round(fit["seconds"], 1), **_scores(out, ref_path, work)}


def _config(name: str, aniso: pathlib.Path, factor: float, steps: int):
  from jax_iso import methods as methods_lib  # pylint: disable=g-import-not-at-top
  config = methods_lib.get(name).default_config("cpu")
  config.train.steps = steps
  config.train.eval_every = steps
  config.data.factor = factor
  config.data.path = str(SAMPLE1 if name == "vemdiffuse_i" else aniso)
  return config


def _picture(folder: pathlib.Path, factor: float, ref, cubic, mean, std, k: int) -> None:
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  folder.mkdir(parents=True, exist_ok=True)
  y = ref.shape[1] // 2
  n = mean.shape[0]
  top = float(np.percentile(std[:, y], 99.5)) or 1.0
  panels = [("original (10 nm)", ref[:n, y], "gray", (0, 255)), (f"cubic from x{factor:g}", cubic[:n, y], "gray",
            (0, 255)), (f"vEMDiffuse-a, mean of {k}", mean[:, y], "gray", (0, 255)),
            (f"uncertainty (std, 0-{top:.2f})", std[:, y], "magma", (0, top))]
  fig = Figure(figsize=(3.2 * len(panels), 6))
  for i, (title, image, cmap, (lo, hi)) in enumerate(panels):
    ax = fig.add_subplot(1, len(panels), i + 1)
    ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("X")
    ax.set_ylabel("Z")
  fig.suptitle("xz plane of FlyEM sample2 (central columns)", fontsize=11)
  fig.tight_layout()
  path = folder / "vemdiffuse_orthoslices.png"
  fig.savefig(path, dpi=80)
  print(f"wrote {path}")


def _print(rows: list[dict], extra: dict) -> None:
  print(f"\n{'factor':>6} {'method':<30} {'PSNR dB':>8} {'gain':>6} {'SSIM xz':>8} {'SSIM yz':>8} {'Z res':>7} "
        f"{'X res':>7}")
  for r in rows:
    base = next(b for b in rows if b["factor"] == r["factor"] and b["method"] == "cubic")
    print(f"{r['factor']:>6g} {r['method']:<30} {r['psnr']:>8.2f} {r['psnr'] - base['psnr']:>+6.2f} "
          f"{r['ssim_xz']:>8.4f} {r['ssim_yz']:>8.4f} {r['z_res_nm']:>7.1f} {r['x_res_nm']:>7.1f}")
  print("\nflicker (one sample): RMS of the Z-slice difference / the original's, and its PSNR")
  for f in extra["flicker"]:
    print(f"  x{f['factor']:g} {f['method']} noise {f['noise']:<6}: ratio {f['dz_rms_ratio']:.3f}, "
          f"dz PSNR {f['dz_psnr']:.2f} dB" + (f", PSNR {f['psnr']:.2f} dB" if "psnr" in f else ""))
  print("\nsampler steps (one sample)")
  for s in extra["steps"]:
    print(f"  x{s['factor']:g} {s['method']} {s['steps']:>3} steps: PSNR {s['psnr']:.2f} dB, Z res "
          f"{s['z_res_nm']:.1f} nm, {s['seconds_per_256_plane']:.2f} s per 256^2 plane")
  if extra["sizes"]:
    print("\nsmallest volume (vEMDiffuse-a fitted on the first N sections; one sample)")
  for z in extra["sizes"]:
    print(f"  x{z['factor']:g} {z['sections']:>4} sections (crops of {z['frames']}): PSNR {z['psnr']:.2f} dB, "
          f"SSIM xz {z['ssim_xz']:.4f}, Z res {z['z_res_nm']:.1f} nm, X res {z['x_res_nm']:.1f} nm")
  for c in extra["calibration"]:
    print(f"calibration x{c['factor']:g} {c['method']} (K={c['k']}): Spearman {c['spearman_16']:.3f} (16^3 blocks), "
          f"flagged {c['flagged_share']:.2%}")
  if "whole_volume_x4_minutes_one_sample" in extra:
    print(f"whole 250^3 at x4, one sample: about {extra['whole_volume_x4_minutes_one_sample']} min")


if __name__ == "__main__":
  app.run(main)
