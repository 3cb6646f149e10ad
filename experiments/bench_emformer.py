"""EMformer against cubic, the U-Net and A2I-3DEM on real FIB-SEM at an equal CPU budget; inpainting; uncertainty.

  python experiments/bench_emformer.py [--quick] [--minutes=20] [--factors=2.5,3,4] [--methods=unet,a2i,emformer]
      [--gaps=1,2,3] [--out=results/bench_emformer.json] [--pictures=docs]

Quality: sample2 (../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif, 250^3, 10 nm isotropic) gets box
sections of each factor; each anisotropic volume is reconstructed by cubic interpolation and by every learned
method fitted on that volume alone (`jobs.reconstruct`, the method's `cpu` variant) for `--minutes` of train-step
time on this machine (steps = minutes x 60 / the median time of its jitted train step, measured first), then
scored against the original: PSNR, SSIM of the xz and yz planes, FSC resolution along Z and X.
Inpainting (EMformer's fit at the largest factor, on the central 128 x 128 columns): 1, 2 and 3 consecutive
sections in the middle of the volume are blanked; `predict --inpaint=I,J` against cubic interpolation across the gap (a cubic spline through the
remaining sections' centres, `scipy.interpolate`), PSNR on the gap's fine slices against the original.
Uncertainty: the standard deviation of the 8 orientations (`--uncertainty`) against the true absolute error, as
the Spearman correlation of their means over 16^3 blocks.
--pictures=DIR draws `emformer_uncertainty.png` (an xz plane: original, EMformer, uncertainty, true error) and
`emformer_inpainting.png` (xz planes across each gap: original, cubic across it, EMformer).
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
from common import block_means, SAMPLE2, require_sample2, write_json  # experiments/common.py
from speed import step_speed  # experiments/speed.py

_QUICK = flags.DEFINE_bool("quick", False, "x4 only, one minute of training per method, gaps of 1 and 2.")
_MINUTES = flags.DEFINE_float("minutes", 20.0, "Training step time per method and factor.")
_FACTORS = flags.DEFINE_list("factors", ["2.5", "3", "4"], "Anisotropy factors simulated from sample2.")
_METHODS = flags.DEFINE_list("methods", ["unet", "a2i", "emformer"], "Learned methods to compare with cubic.")
_GAPS = flags.DEFINE_list("gaps", ["1", "2", "3"], "Consecutive missing sections to inpaint (empty: none).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_PICTURES = flags.DEFINE_string("pictures", None, "Draw the uncertainty and inpainting pictures into this folder.")
INPAINT_CROP = 128


def _variant(method: str) -> str | None:
  return methods.get(method).default_variant(jax.default_backend())


def _scores(r: dict) -> dict:
  return {"psnr": r["psnr"], "ssim_xz": r["ssim_xz"], "ssim_yz": r["ssim_yz"], "z_res_nm": r["resolution_nm"]["z"],
          "x_res_nm": r["resolution_nm"]["x"]}


def _psnr(pred: np.ndarray, ref: np.ndarray) -> float:
  mse = float(np.mean((pred.astype(np.float64) - ref.astype(np.float64)) ** 2))
  return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def uncertainty_vs_error(pred: np.ndarray, std: np.ndarray, ref: np.ndarray) -> dict:
  """Spearman correlation of the block means of the uncertainty and of the true absolute error."""
  ref = ref[:pred.shape[0]]                      # the fine grid of whole sections (the last slices left out)
  err = np.abs(pred.astype(np.float64) - ref.astype(np.float64))
  rho = stats.spearmanr(block_means(std), block_means(err)).statistic
  return {"spearman_16": float(rho), "mean_std": float(std.mean()), "mean_abs_error": float(err.mean())}


def cubic_across(sections: np.ndarray, missing: list[int], factor: float, fine: range) -> np.ndarray:
  """The fine slices `fine` interpolated by a cubic spline through the centres of the sections that remain."""
  keep = [k for k in range(sections.shape[0]) if k not in set(missing)]
  centres = grid.section_centre(np.asarray(keep, np.float64), factor)
  spline = interpolate.CubicSpline(centres, sections[keep].astype(np.float64), axis=0)
  return np.clip(spline(np.asarray(list(fine), np.float64)), 0, 255)


def _xz(vol: np.ndarray, y: int, z: slice | None = None) -> np.ndarray:
  return np.asarray(vol[z or slice(None), y, :], np.float64)


def uncertainty_picture(path: pathlib.Path, factor: float, pred: np.ndarray, std: np.ndarray, ref: np.ndarray,
                        rho: float) -> None:
  """Central xz plane: original, EMformer, the orientations' standard deviation, the true absolute error."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  ref = ref[:pred.shape[0]]
  y = ref.shape[1] // 2
  panels = [("original (10 nm)", _xz(ref, y), "gray", (0, 255)), (f"EMformer from x{factor:g}", _xz(pred, y), "gray",
            (0, 255))]
  err = np.abs(_xz(pred, y) - _xz(ref, y))
  top = float(np.percentile(err, 99.5))
  std_top = float(np.percentile(_xz(std, y), 99.5)) or 1.0        # each on its own scale: std is much smaller
  panels += [(f"uncertainty (std of 8 orientations, 0-{std_top:.1f})", _xz(std, y), "magma", (0, std_top)),
             (f"true |error| (0-{top:.0f}; blocks: Spearman {rho:.2f})", err, "magma", (0, top))]
  fig = Figure(figsize=(4 * len(panels), 4.3))
  for i, (title, image, cmap, (lo, hi)) in enumerate(panels):
    ax = fig.add_subplot(1, len(panels), i + 1)
    ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("X")
    ax.set_ylabel("Z")
  fig.suptitle("xz plane of FlyEM sample2: the orientations' disagreement against the true error", fontsize=11)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  print(f"wrote {path}")


