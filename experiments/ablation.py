"""One config change of a learned method at a fixed CPU training budget, scored against cubic on real FIB-SEM.

  python experiments/ablation.py --method=unet --name=lr1e3 --set=optim.lr=0.001 [--minutes=5] [--factor=4]
      [--variant=cpu] [--out=results/ablation/lr1e3.json] [--quick]

sample2 (`../shared/data/flyem_medulla_fibsem_10nm_iso_sample2.tif`, 250^3, 10 nm) gets box sections of
`--factor` (`jobs.simulate`); the method's config (`configs/<method>.py:VARIANT`) with the `--set` overrides is
trained on them (self-supervised) for `--minutes` of wall time (steps from a timed 4-step pilot of the same
config), then predicts the volume, which is scored against the original, as is cubic interpolation. Prints one
row: steps, train and predict seconds, PSNR, gain over cubic, Z resolution, held-out pair PSNR of model and
input. --quick: one minute of training.
"""
from __future__ import annotations

import json
import os
import pathlib
import tempfile

from absl import app, flags

from common import SAMPLE2, require_sample2, write_json  # experiments/common.py
from jax_iso import jobs, methods

_METHOD = flags.DEFINE_enum("method", "unet", list(methods.names(learned=True)), "Learned method.")
_FACTOR = flags.DEFINE_float("factor", 4.0, "Anisotropy simulated from sample2.")
_NAME = flags.DEFINE_string("name", "baseline", "Row name.")
_SET = flags.DEFINE_multi_string("set", [], "Config override FIELD=VALUE (JSON value, e.g. optim.lr=0.001).")
_VARIANT = flags.DEFINE_string("variant", "cpu", "Variant of the method's config.")
_MINUTES = flags.DEFINE_float("minutes", 5.0, "Training wall time.")
_QUICK = flags.DEFINE_bool("quick", False, "One minute of training.")
_OUT = flags.DEFINE_string("out", None, "Write the row to this JSON file.")


def configured(overrides: list[str]):
  cfg = methods.get(_METHOD.value).default_config(_VARIANT.value or None)
  for item in overrides:
    field, _, text = item.partition("=")
    try:
      value = json.loads(text)
    except json.JSONDecodeError:
      value = text
    node, *path = field.split(".")
    if not path:
      cfg[node] = value
      continue
    node = cfg[node]
    for part in path[:-1]:
      node = node[part]
    node[path[-1]] = value
  return cfg


def main(argv):
  del argv
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  require_sample2()
  minutes = 1.0 if _QUICK.value else _MINUTES.value
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    aniso, cubic = work / "aniso.tif", work / "cubic.tif"
    jobs.simulate(SAMPLE2, aniso, factor=_FACTOR.value)
    jobs.reconstruct(aniso, cubic, method="cubic")
    cfg = configured(_SET.value)
    cfg.data.path = str(aniso)
    cfg.train.update({"steps": 4, "eval_every": 4, "checkpoint_every": 4, "log_every": 1})
    pilot = jobs.train(cfg, work / "pilot", show_progress=False)
    steps = max(10, int(minutes * 60 * pilot["steps_per_s"]))
    cfg.train.update({"steps": steps, "eval_every": max(1, steps // 5), "checkpoint_every": steps})
    fit = jobs.train(cfg, work / "run", show_progress=False)
    pred = jobs.predict(str(work / "run"), str(aniso), str(work / "pred.tif"))
    scores = {name: jobs.evaluate(str(path), str(SAMPLE2), report_dir=str(work / f"report_{name}"))
              for name, path in (("model", work / "pred.tif"), ("cubic", cubic))}
  row = {"method": _METHOD.value, "factor": _FACTOR.value, "name": _NAME.value, "set": _SET.value,
         "variant": _VARIANT.value, "minutes": minutes, "steps": steps,
         "train_s": fit["seconds"], "predict_s": pred["seconds"], "psnr": scores["model"]["psnr"],
         "cubic_psnr": scores["cubic"]["psnr"], "gain_db": scores["model"]["psnr"] - scores["cubic"]["psnr"],
         "z_res_nm": scores["model"]["resolution_nm"]["z"], "cubic_z_res_nm": scores["cubic"]["resolution_nm"]["z"],
         "eval_psnr": fit.get("eval_psnr"), "eval_psnr_input": fit.get("eval_psnr_input")}
  print(f"{'name':<12} {'steps':>5} {'train s':>7} {'PSNR':>6} {'cubic':>6} {'gain':>6} {'Z res':>6} "
        f"{'pairs':>6} {'input':>6}")
  print(f"{row['name']:<12} {steps:>5} {row['train_s']:>7.0f} {row['psnr']:>6.2f} {row['cubic_psnr']:>6.2f} "
        f"{row['gain_db']:>+6.2f} {row['z_res_nm']:>6.1f} {row['eval_psnr']:>6.2f} {row['eval_psnr_input']:>6.2f}")
  write_json(_OUT.value, row)


if __name__ == "__main__":
  app.run(main)
