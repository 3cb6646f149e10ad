"""Ships a pretraining run as a model of the package: `jax_iso/pretrained/NAME/` (bundle + card.json + card.md).

    python experiments/ship_pretrained.py --workdir=.cache/pretrain/unet --name=unet \\
        --bench=results/bench_pretrained.json --out=/tmp/ship.json
    python experiments/ship_pretrained.py --workdir=.cache/pretrain/emdiffuse_n --name=emdiffuse_n \\
        --config=configs/pretrain/emdiffuse_n.py --summary="blind EMDiffuse-n denoiser: ..." \\
        --bench=results/bench_denoise_pretrained.json --out=/tmp/ship_dn.json
    python experiments/ship_pretrained.py --workdir=.cache/pretrain/sstem_restore --name=sstem_restore \\
        --config=configs/pretrain/sstem_restore.py --summary="ssTEM restoration: ..." --out=/tmp/ship_rs.json
    python experiments/ship_pretrained.py --quick --workdir=W --name=unet --out=/tmp/ship.json  # into a temp folder

The bundle holds the run's latest parameters (the moving average, `train.ema`), exported as `jax-iso export`
does. The card records the recipe (its config file and command), the steps, the hours (from the run's start in
`.cache/pretrain/NAME.notes` to its latest checkpoint), the machine (`lscpu` model name) and the scores: those of
`--bench` when given (experiments/bench_pretrained.py for an isotropic model, experiments/bench_denoise_pretrained.py
for a denoiser), and the check that `tests/test_pretrained.py` repeats on every CI run (experiments/card_check.py):
for an isotropic model the shipped sample cropped, cut into sections at x4, reconstructed by the model as it is,
its PSNR against the crop (and cubic's on the same crop); for a denoiser (emdiffuse_n) 4 sections of 128^2 of the
sample with Gaussian noise of sigma 0.08 (numpy, fixed seed) written as uint8, denoised by `jobs.denoise` as it
is (the one-pass posterior mean), its PSNR against the clean crop (and the noisy input's); for a restoration
model (sstem_restore) 7 sections of 128^2 of the sample 40 nm apart, one given precipitates (a fixed key) and one
lost, repaired by `jobs.restore` as it is with the two named, the PSNR of the two against the clean ones (and the
damaged input's and linear interpolation's). A denoiser's card has no factor range (`factors` null: 2-D
sections, any anisotropy) and no default fine-tune (`denoise` without a pair uses it as it is); a restoration
model's has no factor range either (any section spacing) and the default fine-tune of `--fine_tune_steps` on the
input's clean sections (`restore` runs it). `--quick` writes into a temporary folder instead of the package.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.common import write_json  # pylint: disable=wrong-import-position

ISOTROPIC_SUMMARY = "isotropic U-Net for every factor from x2 to x12 (FiLM on the factor)"
FINE_TUNE_STEPS = 100   # an isotropic or restoration model's default fine-tune on a CPU (4x on an accelerator)
CREDITS = {   # data file prefix: credit (../shared/data/README.md)
    "flyem_medulla": "FlyEM medulla FIB-SEM (Takemura et al. 2015, CC BY)",
    "epfl_hippocampus": "EPFL hippocampus FIB-SEM (Lucchi et al. 2012)",
    "drosophila_l3_vnc": "Drosophila L3 VNC ssTEM (Cardona et al. 2010, CC BY)",
    "cremi_sstem": "CREMI adult fly brain ssTEM (Funke et al. 2016, cremi.org terms)",
}


def _machine() -> str:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"Model name:\s*(.+)", out)
    cores = os.cpu_count()
    return f"{found.group(1).strip() if found else 'unknown CPU'}, {cores} cores"
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def _hours(workdir: pathlib.Path, name: str) -> float | None:
  """Hours of training: from the run's start (its notes file) to its latest checkpoint, less the pauses the
  notes record (`paused SECONDS`) before it: a pause that starts at a checkpoint (`paused S (... checkpoint N at
  ...)`) counts only when N is before the latest one (a pause between sessions after it lies beyond its end)."""
  notes = workdir.parent / f"{name}.notes"
  if not notes.exists():
    return None
  text = notes.read_text()
  started = re.search(r"started\s+(\S+)", text)
  if not started:
    return None
  start = datetime.datetime.fromisoformat(started.group(1).replace("Z", "+00:00"))
  steps = sorted((p for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
  end = datetime.datetime.fromtimestamp(steps[-1].stat().st_mtime, datetime.timezone.utc)
  paused = sum(float(s) for s, at in re.findall(r"paused\s+([0-9.]+)(?:\s*\([^)]*?checkpoint\s+(\d+))?", text)
               if not at or int(at) < int(steps[-1].name))
  previous = sum(float(h) for h in re.findall(r"earlier_hours\s+([0-9.]+)", text))
  return round(previous + ((end - start).total_seconds() - paused) / 3600, 2)


def check_score(bundle: pathlib.Path, method: str, work: pathlib.Path) -> dict:
  """An isotropic model's card check (module docstring), as tests/test_pretrained.py computes it."""
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics import psnr  # pylint: disable=g-import-not-at-top
  from experiments import card_check as check  # pylint: disable=g-import-not-at-top
  spec = check.definition(method)
  iso, sections = check.make_input(method, spec, work)
  scores = {}
  for label, job in (("psnr", lambda o: check.run(str(bundle), method, sections, o)),
                     ("cubic_psnr", lambda o: _cubic(jobs, sections, o))):
    recon = job(work / f"{label}.tif")
    scores[label] = round(float(psnr(recon / 255.0, iso[:recon.shape[0]] / 255.0)), 3)
  return {**spec, **scores, "tolerance": check.TOLERANCE_DB}


