"""The blind EMDiffuse-n (configs/pretrain/emdiffuse_n.py) on held-out FlyEM sections against BM3D, side by side:
quality and seconds per section of the one-pass posterior mean, the mean of K samples and BM3D.

  python experiments/bench_denoise_pretrained.py --model=.cache/pretrain/emdiffuse_n \\
      --out=results/bench_denoise_pretrained.json
  python experiments/bench_denoise_pretrained.py --model=jax_iso/pretrained/emdiffuse_n --quick --out=/tmp/q.json

`--model` is a bundle or a training workdir (its latest checkpoint, the moving average). Test data: sections of
FlyEM sample2 (250^3 FIB-SEM, 10 nm), which the pretraining holds out, as 192^2 centre crops (8 sections spread
over Z; `--quick`: 2; `--edge` another size), with each noise drawn once with a fixed key on float32 [0, 1] intensities (clipped):
Gaussian sigma 0.04 and 0.08, and Poisson-Gaussian at dose 30 and read noise 0.01 (as
experiments/bench_emdiffuse.py).
Per noise, on the same sections in the same run:
- noisy: PSNR of the input;
- BM3D (`bm3d` package, sigma given: the true one, for Poisson-Gaussian the RMS at the section's mean;
  experiments/common.py): PSNR, SSIM, seconds per section;
- one-pass mean (`infer.mean = "pass"`: the network once at the noisiest time from z = 0): PSNR, SSIM, seconds
  per section, run as `jax-iso denoise` runs it (the model's tiling, `infer/diffusion_tiles.make_tile_mean`),
  timed after one warm-up section so that compilation is not counted; `job_seconds`: the whole `jobs.denoise`
  call (loading and compiling included) on the same sections, whose output must agree with it;
- mean of K samples (K = `--samples`, default 8, the model's sampler and steps): PSNR, SSIM, seconds per section,
  and the calibration of the samples' standard deviation against the one-pass mean's true error (Spearman of
  16^2 block means, experiments/common.py).
With `--sweep_steps=2,5,10` (the row `--sweep_noise`, default Gaussian sigma 0.08): K samples drawn with each
number of sampler steps, and for k = 1, 2, 4, ... K the PSNR of the mean of the first k and the calibration of
their spread (Spearman of 16^2 blocks against the one-pass mean's true error), with the seconds per section of
K samples: which steps and samples give the best mean, recorded on the model's card (`sweep`).
The aims of issue 29 are checked in `aims` (one-pass mean >= BM3D + 1 dB at sigma 0.08, >= BM3D at 0.04 and
Poisson-Gaussian, in at most 2x BM3D's seconds per section; Spearman >= 0.5). All times come from this CPU in this
run (`cpu`); other processes on the machine slow every method alike only to first order.
"""
from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from jax_iso import io, jobs, runconfig
from jax_iso.degrade.pipeline import Pipeline
from jax_iso.diffusion import uncertainty
from jax_iso.diffusion.conditional import Conditional
from jax_iso.infer import memory_defaults
from jax_iso.infer.diffusion import SAMPLING_SALT
from jax_iso.infer.diffusion_tiles import make_tile_mean, make_tile_sampler
from jax_iso.infer.tiles import Tiling, predict_planes
from jax_iso.jobs.section_tasks import parse_noise
from jax_iso.metrics.signal_to_noise import psnr
from jax_iso.metrics.ssim import ssim_xy
from jax_iso.models.loader import load_model
from common import (bm3d_sections, calibration, cpu_name, noise_sigmas, require_sample2,  # experiments/common.py
                    write_json)

NOISES = {"gaussian 0.04": "gaussian:0.04", "gaussian 0.08": "gaussian:0.08",
          "poisson-gaussian d30 r0.01": "poisson_gaussian:30,0.01"}
SECTIONS, QUICK_SECTIONS = 8, 2
AIMS = {"gaussian 0.08": 1.0, "gaussian 0.04": 0.0, "poisson-gaussian d30 r0.01": 0.0}   # dB over BM3D
TIME_FACTOR = 2.0          # at most this many times BM3D's seconds per section
SPEARMAN = 0.5

