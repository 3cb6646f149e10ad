"""ssTEM restoration on real serial sections: simulated folds, precipitates and lost sections repaired, scored
against the clean sections; the real artifacts of ISBI 2012 and CREMI before and after, as pictures.

  python experiments/bench_restore.py [--quick] [--volumes=isbi,cremi,vnc,flyem_x4] [--train_steps=1500]
      [--test_sections=4] [--seeds=2] [--interps=kernel] [--out=results/bench_restore.json] [--pictures=docs]

For each volume, `--test_sections` sections spread over it (not the ends) are held out: the `cpu` restoration
network trains on the others alone (`data.exclude`, as `jax-iso restore` excludes the damaged sections), for
`--train_steps` steps. Each held-out section is then damaged with each kind (`degrade.fold`, `degrade.
precipitates`, a blank section), `--seeds` draws each, and restored from its clean neighbours with the damage
mask the detector finds (`detect.damage.detect_damage` on the volume with that section damaged; the simulator's
own mask, dilated, where the detector finds nothing: the row says how often). Scored on the whole section
(PSNR, SSIM on [0, 1]): the damaged section, linear interpolation (the mean of its two neighbours), the
interpolation module alone, and the restored section. With several `--interps` (kernel, flow), each is trained
and scored (which interpolation module to use).
Volumes: ISBI 2012 train (30 x 512^2, 4 nm x 50 nm), CREMI train crop (32 x 320^2), Drosophila L3 VNC stack 1
(its central 512^2, 20 sections), FlyEM sample2 with box sections simulated at x4 (62 x 250^2).
Real artifacts: `jobs.restore --sections` on ISBI train (precipitates in sections 20 and 4), ISBI test (13) and
CREMI train (defocus in 3, 9, 12) with the model trained on that volume above (ISBI test: ISBI train's), and what
the detector finds there; `--pictures` draws them before and after (`restore_real.png`).
--quick: ISBI only, 40 training steps, 2 test sections, one seed.

A pretrained model (`--model=RUN_OR_BUNDLE_OR_NAME`, e.g. a snapshot of configs/pretrain/sstem_restore.py's run or
the shipped `sstem_restore`) is scored beside the fit from scratch on the same held-out sections and damage: as it
is, and fine-tuned for each of `--fine_tune_steps` on the volume's other sections (the schedule `jax-iso restore`
gives a fine-tune: `jobs.model_route.base_config`). Each row's `init` says which; `--scratch=false` skips the fits
from nothing. Real artifacts are then repaired by the first model of the list (the pretrained one when given).

  python experiments/bench_restore.py --volumes=isbi,cremi --model=.cache/pretrain/sstem_restore_snapshots/step_N \
      --fine_tune_steps=100 --train_steps=1000 --interps=flow --out=results/bench_restore_pretrained.json
"""
from __future__ import annotations

import os
import pathlib
import tempfile
import time
import types

import jax
import numpy as np
from absl import app, flags

from jax_iso import io, jobs, methods
from jax_iso.degrade import fold as fold_lib
from jax_iso.degrade import precipitates as precipitates_lib
from jax_iso.degrade.pairs import binary_mask
from jax_iso.detect import damage as damage_lib
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.tiles import predict_planes
from jax_iso.jobs import model_route
from jax_iso.jobs.restore import fit_crop, volume_config
from jax_iso.metrics.ssim import ssim_xy
from jax_iso.models.loader import load_model, read_config
from common import ROOT, SAMPLE2, write_json  # experiments/common.py

DATA = ROOT.parent / "shared" / "data"
VOLUMES = {"isbi": "isbi2012_sstem_train.tif", "cremi": "cremi_sstem_crop_isovem_train.tif",
           "vnc": "drosophila_l3_vnc_sstem_stack1.tif", "flyem_x4": None}
KINDS = ("fold", "precipitates", "missing")
REAL = (("isbi2012_sstem_train.tif", (20, 4), "isbi"), ("isbi2012_sstem_test.tif", (13,), "isbi"),
        ("cremi_sstem_crop_isovem_train.tif", (3, 9, 12), "cremi"))   # file, damaged sections, model of

