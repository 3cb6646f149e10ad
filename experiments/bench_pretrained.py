"""The pretrained isotropic model against cubic and a fit from scratch, on volumes the pretraining never saw.

    python experiments/bench_pretrained.py --out=results/bench_pretrained.json
    python experiments/bench_pretrained.py --quick --out=/tmp/bench_pretrained.json    # x4 only, small, short fits
    python experiments/bench_pretrained.py --curve=.cache/pretrain/snapshots --factors=4,8 --out=...  # + gain vs hours
    python experiments/bench_pretrained.py --method=emformer --factors=4 --real= --out=...   # the x4 EMformer,
                                                                                          # + lost sections

1. Simulated anisotropy on FlyEM sample2 (10 nm isotropic FIB-SEM, held out of pretraining), its central
   `--crop`^3, box sections at each of `--factors`: cubic; the U-Net fitted from scratch (its `cpu` variant, for
   `--scratch_minutes` of training); the pretrained model as it is; the pretrained model fine-tuned on the input
   for `--fine_tune_minutes`. Each scored against the true volume: PSNR, gain over cubic, Z resolution of the FSC
   (1/7 threshold), and the wall time of the whole job (fit and reconstruction). `--method` picks the shipped
   model (`unet`, every factor; `emformer`, x4 only).
2. Real ssTEM (CREMI, ISBI 2012, held out of pretraining): `validate` (every other real section held out,
   methods at twice the factor) with cubic, scratch, pretrained as it is and fine-tuned.
3. With `--curve`: every snapshot bundle in that folder (`step_N`, exported from the pretraining run) as it is,
   at each factor: the gain as pretraining goes on; hours from the run's start (`.cache/pretrain/unet.notes`) to
   each snapshot.
4. With `--inpaint=GAPS` (default for the EMformer: 1,2,3): at x4, runs of that many consecutive sections of the
   central 128^2 blanked and inpainted (`reconstruct --inpaint=I,J`) by the pretrained model as it is, fine-tuned,
   and fitted from scratch; PSNR of the gap's fine slices against the truth and against a cubic spline through the
   remaining sections (`bench_emformer.cubic_across`), as experiments/bench_emformer.py measures a fit.
Training budgets are turned into steps by timing each config on this machine first (jobs of 3 and 33 steps on the
central 128^2, less their inference: `_seconds_per_step`; whole jobs of the full crop once let EMformer's minutes
of inference swamp the steps, turning 10 minutes into 12,000 steps). Pause other
work on the machine (e.g. `kill -STOP` the pretraining) while it runs: it measures time.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.common import (SAMPLE2, cpu_name, require_sample2,  # pylint: disable=wrong-import-position
                                write_json)

INPAINT_CROP = 128   # lateral crop of the inpainting rows (as experiments/bench_emformer.py)

DATA = ROOT.parent / "shared" / "data"
REAL = {"cremi": DATA / "cremi_sstem_crop_isovem_train.tif", "isbi": DATA / "isbi2012_sstem_train.tif"}
NOTES = ROOT / ".cache" / "pretrain" / "{method}.notes"   # the run's start (`started ISO`)


TIMING_EDGE, TIMING_STEPS = 128, (3, 33)   # the timing runs: central 128^2 of the sections, 3 and 33 steps


def _seconds_per_step(method: str, init: str | None, sections: pathlib.Path, work: pathlib.Path) -> float:
  """Seconds per training step of a fit (init None: the cpu variant) or fine-tune of `init` on `sections`: two
  jobs of 3 and 33 steps on the sections' central 128^2 (every config's crop fits; the inference is smaller),
  their seconds less their inference's, differenced (what both share, setup and compilation, cancels)."""
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  vol, spacing = io.read_volume(sections)
  y0, x0 = (max(0, (n - TIMING_EDGE) // 2) for n in vol.shape[1:])
  timing = work / f"timing_{sections.name}"
  io.write_volume(timing, vol[:, y0:y0 + TIMING_EDGE, x0:x0 + TIMING_EDGE], spacing)
  times = []
  for steps in TIMING_STEPS:
    out = jobs.reconstruct(str(timing), str(work / f"t{steps}.tif"), method=method, train_steps=steps,
                           show_progress=False, **({"init": init} if init else {"init": "scratch"}))
    times.append(out["seconds"] - out["predict_seconds"])
    (work / f"t{steps}.tif").unlink()
  timing.unlink()
  per_step = (times[1] - times[0]) / (TIMING_STEPS[1] - TIMING_STEPS[0])
  if per_step <= 0:
    sys.exit(f"timing {method}: {TIMING_STEPS[1]} steps took no longer than {TIMING_STEPS[0]} "
             f"({times[1]:.1f} s, {times[0]:.1f} s): pause other work on the machine and rerun")
  return per_step


def _score(recon: pathlib.Path, truth: pathlib.Path, work: pathlib.Path) -> dict:
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  out = jobs.evaluate(str(recon), str(truth), report_dir=str(work / f"{recon.stem}_report"))
  return {"psnr": round(out["psnr"], 3), "z_res_nm": round(out["resolution_nm"]["z"], 1),
          "z_res_limited": bool(out["resolution_limited"]["z"])}


def _job(label: str, sections: pathlib.Path, truth: pathlib.Path, work: pathlib.Path, **settings) -> dict:
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  recon = work / f"{label}.tif"
  start = time.perf_counter()
  out = jobs.reconstruct(str(sections), str(recon), show_progress=False, **settings)
  row = {"seconds": round(time.perf_counter() - start, 1), **_score(recon, truth, work)}
  if out.get("fit"):
    row["train_steps"] = out["fit"]["steps"]
  recon.unlink()
  return row


def simulated(method: str, model: str, factors, crop: int, minutes: tuple[float, float], work: pathlib.Path,
              scratch_factors=None) -> dict:
  """Part 1 (module docstring): {factor: {method: row}}; the fit from scratch only at `scratch_factors` (None:
  every factor)."""
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  iso = io.read_volume(require_sample2())[0]
  c = [(n - crop) // 2 for n in iso.shape]
  truth = work / "truth.tif"
  io.write_volume(truth, iso[c[0]:c[0] + crop, c[1]:c[1] + crop, c[2]:c[2] + crop], (10.0, 10.0, 10.0))
  rows = {}
  for factor in factors:
    sections = work / f"x{factor:g}.tif"
    jobs.simulate(str(truth), str(sections), factor=factor)
    with_scratch = scratch_factors is None or factor in scratch_factors
    per_step = {"fine_tune": _seconds_per_step(method, model, sections, work)}
    tune_steps = max(1, int(minutes[1] * 60 / per_step["fine_tune"]))
    row = {"cubic": _job("cubic", sections, truth, work, method="cubic")}
    if with_scratch:
      per_step["scratch"] = _seconds_per_step(method, None, sections, work)
      row["scratch"] = _job("scratch", sections, truth, work, method=method, init="scratch",
                            train_steps=max(1, int(minutes[0] * 60 / per_step["scratch"])))
    row["pretrained"] = _job("pretrained", sections, truth, work, method=method, init=model, train_steps=0)
    row["fine_tuned"] = _job("fine_tuned", sections, truth, work, method=method, init=model, train_steps=tune_steps)
    row["seconds_per_step"] = per_step
    for name in ("scratch", "pretrained", "fine_tuned"):
      if name in row:
        row[name]["gain_db"] = round(row[name]["psnr"] - row["cubic"]["psnr"], 3)
    rows[f"x{factor:g}"] = row
    print(f"x{factor:g}: " + ", ".join(f"{k} {v['psnr']:.2f} dB ({v.get('gain_db', 0):+.2f}, Z {v['z_res_nm']} nm, "
                                       f"{v['seconds']:.0f} s)" for k, v in row.items() if k != "seconds_per_step"),
          flush=True)
  return rows


def real(method: str, model: str, names, crop: int, minutes: tuple[float, float], work: pathlib.Path) -> dict:
  """Part 2: `validate` on real ssTEM volumes, {volume: {method: scores}}."""
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics.reading import centre_crop  # pylint: disable=g-import-not-at-top
  rows = {}
  for name in names:
    data, spacing = io.read_volume(str(REAL[name]))
    _, cy, cx = centre_crop(data.shape, crop)
    volume = work / f"{name}.tif"
    io.write_volume(volume, data[:, cy, cx], spacing)
    kept = work / f"{name}_kept.tif"                  # what validate fits on, to time a step of each
    io.write_volume(kept, data[0::2, cy, cx], (2 * spacing[0], spacing[1], spacing[2]))
    scratch_steps = max(1, int(minutes[0] * 60 / _seconds_per_step(method, None, kept, work)))
    tune_steps = max(1, int(minutes[1] * 60 / _seconds_per_step(method, model, kept, work)))
    runs = {"cubic": {"methods": "cubic"}, "scratch": {"methods": method, "train_steps": scratch_steps},
            "pretrained": {"methods": method, "init": model, "train_steps": 0},
            "fine_tuned": {"methods": method, "init": model, "train_steps": tune_steps}}
    rows[name] = {}
    for label, settings in runs.items():
      start = time.perf_counter()
      out = jobs.validate(str(volume), out_dir=str(work / f"{name}_{label}"), show_progress=False, **settings)
      scores = next(iter(out["methods"].values()))
      rows[name][label] = {"psnr": round(scores["psnr"], 3), "ssim": round(scores["ssim"], 4),
                           "frc_resolution": round(scores["frc_resolution"], 1),
                           "seconds": round(time.perf_counter() - start, 1)}
    base = rows[name]["cubic"]["psnr"]
    for label in ("scratch", "pretrained", "fine_tuned"):
      rows[name][label]["gain_db"] = round(rows[name][label]["psnr"] - base, 3)
    print(f"{name}: " + ", ".join(f"{k} {v['psnr']:.2f} dB" for k, v in rows[name].items()), flush=True)
  return rows


def inpainting(method: str, model: str, gaps, minutes: tuple[float, float], work: pathlib.Path,
               with_scratch: bool = True) -> list[dict]:
  """Part 4 (module docstring): one row per gap, {gap, sections, cubic, pretrained, fine_tuned, scratch}, each
  a PSNR of the gap's fine slices (with its gain over cubic across the gap and its wall time)."""
  sys.path.insert(0, str(ROOT / "experiments"))     # bench_emformer imports its neighbours as top-level modules
  from bench_emformer import _psnr, cubic_across, hole  # pylint: disable=g-import-not-at-top
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  factor = 4.0
  sections, spacing = io.read_volume(work / "x4.tif")
  ref = io.read_volume(work / "truth.tif")[0]
  size = min(INPAINT_CROP, *sections.shape[1:])     # a --quick crop (96) is smaller than INPAINT_CROP
  c0, c1 = (sections.shape[1] - size) // 2, (sections.shape[1] + size) // 2
  sections, ref = sections[:, c0:c1, c0:c1], ref[:, c0:c1, c0:c1]
  per_step = {"fine_tune": _seconds_per_step(method, model, work / "x4.tif", work)}
  settings = {"pretrained": {"init": model, "train_steps": 0},
              "fine_tuned": {"init": model, "train_steps": max(1, int(minutes[1] * 60 / per_step["fine_tune"]))}}
  if with_scratch:
    per_step["scratch"] = _seconds_per_step(method, None, work / "x4.tif", work)
    settings["scratch"] = {"init": "scratch", "train_steps": max(1, int(minutes[0] * 60 / per_step["scratch"]))}
  rows = []
  for gap in gaps:
    missing, holed, fine = hole(sections, gap, factor)
    io.write_volume(work / "holed.tif", holed, spacing)
    truth = ref[fine.start:fine.stop]
    row = {"gap": gap, "sections": missing, "cubic": {"psnr": round(_psnr(cubic_across(sections, missing, factor,
                                                                                        fine), truth), 3)}}
    for label, given in settings.items():
      began = time.perf_counter()
      jobs.reconstruct(str(work / "holed.tif"), str(work / "filled.tif"), method=method, show_progress=False,
                       inpaint=",".join(map(str, missing)), **given)
      got = round(_psnr(io.read_volume(work / "filled.tif")[0][fine.start:fine.stop], truth), 3)
      row[label] = {"psnr": got, "gain_db": round(got - row["cubic"]["psnr"], 3), "train_steps": given["train_steps"],
                    "seconds": round(time.perf_counter() - began, 1)}
    rows.append(row)
    print(f"gap of {gap}: " + ", ".join(f"{k} {row[k]['psnr']:.2f} dB" for k in ("cubic", *settings)), flush=True)
  return rows


def curve(method: str, folder: pathlib.Path, factors, crop: int, work: pathlib.Path) -> list[dict]:
  """Part 3: each snapshot as it is, gain over cubic per factor, by hours of pretraining."""
  start = None
  notes = pathlib.Path(str(NOTES).format(method=method))
  if notes.exists():
    text = notes.read_text().split()
    start = datetime.datetime.fromisoformat(text[1].replace("Z", "+00:00")) if len(text) > 1 else None
  truth = work / "truth.tif"
  points = []
  for snap in sorted(folder.glob("step_*"), key=lambda p: int(p.name.split("_")[1])):
    made = datetime.datetime.fromtimestamp(snap.stat().st_mtime, datetime.timezone.utc)
    point = {"step": int(snap.name.split("_")[1]),
             "hours": None if start is None else round((made - start).total_seconds() / 3600, 2)}
    for factor in factors:
      sections = work / f"x{factor:g}.tif"
      cubic = _job("cubic", sections, truth, work, method="cubic")["psnr"]
      got = _job("snap", sections, truth, work, method=method, init=str(snap), train_steps=0)
      point[f"x{factor:g}"] = {"psnr": got["psnr"], "gain_db": round(got["psnr"] - cubic, 3)}
    points.append(point)
    print(f"step {point['step']}: " + ", ".join(f"{k} {v['gain_db']:+.2f} dB" for k, v in point.items()
                                                 if k.startswith("x")), flush=True)
  return points


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", help="JSON file to write")
  parser.add_argument("--quick", action="store_true", help="x4 only, a 96^3 crop, 1- and 0.5-minute fits, no real")
  parser.add_argument("--method", default="unet", choices=("unet", "emformer"), help="the shipped model's method")
  parser.add_argument("--model", default="pretrained", help="the model to bench (default: the shipped one)")
  parser.add_argument("--inpaint", help="gaps of lost sections to inpaint at x4 (default: 1,2,3 for the "
                      "EMformer, none for the U-Net)")
  parser.add_argument("--factors", default="2.5,4,8,10")
  parser.add_argument("--scratch_factors", help="fit from scratch at these factors only (default: every factor; "
                      "'none': no fit from scratch, also not for --inpaint)")
  parser.add_argument("--crop", type=int, default=192)
  parser.add_argument("--scratch_minutes", type=float, default=10.0)
  parser.add_argument("--fine_tune_minutes", type=float, default=2.0)
  parser.add_argument("--real", default="cremi,isbi", help="real volumes for validate ('' for none)")
  parser.add_argument("--inpaint_scratch", default="yes", choices=("yes", "no"),
                      help="'no': the inpainting rows without a fit from scratch (default: with one wherever "
                           "--scratch_factors fits at x4)")
  parser.add_argument("--curve", help="a folder of snapshot bundles (step_N) for the gain-vs-hours curve")
  args = parser.parse_args()
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  model = args.model
  if model == "pretrained":
    shipped = pretrained.for_method(args.method)
    if shipped is None:
      sys.exit(f"no pretrained {args.method} ships yet: pass --model=BUNDLE_OR_WORKDIR")
    model = str(shipped.path)
  factors = (4.0,) if args.quick else tuple(float(f) for f in args.factors.split(","))
  crop = 96 if args.quick else args.crop
  minutes = (1.0, 0.5) if args.quick else (args.scratch_minutes, args.fine_tune_minutes)
  inpaint = args.inpaint if args.inpaint is not None else ("1,2,3" if args.method == "emformer" else "")
  gaps = [int(g) for g in inpaint.split(",") if g]
  if gaps and 4.0 not in factors:
    sys.exit("--inpaint measures at x4: include 4 in --factors")
  result = {"method": args.method, "model": model, "crop": crop,
            "minutes": {"scratch": minutes[0], "fine_tune": minutes[1]}, "machine": cpu_name()}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    scratch = (None if not args.scratch_factors else set() if args.scratch_factors == "none" else
               {float(f) for f in args.scratch_factors.split(",")})
    result["simulated"] = simulated(args.method, model, factors, crop, minutes, work, scratch)
    write_json(args.out, result)
    if gaps:
      result["inpainting"] = inpainting(args.method, model, gaps[:1] if args.quick else gaps, minutes, work,
                                        args.inpaint_scratch == "yes" and (scratch is None or 4.0 in scratch))
    write_json(args.out, result)
    names = [] if args.quick else [n for n in args.real.split(",") if n]
    if names:
      result["real"] = real(args.method, model, names, crop, minutes, work)
      write_json(args.out, result)
    if args.curve:
      result["curve"] = curve(args.method, pathlib.Path(args.curve), factors, crop, work)
      write_json(args.out, result)
  print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=1)[:2000])


if __name__ == "__main__":
  main()