def _cubic(jobs, sections: pathlib.Path, output: pathlib.Path) -> np.ndarray:
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  jobs.reconstruct(str(sections), str(output), method="cubic", show_progress=False)
  return io.read_volume(output)[0]


def denoise_check_score(bundle: pathlib.Path, method: str, work: pathlib.Path) -> dict:
  """A denoiser's card check (module docstring): the PSNR of its one-pass mean and of the noisy input."""
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics import psnr  # pylint: disable=g-import-not-at-top
  from experiments import card_check as check  # pylint: disable=g-import-not-at-top
  spec = check.definition(method)
  clean, noisy = check.make_input(method, spec, work)
  out = check.run(str(bundle), method, noisy, work / "denoised.tif")
  return {**spec, "psnr": round(float(psnr(out / 255.0, clean / 255.0)), 3),
          "noisy_psnr": round(float(psnr(io.read_volume(noisy)[0] / 255.0, clean / 255.0)), 3),
          "tolerance": check.TOLERANCE_DB}


def restore_check_score(bundle: pathlib.Path, method: str, work: pathlib.Path) -> dict:
  """A restoration model's card check (module docstring): the PSNR of the two repaired sections, of the damaged
  input's and of linear interpolation's (the mean of each one's clean neighbours) on them."""
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics import psnr  # pylint: disable=g-import-not-at-top
  from experiments import card_check as check  # pylint: disable=g-import-not-at-top
  spec = check.definition(method)
  clean, damaged = check.make_input(method, spec, work)
  out = check.run(str(bundle), method, damaged, work / "restored.tif", spec)
  sections = check.damaged_sections(spec)
  truth = clean[sections] / 255.0
  score = lambda x: round(float(psnr(x, truth)), 3)  # noqa: E731
  return {**spec, "psnr": score(out[sections] / 255.0),
          "damaged_psnr": score(io.read_volume(damaged)[0][sections] / 255.0),
          "linear_psnr": score(check.linear(clean, spec) / 255.0), "tolerance": check.TOLERANCE_DB}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="the pretraining run folder")
  parser.add_argument("--name", default="unet", help="the shipped model's name (its folder)")
  parser.add_argument("--config", default="configs/pretrain/unet.py", help="the recipe, recorded on the card")
  parser.add_argument("--summary", default=ISOTROPIC_SUMMARY)
  parser.add_argument("--bench", help="experiments/bench_pretrained.py JSON (an isotropic model), "
                                      "experiments/bench_denoise_pretrained.py JSON (a denoiser) or "
                                      "experiments/bench_restore.py JSON (a restoration model) for the card")
  parser.add_argument("--fine_tune_steps", type=int, default=None,
                      help=f"an isotropic or restoration model's default fine-tune on a CPU (default "
                           f"{FINE_TUNE_STEPS}); a denoiser has none (it is fine-tuned only on a pair, with "
                           "train_steps given)")
  parser.add_argument("--out", help="JSON file to write (the card)")
  parser.add_argument("--quick", action="store_true", help="write into a temporary folder, not the package")
  args = parser.parse_args()
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    folder = pathlib.Path(tmp) / "shipped" if args.quick else pretrained.FOLDER
    card = ship(args.workdir, args.name, folder=folder, recipe=args.config, summary=args.summary, bench=args.bench,
                fine_tune_steps=args.fine_tune_steps)
  write_json(args.out, card)