_MODEL = flags.DEFINE_string("model", None, "The blind EMDiffuse-n: a bundle or a training workdir.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_QUICK = flags.DEFINE_bool("quick", False, f"{QUICK_SECTIONS} sections instead of {SECTIONS}.")
_SAMPLES = flags.DEFINE_integer("samples", 8, "K, the samples whose mean (and spread) is compared.")
_NOISES = flags.DEFINE_list("noises", list(NOISES), f"Which rows to run, of {list(NOISES)}.")
_EDGE = flags.DEFINE_integer("edge", 192, "Edge of the square centre crop of each section (px).")
_SWEEP = flags.DEFINE_list("sweep_steps", [], "Sampler steps to sweep (e.g. 2,5,10): the mean of k = 1, 2, 4, ... "
                          "K samples at each, on the row --sweep_noise.")
_SWEEP_NOISE = flags.DEFINE_string("sweep_noise", "gaussian 0.08", f"The row the sweep runs on, of {list(NOISES)}.")


def _clean(count: int, edge: int) -> np.ndarray:
  """`count` sections of sample2 spread over Z, edge^2 centre crops, float32 in [0, 1]."""
  vol, _ = io.read_volume(require_sample2())
  if not 16 <= edge <= min(vol.shape[1:]):
    sys.exit(f"--edge={edge}: the crops must be 16 to {min(vol.shape[1:])} px (sample2's sections)")
  z = np.linspace(20, vol.shape[0] - 21, count).round().astype(int)
  y0, x0 = (vol.shape[1] - edge) // 2, (vol.shape[2] - edge) // 2
  return np.asarray(vol[z, y0:y0 + edge, x0:x0 + edge], np.float32) / 255.0


def _scores(pred: np.ndarray, clean: np.ndarray) -> dict:
  pred = np.clip(pred, 0.0, 1.0)
  return {"psnr": round(psnr(pred, clean), 3), "ssim": round(ssim_xy(pred, clean), 4)}


class Runner:
  """The model's one-pass mean and K samples over whole sections, as the "diffusion" strategy tiles them."""

  def __init__(self, model: str, samples: int, edge: int):
    self.loaded = loaded = load_model(model)
    conditional = Conditional(loaded.config.diffusion)
    key = jax.random.fold_in(jax.random.key(int(loaded.config.seed)), SAMPLING_SALT)
    self.mean_fn = make_tile_mean(conditional, loaded.model, loaded.params)
    self.draw = make_tile_sampler(conditional, loaded.model, loaded.params, key, samples=samples)
    infer = runconfig.to_dict(loaded.config.infer)
    options, _ = memory_defaults.resolve(infer, self.draw, memory_defaults.tile_shapes(
        infer, multiple=loaded.multiple, planes=[(edge, edge)]))
    self.tiling = Tiling.from_config(options, loaded.multiple)
    self.samples, self.conditional, self.key = samples, conditional, key

  def sampler(self, steps: int):
    """The K-sample draw with `steps` sampler steps (the model's sampler otherwise)."""
    return make_tile_sampler(self.conditional, self.loaded.model, self.loaded.params, self.key,
                             samples=self.samples, steps=int(steps))

  def _planes(self, fn, sections: np.ndarray, z0: int) -> np.ndarray:
    offset = np.array([z0, 0, 0], np.int32)
    return predict_planes(lambda tiles, origins: fn(tiles, origins + offset), sections, exact_batch=True,
                          origins=True, batch_size=self.tiling.batch_size, **self.tiling.geometry)

  def timed(self, fn, noisy: np.ndarray) -> tuple[np.ndarray, float]:
    """fn over every section ([N, K, H, W]), and the seconds per section after a warm-up call on the first."""
    self._planes(fn, noisy[:1], 0)
    out, start = [], time.perf_counter()
    for z in range(len(noisy)):
      out.append(self._planes(fn, noisy[z:z + 1], z))
    return np.concatenate(out), (time.perf_counter() - start) / len(noisy)


def main(argv):
  del argv
  if not _MODEL.value:
    sys.exit("--model=BUNDLE_OR_WORKDIR is required (e.g. .cache/pretrain/emdiffuse_n)")
  unknown = sorted(set(_NOISES.value + ([_SWEEP_NOISE.value] if _SWEEP.value else [])) - set(NOISES))
  if unknown:
    sys.exit(f"--noises: unknown {unknown}; choose from {list(NOISES)}")
  quiet = os.environ.get("JAX_ISO_PROGRESS") == "0"
  edge = _EDGE.value
  clean = _clean(QUICK_SECTIONS if _QUICK.value else SECTIONS, edge)
  runner = Runner(_MODEL.value, _SAMPLES.value, edge)
  cfg = runner.loaded.config
  results = {"model": str(_MODEL.value), "step": runner.loaded.step, "cpu": cpu_name(), "cores": os.cpu_count(),
             "test": f"sample2, {len(clean)} sections of {edge}^2", "k": _SAMPLES.value,
             "sampler": f"{cfg.diffusion.sampler} {cfg.diffusion.steps}",
             "tiling": {"tile": runner.tiling.tile, "margin": runner.tiling.margin,
                        "batch_size": runner.tiling.batch_size}, "rows": {}}
  with tempfile.TemporaryDirectory() as tmp:
    for i, name in enumerate(_NOISES.value):
      spec = NOISES[name]
      noisy = np.asarray(Pipeline.from_config(parse_noise(spec))(jax.random.key(1234 + i), jnp.asarray(clean))[0])
      bm3d, bm3d_s = bm3d_sections(noisy, noise_sigmas(spec, noisy))
      one, one_s = runner.timed(runner.mean_fn, noisy)
      one = one[:, 0]
      samples, k_s = runner.timed(runner.draw, noisy)
      mean_k, std, _ = (np.asarray(a) for a in uncertainty.summarize(np.moveaxis(samples, 1, 0)))
      path = pathlib.Path(tmp) / f"noisy{i}.tif"
      io.write_volume(path, noisy, (10.0, 10.0, 10.0))
      job = jobs.denoise(str(path), str(pathlib.Path(tmp) / f"out{i}.tif"), init=str(_MODEL.value),
                         show_progress=not quiet)
      job_out = io.read_volume(pathlib.Path(tmp) / f"out{i}.tif")[0]
      row = {"noisy": _scores(noisy, clean),
             "bm3d": {**_scores(bm3d, clean), "seconds_per_section": round(bm3d_s, 3)},
             "one_pass": {**_scores(one, clean), "seconds_per_section": round(one_s, 3),
                          "job_seconds": round(job["seconds"], 2),
                          "job_max_abs_diff": float(np.abs(job_out - one).max())},
             "mean_k": {**_scores(mean_k, clean), "seconds_per_section": round(k_s, 3)},
             "calibration": calibration(one, std, clean)}
      row["one_pass"]["gain_over_bm3d_db"] = round(row["one_pass"]["psnr"] - row["bm3d"]["psnr"], 3)
      row["one_pass"]["time_over_bm3d"] = round(one_s / bm3d_s, 3)
      results["rows"][name] = row
      print(f"{name}: {row}", flush=True)
      if _SWEEP.value and name == _SWEEP_NOISE.value:
        results["sweep"] = {"noise": name, "k": runner.samples, "rows": sweep(runner, noisy, clean, one)}
  if _SWEEP.value and "sweep" not in results:
    sys.exit(f"--sweep_noise={_SWEEP_NOISE.value!r} is not among the rows run (--noises)")
  results["aims"] = {name: {"gain_db": row["one_pass"]["gain_over_bm3d_db"], "aim_db": AIMS[name],
                            "time_over_bm3d": row["one_pass"]["time_over_bm3d"],
                            "spearman": row["calibration"]["spearman_blocks"],
                            "reached": bool(row["one_pass"]["gain_over_bm3d_db"] >= AIMS[name]
                                            and row["one_pass"]["time_over_bm3d"] <= TIME_FACTOR),
                            "spearman_reached": bool(row["calibration"]["spearman_blocks"] >= SPEARMAN)}
                     for name, row in results["rows"].items()}
  _print(results)
  write_json(_OUT.value, results)


def sweep(runner: Runner, noisy: np.ndarray, clean: np.ndarray, one: np.ndarray) -> list[dict]:
  """Per sampler steps of --sweep_steps: the PSNR of the mean of the first k samples (k = 1, 2, 4, ... K) and the
  calibration of their spread against the one-pass mean's error; seconds per section of the K samples."""
  rows = []
  ks = sorted({min(2 ** i, runner.samples) for i in range(runner.samples.bit_length() + 1)})
  for steps in sorted({int(s) for s in _SWEEP.value}):
    samples, seconds = runner.timed(runner.sampler(steps), noisy)         # [N, K, H, W]
    row = {"steps": steps, "seconds_per_section": round(seconds, 3), "means": {}}
    for k in ks:
      if k == 1:
        row["means"][k] = _scores(samples[:, 0], clean)
        continue
      mean, std, _ = (np.asarray(a) for a in uncertainty.summarize(np.moveaxis(samples[:, :k], 1, 0)))
      row["means"][k] = {**_scores(mean, clean), "spearman": calibration(one, std, clean)["spearman_blocks"]}
    rows.append(row)
    print(f"sweep: {steps} steps, " + ", ".join(f"mean of {k} {v['psnr']:.2f} dB" for k, v in row["means"].items()),
          flush=True)
  return rows


def _print(results: dict) -> None:
  print(f"\nblind EMDiffuse-n ({results['model']}, step {results['step']}) on {results['test']}; "
        f"PSNR dB / seconds per section; {results['cpu']}")
  cols = (("noisy", "noisy"), ("bm3d", "BM3D"), ("one_pass", "one pass"), ("mean_k", f"mean of {results['k']}"))
  print(f"{'noise':28s}" + "".join(f"{label:>20s}" for _, label in cols) + f"{'Spearman':>10s}")
  for name, row in results["rows"].items():
    cells = "".join(f"{row[c]['psnr']:>11.2f} / {row[c].get('seconds_per_section', 0.0):5.2f}s" for c, _ in cols)
    print(f"{name:28s}{cells}{row['calibration']['spearman_blocks']:>10.3f}")
  for name, aim in results["aims"].items():
    print(f"  aim {name}: one pass {aim['gain_db']:+.2f} dB over BM3D (aim {aim['aim_db']:+.1f}) in "
          f"{aim['time_over_bm3d']:.2f}x its time (aim <= {TIME_FACTOR:g}x): "
          f"{'reached' if aim['reached'] else 'not reached'}")


if __name__ == "__main__":
  app.run(main)
