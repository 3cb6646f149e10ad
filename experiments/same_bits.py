"""Fixed-seed tiny fits and predictions of every learned method, as digests: the same bits before and after a
refactor of the engine.

    python experiments/same_bits.py --out=results/same_bits.json          # every learned method
    python experiments/same_bits.py --quick --out=/tmp/bits.json            # unet and emformer only

Each method's `tiny` config trains for 3 steps (`jobs.train`, seed 0) on x4 sections cut from the shipped sample
(the isotropic methods; vemdiffuse_i on the isotropic crop itself), on the clean crop with synthetic noise
(emdiffuse_n), on the crop at 2x (emdiffuse_r) or on its sections (sstem_restore); the trained model then runs
through the command that applies it (`jax-iso predict`, `denoise`, `superres`, `restore --sections=...`). The
JSON holds, per method, the sha256 of the parameters and of the written volume. Two runs on one machine compare
equal when the engine computes the same thing.
"""
from __future__ import annotations

import argparse
import hashlib
import pathlib
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.common import write_json  # pylint: disable=wrong-import-position

ISOTROPIC = ("unet", "a2i", "emformer", "vemdiffuse_a", "vemdiffuse_i")
OTHERS = ("emdiffuse_n", "emdiffuse_r", "sstem_restore")
QUICK = ("unet", "emformer")


def _digest(array) -> str:
  array = np.ascontiguousarray(np.asarray(array))
  return hashlib.sha256(f"{array.dtype.str}{array.shape}".encode() + array.tobytes()).hexdigest()[:16]


def _params_digest(workdir: pathlib.Path) -> str:
  import jax  # pylint: disable=g-import-not-at-top
  from jax_iso.models.loader import load_model  # pylint: disable=g-import-not-at-top
  leaves = jax.tree_util.tree_leaves(load_model(workdir).params)
  return hashlib.sha256(b"".join(bytes.fromhex(_digest(leaf)) for leaf in leaves)).hexdigest()[:16]


def _volumes(work: pathlib.Path) -> dict[str, pathlib.Path]:
  from jax_iso import io, samples  # pylint: disable=g-import-not-at-top
  from jax_iso.degrade import simulate_axial  # pylint: disable=g-import-not-at-top
  iso = io.read_volume(samples.FIBSEM_10NM)[0][:64, :64, :64]
  sections = np.rint(np.asarray(simulate_axial(iso.astype(np.float32) / 255, 4.0, axis=0)) * 255).astype(np.uint8)
  out = {"iso": work / "iso.tif", "aniso": work / "aniso.tif", "lr": work / "lr.tif"}
  io.write_volume(out["iso"], iso, (10.0, 10.0, 10.0))
  io.write_volume(out["aniso"], sections, (40.0, 10.0, 10.0))
  io.write_volume(out["lr"], iso[:8, ::2, ::2], (10.0, 20.0, 20.0))
  return out


def _train(method: str, data: str, run: pathlib.Path, factor: float | None = None) -> None:
  from jax_iso import jobs, methods  # pylint: disable=g-import-not-at-top
  config = methods.get(method).default_config("tiny")
  config.data.path = data
  config.train.steps = 3
  if factor is not None:
    config.data.factor = factor
  jobs.train(config, run, show_progress=False)


def _apply(method: str, run: pathlib.Path, vols: dict, out: pathlib.Path) -> None:
  from jax_iso.cli.main import main  # pylint: disable=g-import-not-at-top
  command = {"emdiffuse_n": ["denoise", f"--input={vols['iso']}"],
             "emdiffuse_r": ["superres", f"--input={vols['lr']}"],
             "sstem_restore": ["restore", f"--input={vols['aniso']}", "--sections=5,9"]}.get(
                 method, ["predict", f"--input={vols['aniso']}"])
  code = main(["jax-iso", *command, f"--model={run}", f"--output={out}"])
  if code:
    raise SystemExit(f"{method}: `jax-iso {command[0]}` failed with exit code {code}")


def bits(method: str, work: pathlib.Path, vols: dict) -> dict:
  """{"params": digest, "output": digest} of `method`'s tiny fit and its application."""
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  run = work / f"run_{method}"
  data = {"vemdiffuse_i": vols["iso"], "emdiffuse_n": vols["iso"], "emdiffuse_r": vols["iso"]}.get(
      method, vols["aniso"])
  _train(method, str(data), run, factor=4.0 if method == "vemdiffuse_i" else None)
  out = work / f"out_{method}.tif"
  _apply(method, run, vols, out)
  return {"params": _params_digest(run), "output": _digest(io.read_volume(out)[0])}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", help="JSON file to write")
  parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
  parser.add_argument("--methods", help="comma-separated subset (default: every learned method)")
  args = parser.parse_args()
  names = args.methods.split(",") if args.methods else QUICK if args.quick else ISOTROPIC + OTHERS
  import os  # pylint: disable=g-import-not-at-top
  os.environ.setdefault("JAX_ISO_PROGRESS", "0")
  result = {}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    vols = _volumes(work)
    for name in names:
      result[name] = bits(name, work, vols)
      print(f"{name}: params {result[name]['params']}  output {result[name]['output']}", flush=True)
  write_json(args.out, {"methods": result})


if __name__ == "__main__":
  main()