_QUICK = flags.DEFINE_bool("quick", False, "ISBI only, 40 training steps, 2 test sections, one seed.")
_VOLUMES = flags.DEFINE_list("volumes", list(VOLUMES), "Which volumes.")
_STEPS = flags.DEFINE_integer("train_steps", 1500, "Training steps of each restoration network.")
_TEST = flags.DEFINE_integer("test_sections", 4, "Held-out sections damaged and restored per volume.")
_SEEDS = flags.DEFINE_integer("seeds", 2, "Damage draws per kind and section.")
_INTERPS = flags.DEFINE_list("interps", ["kernel"], "Interpolation modules to train and compare (kernel, flow).")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_PICTURES = flags.DEFINE_string("pictures", None, "Draw the real artifacts before and after into this folder.")
_MODEL = flags.DEFINE_string("model", None, "A pretrained restoration model (run folder, bundle or shipped name), "
                              "scored as it is and fine-tuned beside the fits from scratch.")
_FINE_TUNE = flags.DEFINE_list("fine_tune_steps", ["100"], "With --model: fine-tunes of these many steps (0: none).")
_SCRATCH = flags.DEFINE_bool("scratch", True, "Fit each volume's model from nothing (the rows with init=scratch).")


def _volume(name: str, work: pathlib.Path) -> pathlib.Path:
  if name == "flyem_x4":
    path = work / "flyem_x4.tif"
    jobs.simulate(SAMPLE2, path, factor=4.0)
    return path
  vol, spacing = io.read_volume(DATA / VOLUMES[name])
  if vol.shape[1] > 512:
    y0, x0 = (vol.shape[1] - 512) // 2, (vol.shape[2] - 512) // 2
    vol = vol[:, y0:y0 + 512, x0:x0 + 512]
  path = work / f"{name}.tif"
  io.write_volume(path, vol, spacing)
  return path


