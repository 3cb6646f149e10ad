"""EMformer against cubic, the U-Net and A2I-3DEM on real FIB-SEM at an equal CPU budget; inpainting; uncertainty.

  python experiments/bench_emformer.py [--quick] [--minutes=20] [--factors=2.5,3,4] [--methods=unet,a2i,emformer]
      [--gaps=1,2,3] [--out=results/bench_emformer.json]

Quality: sample2 (../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif, 250^3, 10 nm isotropic) gets box
sections of each factor; each anisotropic volume is reconstructed by cubic interpolation and by every learned
method fitted on that volume alone (`jobs.reconstruct`, the method's `cpu` variant) for `--minutes` of train-step
time on this machine (steps = minutes x 60 / the median time of its jitted train step, measured first), then
scored against the original: PSNR, SSIM of the xz and yz planes, FSC resolution along Z and X.
Inpainting (EMformer's fit at the largest factor): 1, 2 and 3 consecutive sections in the middle of the volume
are blanked; `predict --inpaint=I,J` against cubic interpolation across the gap (a cubic spline through the
remaining sections' centres, `scipy.interpolate`), PSNR on the gap's fine slices against the original.
Uncertainty: the standard deviation of the 8 orientations (`--uncertainty`) against the true absolute error, as
the Spearman correlation of their means over 16^3 blocks.
--quick: x4 only, one minute of training per method, gaps of 1 and 2.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

import numpy as np
from absl import app, flags
from scipy import interpolate, stats

import jax

from jax_iso import io, jobs, methods
from jax_iso.degrade import grid
from common import SAMPLE2, require_sample2, write_json  # experiments/common.py
from speed import step_speed  # experiments/speed.py

_QUICK = flags.DEFINE_bool("quick", False, "x4 only, one minute of training per method, gaps of 1 and 2.")
_MINUTES = flags.DEFINE_float("minutes", 20.0, "Training step time per method and factor.")
_FACTORS = flags.DEFINE_list("factors", ["2.5", "3", "4"], "Anisotropy factors simulated from sample2.")
_METHODS = flags.DEFINE_list("methods", ["unet", "a2i", "emformer"], "Learned methods to compare with cubic.")
_GAPS = flags.DEFINE_list("gaps", ["1", "2", "3"], "Consecutive missing sections to inpaint.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
BLOCK = 16


def _variant(method: str) -> str | None:
  return methods.get(method).default_variant(jax.default_backend())


def _scores(r: dict) -> dict:
  return {"psnr": r["psnr"], "ssim_xz": r["ssim_xz"], "ssim_yz": r["ssim_yz"], "z_res_nm": r["resolution_nm"]["z"],
          "x_res_nm": r["resolution_nm"]["x"]}


def _psnr(pred: np.ndarray, ref: np.ndarray) -> float:
  mse = float(np.mean((pred.astype(np.float64) - ref.astype(np.float64)) ** 2))
  return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def block_means(x: np.ndarray, block: int = BLOCK) -> np.ndarray:
  """Means over whole block^3 cubes (the remainder at the far ends dropped)."""
  z, y, w = (n // block * block for n in x.shape)
  x = x[:z, :y, :w].reshape(z // block, block, y // block, block, w // block, block)
  return x.mean(axis=(1, 3, 5)).ravel()


def uncertainty_vs_error(pred: np.ndarray, std: np.ndarray, ref: np.ndarray) -> dict:
  """Spearman correlation of the block means of the uncertainty and of the true absolute error."""
  err = np.abs(pred.astype(np.float64) - ref.astype(np.float64))
  rho = stats.spearmanr(block_means(std), block_means(err)).statistic
  return {"spearman_16": float(rho), "mean_std": float(std.mean()), "mean_abs_error": float(err.mean())}


def cubic_across(sections: np.ndarray, missing: list[int], factor: float, fine: range) -> np.ndarray:
  """The fine slices `fine` interpolated by a cubic spline through the centres of the sections that remain."""
  keep = [k for k in range(sections.shape[0]) if k not in set(missing)]
  centres = grid.section_centre(np.asarray(keep, np.float64), factor)
  spline = interpolate.CubicSpline(centres, sections[keep].astype(np.float64), axis=0)
  return np.clip(spline(np.asarray(list(fine), np.float64)), 0, 255)


def inpainting(aniso: pathlib.Path, run: pathlib.Path, work: pathlib.Path, factor: float, gaps: list[int],
               ref: np.ndarray) -> list[dict]:
  sections, spacing = io.read_volume(aniso)
  rows = []
  for gap in gaps:
    start = sections.shape[0] // 2 - gap // 2
    missing = list(range(start, start + gap))
    holed = sections.copy()
    holed[missing] = 0
    holed_path = work / f"holed{gap}.tif"
    io.write_volume(holed_path, holed, spacing)
    out_path = work / f"inpainted{gap}.tif"
    jobs.predict(str(run), str(holed_path), str(out_path), inpaint=",".join(map(str, missing)),
                 show_progress=False)
    fine = range(int(np.ceil(start * factor)), int(np.floor((start + gap) * factor)))
    pred = io.read_volume(out_path)[0][fine.start:fine.stop]
    base = cubic_across(sections, missing, factor, fine)
    truth = ref[fine.start:fine.stop]
    rows.append({"gap": gap, "sections": missing, "fine_slices": [fine.start, fine.stop],
                 "psnr_emformer": _psnr(pred, truth), "psnr_cubic": _psnr(base, truth)})
    rows[-1]["gain_db"] = rows[-1]["psnr_emformer"] - rows[-1]["psnr_cubic"]
    print(f"gap of {gap}: EMformer {rows[-1]['psnr_emformer']:.2f} dB, cubic across {rows[-1]['psnr_cubic']:.2f} "
          f"dB ({rows[-1]['gain_db']:+.2f})", flush=True)
  return rows


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  require_sample2()
  quick = _QUICK.value
  minutes = 1.0 if quick else _MINUTES.value
  factors = (4.0,) if quick else tuple(float(f) for f in _FACTORS.value)
  gaps = [1, 2] if quick else [int(g) for g in _GAPS.value]
  ref = io.read_volume(SAMPLE2)[0]
  speeds = {m: step_speed(methods.get(m).default_config(_variant(m)), 4.0) for m in _METHODS.value}
  rows, extra = [], {}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for factor in factors:
      aniso = work / f"x{factor:g}.tif"
      jobs.simulate(SAMPLE2, aniso, factor=factor)
      cubic = work / f"x{factor:g}_cubic.tif"
      jobs.reconstruct(aniso, cubic, method="cubic", show_progress=False)
      rows.append({"factor": factor, "method": "cubic",
                   **_scores(jobs.evaluate(str(cubic), str(SAMPLE2), report_dir=str(work / "rep_cubic")))})
      for method in _METHODS.value:
        steps = max(1, int(minutes * 60 / speeds[method]["seconds_per_step"]))
        out_path, run = work / f"x{factor:g}_{method}.tif", work / f"run_{method}_x{factor:g}"
        std_path = work / f"x{factor:g}_{method}_std.tif" if method == "emformer" else None
        out = jobs.reconstruct(aniso, out_path, method=method, steps=steps, variant=_variant(method),
                               workdir=str(run), uncertainty=None if std_path is None else str(std_path),
                               show_progress=False)
        score = jobs.evaluate(str(out_path), str(SAMPLE2), report_dir=str(work / f"rep_{method}_x{factor:g}"))
        row = {"factor": factor, "method": method, "train_steps": steps, "train_seconds": out["fit"]["seconds"],
               "predict_seconds": out["predict_seconds"], **_scores(score)}
        if std_path is not None:
          row["uncertainty"] = uncertainty_vs_error(io.read_volume(out_path)[0], io.read_volume(std_path)[0], ref)
        rows.append(row)
      print(f"x{factor:g}: " + ", ".join(f"{r['method']} {r['psnr']:.2f} dB" for r in rows if r["factor"] == factor),
            flush=True)
    if "emformer" in _METHODS.value:
      factor = max(factors)
      extra["inpainting"] = {"factor": factor, "rows": inpainting(
          work / f"x{factor:g}.tif", work / f"run_emformer_x{factor:g}", work, factor, gaps, ref)}
  print(f"{minutes:g} min of training per method and factor; variants: "
        + ", ".join(f"{m} {_variant(m)!r}" for m in _METHODS.value))
  print(f"{'factor':>6} {'method':<9} {'steps':>6} {'PSNR dB':>8} {'gain':>6} {'SSIM xz':>8} {'SSIM yz':>8} "
        f"{'Z res':>7} {'X res':>7} {'predict s':>9}")
  for r in rows:
    base = next(b for b in rows if b["factor"] == r["factor"] and b["method"] == "cubic")
    print(f"{r['factor']:>6g} {r['method']:<9} {r.get('train_steps', 0):>6} {r['psnr']:>8.2f} "
          f"{r['psnr'] - base['psnr']:>+6.2f} {r['ssim_xz']:>8.4f} {r['ssim_yz']:>8.4f} {r['z_res_nm']:>7.1f} "
          f"{r['x_res_nm']:>7.1f} {r.get('predict_seconds', 0):>9.1f}")
  for r in rows:
    if "uncertainty" in r:
      u = r["uncertainty"]
      print(f"uncertainty x{r['factor']:g}: Spearman {u['spearman_16']:.3f} (16^3 blocks), mean std "
            f"{u['mean_std']:.2f}, mean |error| {u['mean_abs_error']:.2f}")
  print(f"{'train step':<10} {'s/step':>7} {'samples/s':>10}")
  for name, s in speeds.items():
    print(f"{name:<10} {s['seconds_per_step']:>7.3f} {s['samples_per_s']:>10.1f}")
  write_json(_OUT.value, {"minutes": minutes, "factors": factors, "rows": rows, "speed": speeds, **extra,
                          "quick": quick})


if __name__ == "__main__":
  app.run(main)