def ship(workdir: str | os.PathLike, name: str, *, folder: str | os.PathLike, recipe: str = "configs/pretrain/unet.py",
         summary: str = ISOTROPIC_SUMMARY, bench: str | None = None, fine_tune_steps: int | None = None) -> dict:
  """Exports `workdir`'s latest parameters into `folder/NAME` (replacing it) with the card (card.json and
  card.md, module docstring); returns the card."""
  from jax_iso.models.loader import load_model  # pylint: disable=g-import-not-at-top
  from experiments import card_check as check  # pylint: disable=g-import-not-at-top
  from jax_iso.train.export import export_bundle  # pylint: disable=g-import-not-at-top
  workdir = pathlib.Path(workdir)
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    bundle = export_bundle(workdir, tmp / name)
    loaded = load_model(bundle)             # what was exported (a live run may have moved on since)
    config = loaded.config
    kind = check.task(config.method)       # "isotropic", "denoise" or "restore"
    denoiser = kind == "denoise"
    if denoiser and fine_tune_steps is not None:
      print(f"fine_tune_steps={fine_tune_steps} is not used: a denoiser is fine-tuned only on a pair, with "
            "train_steps given")
    steps = FINE_TUNE_STEPS if fine_tune_steps is None else fine_tune_steps
    factors, fine_tune = None, (None if denoiser else {"cpu": steps, "default": 4 * steps})
    if kind == "isotropic":
      lo, hi = config.pairs.factors if "factors" in config.pairs else (config.pairs.factor, config.pairs.factor)
      factors = [lo, hi]
    card = {"method": config.method, "default_for": [config.method], "summary": summary,
            "factors": factors, "steps": loaded.step, "total_steps": int(config.train.steps),
            "hours": _hours(workdir, name), "machine": _machine(), "recipe": recipe,
            "command": f"jax-iso train --config={recipe} --workdir={workdir}",
            "data": [pathlib.Path(p).name for p in str(config.data.path).split(",")],
            "weights": list(config.data.get("weights") or ())}
    card["held_out"] = list(_held_out(recipe))
    card["fine_tune_steps"] = fine_tune
    scores = {"isotropic": check_score, "denoise": denoise_check_score, "restore": restore_check_score}[kind]
    card["check"] = scores(bundle, config.method, tmp)
    if bench:
      benches = {"isotropic": _isotropic_bench, "denoise": _denoise_bench, "restore": _restore_bench}
      card["bench"] = benches[kind](bench, json.loads(pathlib.Path(bench).read_text()))
      if card["bench"].get("step") not in (None, loaded.step):
        print(f"note: {bench} measured step {card['bench']['step']}; the bundle is step {loaded.step}")
    card["score_line"] = _score_line(card)
    (bundle / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (bundle / "card.md").write_text(card_markdown(name, card))
    target = pathlib.Path(folder) / name
    target.parent.mkdir(exist_ok=True)
    if target.exists():
      shutil.rmtree(target)
    shutil.copytree(bundle, target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"shipped {name} (step {loaded.step}, {size / 2**20:.2f} MiB) to {target}")
  return card


def _held_out(recipe: str) -> tuple[str, ...]:
  """The recipe module's HELD_OUT volumes (configs/pretrain/NAME.py), or none."""
  import importlib  # pylint: disable=g-import-not-at-top
  module = recipe.split(":")[0].removesuffix(".py").replace("/", ".")
  try:
    return tuple(getattr(importlib.import_module(module), "HELD_OUT", ()))
  except ImportError:
    return ()


def _isotropic_bench(file: str, bench: dict) -> dict:
  return {"file": file, "simulated": bench.get("simulated"), "real": bench.get("real"),
          "inpainting": bench.get("inpainting"), "crop": bench.get("crop"), "minutes": bench.get("minutes")}


def _denoise_bench(file: str, bench: dict) -> dict:
  """experiments/bench_denoise_pretrained.py's numbers, per noise: PSNR / SSIM and seconds per section of BM3D
  (sigma given), the one-pass mean and the mean of K samples, and the noisy input's PSNR."""
  rows = {}
  for noise, row in bench["rows"].items():
    rows[noise] = {"noisy": row["noisy"]["psnr"], "spearman": row.get("calibration", {}).get("spearman_blocks")}
    for key in ("bm3d", "one_pass", "mean_k"):
      rows[noise][key] = {"psnr": row[key]["psnr"], "ssim": row[key].get("ssim"),
                          "seconds": row[key].get("seconds_per_section")}
  return {"file": file, "step": bench.get("step"), "test": bench.get("test"), "k": bench.get("k"),
          "sampler": bench.get("sampler"), "cpu": bench.get("cpu"), "cores": bench.get("cores"), "rows": rows,
          "sweep": bench.get("sweep")}


def _restore_bench(file: str, bench: dict) -> dict:
  """experiments/bench_restore.py's summary, per volume, model (`init`: pretrained as it is, fine-tuned, from
  scratch) and kind of damage: PSNR / SSIM of the damaged section, linear interpolation and the restored section,
  and the gain over the better of the first two."""
  rows = [{"volume": r["volume"], "init": r.get("init", "scratch"), "kind": r["kind"], "n": r.get("n"),
           "gain_db": r.get("gain_db"),
           **{k: {"psnr": r[k]["psnr"], "ssim": r[k].get("ssim")} for k in ("damaged", "linear", "restored")}}
          for r in bench.get("summary") or ()]
  fits = [{k: f.get(k) for k in ("volume", "init", "train_seconds")} for f in bench.get("fits") or ()]
  return {"file": file, "train_steps": bench.get("train_steps"), "cpu": bench.get("cpu"), "rows": rows,
          "fits": fits}


def _score_line(card: dict) -> str:
  check = card["check"]
  if "damaged_psnr" in check:
    return (f"check: {check['psnr']:.2f} dB on a section with precipitates and a lost one of the shipped sample "
            f"(damaged {check['damaged_psnr']:.2f}, linear {check['linear_psnr']:.2f})")
  if "noisy_psnr" not in check:
    return f"check: {check['psnr']:.2f} dB at x4 on the shipped sample (cubic {check['cubic_psnr']:.2f})"
  z0, z1, y0, y1, x0, x1 = check["crop"]
  return (f"check: {check['psnr']:.2f} dB denoising Gaussian noise of sigma {check['sigma']:g} on {z1 - z0} sections "
          f"of {y1 - y0}x{x1 - x0} of the shipped sample (noisy input {check['noisy_psnr']:.2f})")


def card_markdown(name: str, card: dict) -> str:
  """The model card a person reads (`jax-iso models --name=NAME`)."""
  from experiments import card_check  # pylint: disable=g-import-not-at-top
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  if card_check.task(card["method"]) == "denoise":
    return denoiser_markdown(name, card)
  if card_check.task(card["method"]) == "restore":
    return restore_markdown(name, card)
  check = card["check"]
  lines = [f"# {name}: {card['summary']}", "",
           f"- method: `{card['method']}` (`jax-iso reconstruct --method={card['method']}` starts from it; "
           f"`jax-iso predict --model={name}`)",
           (f"- factors: x{card['factors'][0]:g} to x{card['factors'][1]:g}, any fraction (the factor is an input "
            "of the network)" if card["factors"][0] != card["factors"][1] else
            f"- factor: x{card['factors'][0]:g} only (another factor is fitted from scratch)"),
           f"- training: {card['steps']} of {card['total_steps']} steps of `{card['recipe']}`, "
           f"{card['hours']} h on {card['machine']}",
           f"- command: `{card['command']}`",
           f"- default fine-tune: {card['fine_tune_steps']['cpu']} steps on a CPU "
           f"({card['fine_tune_steps']['default']} on an accelerator)" + (
               ", on `--train_iso` only (without it, the model is used as it is)"
               if methods.get(card["method"]).train_iso else " on the input itself"),
           *_run_lines(card)[2:],
           f"- check (CI repeats it): the shipped sample's {check['crop']} crop at x{check['factor']:g}: "
           f"{check['psnr']:.3f} dB (cubic {check['cubic_psnr']:.3f}), tolerance {check['tolerance']} dB", ""]
  bench = card.get("bench")
  if bench and bench.get("simulated"):
    lines += [f"## Held-out FlyEM sample2 ({bench['crop']}^3, `{bench['file']}`)", "",
              "| factor | cubic | scratch | pretrained | + fine-tune |", "|---|---|---|---|---|"]
    for factor, row in bench["simulated"].items():
      cells = [f"{row['cubic']['psnr']:.2f}"] + [
          f"{row[k]['psnr']:.2f} ({row[k]['gain_db']:+.2f}, {row[k]['seconds']:.0f} s)" if k in row else "not run"
          for k in ("scratch", "pretrained", "fine_tuned")]
      lines.append(f"| {factor} | " + " | ".join(cells) + " |")
    lines.append("")
  if bench and bench.get("inpainting"):
    lines += ["## Lost sections at x4 (held-out FlyEM sample2, PSNR of the gap's fine slices)", "",
              "| lost sections | cubic across the gap | pretrained | + fine-tune | scratch |", "|---|---|---|---|---|"]
    for row in bench["inpainting"]:
      lines.append(f"| {row['gap']} | {row['cubic']['psnr']:.2f} | " + " | ".join(
          f"{row[k]['psnr']:.2f} ({row[k]['gain_db']:+.2f})" if k in row else "not run"
          for k in ("pretrained", "fine_tuned", "scratch")) + " |")
    lines.append("")
  if bench and bench.get("real"):
    lines += ["## Real ssTEM (`validate`, PSNR on held-out real sections)", "",
              "| volume | cubic | scratch | pretrained | + fine-tune |", "|---|---|---|---|---|"]
    for volume, row in bench["real"].items():
      lines.append(f"| {volume} | " + " | ".join(f"{row[k]['psnr']:.2f}" for k in
                                                   ("cubic", "scratch", "pretrained", "fine_tuned")) + " |")
    lines.append("")
  return "\n".join(lines)


def _run_lines(card: dict) -> list[str]:
  """The training, command, data (with the recipe's held-out volumes) and credits lines of a card."""
  credits = [c for prefix, c in CREDITS.items() if any(d.startswith(prefix) for d in card["data"])]
  held_out = ", ".join(card.get("held_out") or ()) or "none named"
  return [f"- training: {card['steps']} of {card['total_steps']} steps of `{card['recipe']}`, "
          f"{card['hours']} h on {card['machine']}",
          f"- command: `{card['command']}`",
          f"- data (held out: {held_out}): " + ", ".join(
              f"{d} (weight {w:g})" for d, w in zip(card["data"], card["weights"] or [1.0] * len(card["data"]))),
          f"  Credits: {'; '.join(credits) or 'see the data files'}; see ../shared/data/README.md"]


def denoiser_markdown(name: str, card: dict) -> str:
  """The card of a denoiser (a model of 2-D sections: no factor range, no default fine-tune)."""
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  check = card["check"]
  z0, z1, y0, y1, x0, x1 = check["crop"]
  lines = [f"# {name}: {card['summary']}", "",
           f"- method: `{card['method']}` (`jax-iso denoise --input=NOISY --output=OUT` uses it when no training "
           f"data is given; `--init={name}` names it; `--init=pretrained --train_steps=N` with `--train_noisy` and "
           "`--train_clean` fine-tunes it on a registered pair)",
           f"- input: {pretrained.serves(card)} (every section is denoised on its own); blind: the noise is not given",
           "- output: the one-pass posterior mean (`--mean=pass`, one network evaluation); `--samples=K` with "
           "`--uncertainty` / `--flags` draws samples for the uncertainty only",
           *_run_lines(card)[:2],
           "- default fine-tune: none (without a pair it is used as it is)",
           *_run_lines(card)[2:],
           f"- check (CI repeats it): the shipped sample's {check['crop']} crop ({z1 - z0} sections of "
           f"{y1 - y0}x{x1 - x0}), Gaussian noise of sigma {check['sigma']:g} on [0, 1] (numpy seed {check['seed']}) "
           f"written as uint8, denoised as it is: {check['psnr']:.3f} dB (noisy input {check['noisy_psnr']:.3f}), "
           f"tolerance {check['tolerance']} dB. The sample is a crop of FlyEM sample1: this checks the model as "
           "shipped, not how it generalizes", ""]
  bench = card.get("bench")
  if bench and bench.get("rows"):
    lines += [f"## Held-out FlyEM sample2 ({bench['test']}; step {bench['step']}; `{bench['file']}`)", "",
              f"PSNR dB (seconds per section on {bench['cpu']}, {bench['cores']} cores); BM3D is given the true "
              "noise level", "",
              f"| noise | noisy | BM3D | one pass | mean of {bench['k']} samples |", "|---|---|---|---|---|"]
    for noise, row in bench["rows"].items():
      cells = [f"{row[k]['psnr']:.2f} ({row[k]['seconds']:.2f} s)" for k in ("bm3d", "one_pass", "mean_k")]
      lines.append(f"| {noise} | {row['noisy']:.2f} | " + " | ".join(cells) + " |")
    lines.append("")
  if bench and bench.get("sweep"):
    lines += _sweep_lines(bench)
  return "\n".join(lines)


def _sweep_lines(bench: dict) -> list[str]:
  """The sampler sweep (steps x samples) of a denoiser's bench: PSNR of the mean of k samples (Spearman of their
  spread against the one-pass mean's error), the best marked."""
  sweep = bench["sweep"]
  ks = list(sweep["rows"][0]["means"])
  best = max(((r["steps"], k) for r in sweep["rows"] for k in ks),
             key=lambda sk: next(r for r in sweep["rows"] if r["steps"] == sk[0])["means"][sk[1]]["psnr"])
  lines = [f"## Sampler steps and samples ({sweep['noise']}; `--samples` / `--sample_steps`, for the uncertainty)",
           "", "PSNR dB of the mean of k samples (Spearman of their spread against the one-pass mean's error); "
           f"best: {best[0]} steps, {best[1]} samples", "",
           "| steps | seconds / section (K samples) | " + " | ".join(f"k = {k}" for k in ks) + " |",
           "|---|---|" + "---|" * len(ks)]
  for row in sweep["rows"]:
    cells = [f"{m['psnr']:.2f}" + (f" ({m['spearman']:.2f})" if "spearman" in m else "") for m in row["means"].values()]
    lines.append(f"| {row['steps']} | {row['seconds_per_section']:.1f} | " + " | ".join(cells) + " |")
  return lines + [""]


def restore_markdown(name: str, card: dict) -> str:
  """The card of a restoration model (no factor range; fine-tuned on the input's clean sections by default)."""
  check = card["check"]
  z0, z1, y0, y1, x0, x1 = check["crop"]
  tune = card["fine_tune_steps"]
  lines = [f"# {name}: {card['summary']}", "",
           f"- method: `{card['method']}` (`jax-iso restore --input=VOL --output=OUT` starts from it and fine-tunes "
           f"it on the input's clean sections; `--train_steps=0` uses it as it is, `--init=scratch` fits one from "
           f"nothing, `--init={name}` names it)",
           "- input: any serial-section volume, whatever its section spacing (no factor range); each damaged section "
           "is repaired from its nearest clean neighbours",
           *_run_lines(card)[:2],
           f"- default fine-tune: {tune['cpu']} steps on a CPU ({tune['default']} on an accelerator), on the "
           "input's own clean sections (the damaged ones excluded)",
           *_run_lines(card)[2:],
           f"- check (CI repeats it): the shipped sample's {check['crop']} crop at every {check['step']}th plane "
           f"({len(range(z0, z1, check['step']))} sections of {y1 - y0}x{x1 - x0}, 40 nm apart), section "
           f"{check['precipitates']} given precipitates (`degrade.precipitates`, `jax.random.key({check['key']})`) "
           f"and section {check['lost']} lost, both named and repaired as it is: {check['psnr']:.3f} dB on the two "
           f"(damaged input {check['damaged_psnr']:.3f}, linear interpolation {check['linear_psnr']:.3f}), tolerance "
           f"{check['tolerance']} dB. The sample is a crop of FlyEM sample1: this checks the model as shipped, not "
           "how it generalizes", ""]
  bench = card.get("bench")
  if bench and bench.get("rows"):
    lines += [f"## Simulated damage (`{bench['file']}`)", "",
              "On sections held out of every training, damaged by the simulators; this model as it is, fine-tuned "
              "(N steps on the volume's other sections) and a model fitted from scratch on them (N steps); PSNR dB "
              "/ SSIM of the whole section; gain over the better of the damaged section and linear. The VNC stack "
              "is in the pretraining mixture; CREMI and ISBI 2012 are not", "",
              "| volume | damage | model | damaged | linear | restored | gain dB |", "|---|---|---|---|---|---|---|"]
    for row in sorted(bench["rows"], key=lambda r: (r["volume"], r["kind"])):
      cells = [f"{row[k]['psnr']:.2f} / {row[k]['ssim']:.3f}" for k in ("damaged", "linear", "restored")]
      lines.append(f"| {row['volume']} | {row['kind']} | {row['init']} | " + " | ".join(cells) +
                   f" | {row['gain_db']:+.2f} |")
    if bench.get("fits"):
      lines += ["", "Training before scoring (seconds on " + (bench.get("cpu") or "the bench's machine") + "): " +
                "; ".join(f"{f['volume']} {f['init']} {f['train_seconds']:.0f} s" for f in bench["fits"])]
    lines.append("")
  return "\n".join(lines)


if __name__ == "__main__":
  main()