def _damage(kind: str, key, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(damaged section, the simulator's mask > 0.1 dilated by 4 px) of a clean section in [0, 1]."""
  if kind == "fold":
    y, aux = fold_lib.fold(key, clean)
    mask = aux["mask"]
  elif kind == "precipitates":
    y, aux = precipitates_lib.precipitates(key, clean)
    mask = aux["mask"]
  else:
    y, mask = np.zeros_like(clean), np.ones_like(clean)
  return np.asarray(y, np.float32), np.asarray(binary_mask(jax.numpy.asarray(mask), 4)) > 0


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
  return float(10 * np.log10(1.0 / max(float(np.mean((np.clip(a, 0, 1) - b) ** 2)), 1e-10)))


def _scores(images: dict, clean: np.ndarray) -> dict:
  return {name: {"psnr": _psnr(img, clean), "ssim": ssim_xy(np.clip(img, 0, 1)[None], clean[None])}
          for name, img in images.items()}


def _train(path: pathlib.Path, test: list[int], steps: int, interp: str, work: pathlib.Path) -> tuple[str, float]:
  config = methods.get("sstem_restore").default_config("cpu")
  with config.unlocked():
    config.data.path, config.data.exclude = str(path), ",".join(str(k) for k in test)
    config.model.interp = interp
    config.train.steps = steps
    config.train.eval_every = max(1, steps // 4)
    with io.open_volume(path) as src:
      fit_crop(config, min(src.shape[1:]))         # as `jax-iso restore` does for sections smaller than a crop
  run = work / f"run_{path.stem}_{interp}"
  fit = jobs.train(config, str(run), show_progress=False)
  return str(run), fit["seconds"]


def _fine_tune(path: pathlib.Path, test: list[int], model: str, steps: int, work: pathlib.Path) -> tuple[str, float]:
  """`model` fine-tuned `steps` steps on the volume's sections but `test`, as `jax-iso restore` fine-tunes it."""
  route = model_route.Route("fine_tune", source=model, steps=steps)
  config = model_route.base_config(route, types.SimpleNamespace(config=None), methods.get("sstem_restore"))
  config.train.eval_every = max(1, steps // 2)
  with io.open_volume(path) as src:
    volume_config(config, path, test, min(src.shape[1:]))
  run = work / f"run_{path.stem}_fine_tune_{steps}"
  fit = jobs.train(config, str(run), show_progress=False)
  return str(run), fit["seconds"]


def _evaluate(path: pathlib.Path, run: str, test: list[int], seeds: int) -> list[dict]:
  loaded = load_model(run)
  opts = loaded.config.infer
  vol = io.read_volume(path)[0]
  unit = vol.astype(np.float32) / 255.0
  fns = {name: make_apply_fn(loaded.model, loaded.params, output=name) for name in ("interp", "fused")}
  rows = []
  for t in test:
    clean = unit[t]
    for kind in KINDS:
      for seed in range(seeds):
        damaged, true_mask = _damage(kind, jax.random.fold_in(jax.random.key(seed), 100 * t + KINDS.index(kind)),
                                     clean)
        stored = vol.copy()
        stored[t] = np.rint(np.clip(damaged, 0, 1) * 255).astype(np.uint8)
        found, masks = damage_lib.detect_damage(stored)
        detected = t in masks
        mask = masks[t] if detected else true_mask
        stack = np.stack([unit[t - 1], stored[t] / np.float32(255), unit[t + 1], mask.astype(np.float32)])[None]
        out = {name: predict_planes(fn, stack, tile=int(opts.tile), overlap=int(opts.overlap),
                                    margin=int(opts.margin), batch_size=int(opts.batch_size),
                                    multiple=loaded.multiple)[0] for name, fn in fns.items()}
        images = {"damaged": stored[t] / 255.0, "linear": 0.5 * (unit[t - 1] + unit[t + 1]),
                  "interp module": out["interp"], "restored": out["fused"]}
        false = [d.index for d in found if d.index != t]
        rows.append({"section": t, "kind": kind, "seed": seed, "detected": detected, "false_alarms": false,
                     "mask_fraction": float(mask.mean()), **_scores(images, clean)})
  return rows


def _summary(rows: list[dict]) -> list[dict]:
  out = []
  for key in sorted({(r["volume"], r["init"], r["interp"], r["kind"]) for r in rows}):
    sel = [r for r in rows if (r["volume"], r["init"], r["interp"], r["kind"]) == key]
    entry = {"volume": key[0], "init": key[1], "interp": key[2], "kind": key[3], "n": len(sel),
             "detected": sum(r["detected"] for r in sel)}
    for name in ("damaged", "linear", "interp module", "restored"):
      entry[name] = {m: float(np.mean([r[name][m] for r in sel])) for m in ("psnr", "ssim")}
    entry["gain_db"] = entry["restored"]["psnr"] - max(entry["damaged"]["psnr"], entry["linear"]["psnr"])
    out.append(entry)
  return out


def _real(work: pathlib.Path, runs: dict, folder: pathlib.Path | None) -> list[dict]:
  """`jobs.restore` with the real damaged sections named, by the model trained on that volume (ISBI test: on
  ISBI train) in the first part (`runs`: volume name -> run); before / after picture."""
  results, panels = [], []
  for name, sections, trained in REAL:
    if trained not in runs:
      continue
    src = DATA / name
    out = work / f"real_{name}"
    summary = jobs.restore(str(src), str(out), sections=",".join(str(s) for s in sections), model=runs[trained],
                           show_progress=False)
    with io.open_volume(src) as volume:
      found = damage_lib.detect_damage(volume)[0]
    results.append({"volume": name, "sections": list(sections), "found_by_detector": [d.index for d in found],
                    "kinds": {d.index: list(d.kinds) for d in found}, "seconds": summary["seconds"]})
    before, after = io.read_volume(src)[0], io.read_volume(out)[0]
    panels += [(f"{name.split('_')[0]} {s}", before[s], after[s]) for s in sections]
  if folder is not None:
    _picture(folder, panels)
  return results


def _picture(folder: pathlib.Path, panels) -> None:
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  folder.mkdir(parents=True, exist_ok=True)
  fig = Figure(figsize=(2.6 * len(panels), 5.4))
  for i, (title, before, after) in enumerate(panels):
    for row, (label, image) in enumerate((("before", before), ("restored", after))):
      ax = fig.add_subplot(2, len(panels), row * len(panels) + i + 1)
      ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
      ax.set_title(f"{title} {label}", fontsize=9)
      ax.set_axis_off()
  fig.tight_layout()
  path = folder / "restore_real.png"
  fig.savefig(path, dpi=70)
  print(f"wrote {path}")


def _pretrained_path() -> str:
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  return pretrained.resolve(_MODEL.value)


def _models(path: pathlib.Path, test: list[int], steps: int, work: pathlib.Path):
  """(init, interp, () -> (run, training seconds)) of each model scored on a volume: the pretrained one as it is and
  fine-tuned (--model), then the fits from scratch (--scratch, one per --interps)."""
  out = []
  if _MODEL.value:
    model = _pretrained_path()
    interp = str(read_config(model).model.interp)
    for n in sorted({int(v) for v in _FINE_TUNE.value} | {0}):
      make = (lambda: (model, 0.0)) if n == 0 else (lambda n=n: _fine_tune(path, test, model, n, work))
      out.append(("pretrained" if n == 0 else f"fine-tuned {n}", interp, make))
  if _SCRATCH.value:
    out += [(f"scratch {steps}", interp, lambda i=interp: _train(path, test, steps, i, work))
            for interp in _INTERPS.value]
  if not out:
    raise app.UsageError("--scratch=false without --model scores nothing: give --model=RUN_OR_BUNDLE")
  return out


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  quick = _QUICK.value
  names = ("isbi",) if quick else tuple(_VOLUMES.value)
  steps, n_test, seeds = (40, 2, 1) if quick else (_STEPS.value, _TEST.value, _SEEDS.value)
  rows, fits, runs = [], [], {}
  pretrained_model = ({"model": _MODEL.value, "step": load_model(_pretrained_path()).step,
                       "fine_tune_steps": sorted(int(v) for v in _FINE_TUNE.value)} if _MODEL.value else {})
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for name in names:
      path = _volume(name, work)
      n = io.read_volume(path)[0].shape[0]
      test = [int(round(v)) for v in np.linspace(2, n - 3, n_test)]
      for init, interp, make in _models(path, test, steps, work):
        t0 = time.perf_counter()
        run, seconds = make()
        runs.setdefault(name, run)                     # the first model's run restores real damage
        fits.append({"volume": name, "init": init, "interp": interp, "train_seconds": round(seconds, 1)})
        for r in _evaluate(path, run, test, seeds):
          rows.append({"volume": name, "init": init, "interp": interp, **r})
        print(f"{name} ({init}, {interp}): trained in {seconds:.0f} s, scored in "
              f"{time.perf_counter() - t0 - seconds:.0f} s", flush=True)
      write_json(_OUT.value, {"quick": quick, "train_steps": steps, **pretrained_model, "fits": fits,
                              "summary": _summary(rows), "rows": rows, "complete": False})   # a crash keeps these
    real = _real(work, runs, pathlib.Path(_PICTURES.value) if _PICTURES.value else None) if not quick else []
  summary = _summary(rows)
  _print(summary, real)
  write_json(_OUT.value, {"quick": quick, "train_steps": steps, **pretrained_model, "fits": fits, "summary": summary,
                          "rows": rows, "real": real, "complete": True,
                          "cpu": os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip()})


def _print(summary: list[dict], real: list[dict]) -> None:
  print(f"\n{'volume':<9} {'init':<15} {'interp':<7} {'kind':<13} {'found':>6} {'damaged':>8} {'linear':>8} "
        f"{'interp':>8} {'restored':>9} {'gain':>6}   (PSNR dB; SSIM below)")
  for s in summary:
    print(f"{s['volume']:<9} {s['init']:<15} {s['interp']:<7} {s['kind']:<13} {s['detected']:>3}/{s['n']:<2} "
          f"{s['damaged']['psnr']:>8.2f} {s['linear']['psnr']:>8.2f} {s['interp module']['psnr']:>8.2f} "
          f"{s['restored']['psnr']:>9.2f} {s['gain_db']:>+6.2f}")
    print(f"{'':<9} {'':<15} {'':<7} {'':<13} {'':>6} {s['damaged']['ssim']:>8.3f} {s['linear']['ssim']:>8.3f} "
          f"{s['interp module']['ssim']:>8.3f} {s['restored']['ssim']:>9.3f}")
  for r in real:
    print(f"real {r['volume']}: sections {r['sections']} restored; the detector found {r['found_by_detector']}")


if __name__ == "__main__":
  app.run(main)
