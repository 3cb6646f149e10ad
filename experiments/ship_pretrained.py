"""Ships a pretraining run as a model of the package: `jax_iso/pretrained/NAME/` (bundle + card.json + card.md).

    python experiments/ship_pretrained.py --workdir=.cache/pretrain/unet --name=unet \\
        --bench=results/bench_pretrained.json --out=/tmp/ship.json
    python experiments/ship_pretrained.py --quick --workdir=W --name=unet --out=/tmp/ship.json  # into a temp folder

The bundle holds the run's latest parameters (the moving average, `train.ema`), exported as `jax-iso export`
does. The card records the recipe (its config file and command), the steps, the hours (from the run's start in
`.cache/pretrain/NAME.notes` to its latest checkpoint), the machine (`lscpu` model name) and the scores: those of
`--bench` (experiments/bench_pretrained.py) when given, and the check that `tests/test_pretrained.py` repeats on
every CI run: the shipped sample cropped, cut into sections at x4, reconstructed by the model as it is, its PSNR
against the crop (and cubic's on the same crop). `--quick` writes into a temporary folder instead of the package.
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

CHECK = {"crop": [0, 160, 32, 128, 32, 128], "factor": 4.0}   # of the shipped sample: 160 x 96 x 96, x4
TOLERANCE_DB = 0.05   # float32 sums differ between CPUs and XLA versions: thousandths of a dB seen; 0.05 is slack


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
  notes record (`paused SECONDS`)."""
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
  paused = sum(float(s) for s in re.findall(r"paused\s+([0-9.]+)", text))
  previous = sum(float(h) for h in re.findall(r"earlier_hours\s+([0-9.]+)", text))
  return round(previous + ((end - start).total_seconds() - paused) / 3600, 2)


def check_score(bundle: pathlib.Path, work: pathlib.Path) -> dict:
  """The card's check (module docstring), as tests/test_pretrained.py computes it."""
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  from jax_iso.degrade import simulate_axial  # pylint: disable=g-import-not-at-top
  from jax_iso.metrics import psnr  # pylint: disable=g-import-not-at-top
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  z0, z1, y0, y1, x0, x1 = CHECK["crop"]
  iso = io.read_volume(FIBSEM_10NM)[0][z0:z1, y0:y1, x0:x1]
  sections = np.rint(np.asarray(simulate_axial(iso / 255.0, CHECK["factor"], axis=0)) * 255).astype(np.uint8)
  io.write_volume(work / "s.tif", sections, (10.0 * CHECK["factor"], 10.0, 10.0))
  scores = {}
  for label, job in (("psnr", lambda o: jobs.predict(str(bundle), str(work / "s.tif"), o, show_progress=False)),
                     ("cubic_psnr", lambda o: jobs.reconstruct(str(work / "s.tif"), o, method="cubic",
                                                               show_progress=False))):
    out = work / f"{label}.tif"
    job(str(out))
    recon = io.read_volume(out)[0]
    scores[label] = round(float(psnr(recon / 255.0, iso[:recon.shape[0]] / 255.0)), 3)
  return {**CHECK, **scores, "tolerance": TOLERANCE_DB}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="the pretraining run folder")
  parser.add_argument("--name", default="unet", help="the shipped model's name (its folder)")
  parser.add_argument("--config", default="configs/pretrain/unet.py", help="the recipe, recorded on the card")
  parser.add_argument("--summary", default="isotropic U-Net for every factor from x2 to x12 (FiLM on the factor)")
  parser.add_argument("--bench", help="experiments/bench_pretrained.py JSON whose scores go on the card")
  parser.add_argument("--fine_tune_steps", type=int, default=100, help="the default fine-tune on a CPU")
  parser.add_argument("--out", help="JSON file to write (the card)")
  parser.add_argument("--quick", action="store_true", help="write into a temporary folder, not the package")
  args = parser.parse_args()
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  from jax_iso.models.loader import load_model  # pylint: disable=g-import-not-at-top
  from jax_iso.train.export import export_bundle  # pylint: disable=g-import-not-at-top
  workdir = pathlib.Path(args.workdir)
  loaded = load_model(workdir)
  config = loaded.config
  lo, hi = config.pairs.factors if "factors" in config.pairs else (config.pairs.factor, config.pairs.factor)
  with tempfile.TemporaryDirectory() as tmp:
    tmp = pathlib.Path(tmp)
    bundle = export_bundle(workdir, tmp / args.name)
    card = {"method": config.method, "default_for": [config.method], "summary": args.summary,
            "factors": [lo, hi], "steps": loaded.step, "total_steps": int(config.train.steps),
            "hours": _hours(workdir, args.name), "machine": _machine(), "recipe": args.config,
            "command": f"jax-iso train --config={args.config} --workdir={args.workdir}",
            "data": [pathlib.Path(p).name for p in str(config.data.path).split(",")],
            "weights": list(config.data.get("weights") or ()),
            "fine_tune_steps": {"cpu": args.fine_tune_steps, "default": 4 * args.fine_tune_steps},
            "check": check_score(bundle, tmp)}
    if args.bench:
      bench = json.loads(pathlib.Path(args.bench).read_text())
      card["bench"] = {"file": args.bench, "simulated": bench.get("simulated"), "real": bench.get("real"),
                       "inpainting": bench.get("inpainting"), "crop": bench.get("crop"),
                       "minutes": bench.get("minutes")}
    x4 = card["check"]
    card["score_line"] = (f"check: {x4['psnr']:.2f} dB at x4 on the shipped sample (cubic {x4['cubic_psnr']:.2f})")
    (bundle / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (bundle / "card.md").write_text(card_markdown(args.name, card))
    target = (tmp / "shipped" if args.quick else pretrained.FOLDER) / args.name
    target.parent.mkdir(exist_ok=True)
    if target.exists():
      shutil.rmtree(target)
    shutil.copytree(bundle, target)
    print(f"shipped {args.name} (step {loaded.step}) to {target}")
  write_json(args.out, card)


def card_markdown(name: str, card: dict) -> str:
  """The model card a person reads (`jax-iso models --name=NAME`)."""
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
           f"({card['fine_tune_steps']['default']} on an accelerator)",
           "- data (held out: FlyEM sample2, CREMI, ISBI 2012): " + ", ".join(
               f"{d} (weight {w:g})" for d, w in zip(card["data"], card["weights"] or [1.0] * len(card["data"]))),
           "  Credits: FlyEM medulla FIB-SEM (Takemura et al. 2015, CC BY), EPFL hippocampus FIB-SEM (Lucchi et "
           "al. 2012), Drosophila L3 VNC ssTEM (Cardona et al. 2010, CC BY); see ../shared/data/README.md",
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


if __name__ == "__main__":
  main()