def inpainting_picture(path: pathlib.Path, factor: float, rows: list[dict], images: dict) -> None:
  """xz planes around each gap: the original, cubic across the gap, EMformer inpainted; the gap marked."""
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(12, 3.2 * len(rows)))
  for i, row in enumerate(rows):
    z0, z1 = row["fine_slices"]
    for j, (name, image) in enumerate(images[row["gap"]]):
      ax = fig.add_subplot(len(rows), 3, 3 * i + j + 1)
      ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="auto")
      for z in (z0 - 0.5, z1 - 0.5):
        ax.axhline(z - row["view"][0], color="tab:red", lw=0.8)
      psnr = {"cubic across the gap": row["psnr_cubic"], "EMformer inpainted": row["psnr_emformer"]}.get(name)
      ax.set_title(f"{row['gap']} lost: {name}" + (f" ({psnr:.1f} dB on the gap)" if psnr else ""), fontsize=9)
      ax.set_xticks([])
  fig.suptitle(f"Lost sections at x{factor:g} (red lines: the gap's fine slices), xz plane", fontsize=11)
  fig.tight_layout()
  fig.savefig(path, dpi=80)
  print(f"wrote {path}")


def hole(sections: np.ndarray, gap: int, factor: float) -> tuple[list[int], np.ndarray, range]:
  """`gap` consecutive sections in the middle of `sections` blanked: (their indices, the holed copy, the fine
  slices that lie between the sections either side of the gap)."""
  start = sections.shape[0] // 2 - gap // 2
  missing = list(range(start, start + gap))
  holed = sections.copy()
  holed[missing] = 0
  return missing, holed, range(int(np.ceil(start * factor)), int(np.floor((start + gap) * factor)))


def inpainting(aniso: pathlib.Path, run: pathlib.Path, work: pathlib.Path, factor: float, gaps: list[int],
               ref: np.ndarray, images: dict | None = None) -> list[dict]:
  sections, spacing = io.read_volume(aniso)
  c0, c1 = (sections.shape[1] - INPAINT_CROP) // 2, (sections.shape[1] + INPAINT_CROP) // 2
  sections, ref = sections[:, c0:c1, c0:c1], ref[:, c0:c1, c0:c1]      # the central crop: 4x less inference
  rows = []
  for gap in gaps:
    missing, holed, fine = hole(sections, gap, factor)
    holed_path = work / f"holed{gap}.tif"
    io.write_volume(holed_path, holed, spacing)
    out_path = work / f"inpainted{gap}.tif"
    jobs.predict(str(run), str(holed_path), str(out_path), inpaint=",".join(map(str, missing)),
                 show_progress=False)
    pred = io.read_volume(out_path)[0][fine.start:fine.stop]
    base = cubic_across(sections, missing, factor, fine)
    truth = ref[fine.start:fine.stop]
    rows.append({"gap": gap, "sections": missing, "fine_slices": [fine.start, fine.stop],
                 "psnr_emformer": _psnr(pred, truth), "psnr_cubic": _psnr(base, truth)})
    rows[-1]["gain_db"] = rows[-1]["psnr_emformer"] - rows[-1]["psnr_cubic"]
    if images is not None:                        # xz planes 3 sections either side of the gap
      y = ref.shape[1] // 2
      view = (max(0, fine.start - int(3 * factor)), min(ref.shape[0], fine.stop + int(3 * factor)))
      full = io.read_volume(out_path)[0]
      cubic = ref[view[0]:view[1], y].astype(np.float64).copy()
      cubic[fine.start - view[0]:fine.stop - view[0]] = base[:, y]
      images[gap] = [("original", ref[view[0]:view[1], y]), ("cubic across the gap", cubic),
                     ("EMformer inpainted", full[view[0]:view[1], y])]
      rows[-1]["view"] = list(view)
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
  gaps = [1, 2] if quick else [int(g) for g in _GAPS.value if g.strip()]
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
        out = jobs.reconstruct(aniso, out_path, method=method, train_steps=steps, variant=_variant(method),
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
    if "emformer" in _METHODS.value and gaps:
      factor = max(factors)
      images = {} if _PICTURES.value else None
      extra["inpainting"] = {"factor": factor, "rows": inpainting(
          work / f"x{factor:g}.tif", work / f"run_emformer_x{factor:g}", work, factor, gaps, ref, images)}
      if _PICTURES.value:
        folder = pathlib.Path(_PICTURES.value)
        folder.mkdir(parents=True, exist_ok=True)
        row = next(r for r in rows if r["method"] == "emformer" and r["factor"] == factor)
        uncertainty_picture(folder / "emformer_uncertainty.png", factor,
                            io.read_volume(work / f"x{factor:g}_emformer.tif")[0],
                            io.read_volume(work / f"x{factor:g}_emformer_std.tif")[0], ref,
                            row["uncertainty"]["spearman_16"])
        inpainting_picture(folder / "emformer_inpainting.png", factor, extra["inpainting"]["rows"], images)
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
