"""EMDiffuse-n and -r on real FIB-SEM: denoising against BM3D and a regression U-Net, the samplers' quality and
time, the uncertainty's calibration, and 2x super-resolution against cubic.

  python experiments/bench_emdiffuse.py [--quick] [--steps=2000] [--other_steps=1000] [--out=results/bench_emdiffuse.json]

Train on one region, score on another: models train on sample2 (250^3 FlyEM FIB-SEM, 10 nm) with synthetic
noise made on the device (`jax-iso denoise --train_clean=sample2 --noise=...`, the "cpu" variant); they are scored
on 3 sections (250^2) of sample1 with the same noise model drawn once with a fixed key, as float32.
- Denoising at Gaussian sigma 0.08 and 0.04 and Poisson-Gaussian (dose 30, read 0.01): PSNR and SSIM of one
  sample and of the mean of K = 8, against BM3D (`bm3d` package; sigma given: the true one, or for
  Poisson-Gaussian the RMS of the noise at the section's mean) and, at sigma 0.08, the CARE U-Net
  (`models/unet.py`, "cpu" size) trained as a regressor on the same synthetic pairs for as many steps.
- Samplers (the sigma 0.08 model, the first two test sections, one sample): DDPM 1000 and 200 steps, DDIM 50/25/10, DPM-Solver++
  (2M) 20/10/5: PSNR and seconds per 256^2 pixels (whole-section time x 256^2 / 250^2, tiles and overlaps included).
- Calibration (sigma 0.08, K = 8): Spearman correlation of 16^2 block means of the uncertainty with those of the
  mean's true |error|; the share of pixels flagged at 0.12; the mean |error| inside and outside the flags.
- Super-resolution: EMDiffuse-r trained on sample2 (`--train_hr`), tested on sample1's sections at 2x2-pixel
  means; PSNR/SSIM of the mean of K = 4 against cubic (`data.UpsampledVolume`).
--quick: sigma 0.08 only, two test sections, 40 training steps, K = 2, three short samplers: a few minutes
check of the same code (its numbers mean nothing).
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
import optax
from absl import app, flags

from jax_iso import data, io, jobs
from jax_iso.data.upsampled import UpsampledVolume
from jax_iso.degrade import pairs as pairs_lib
from jax_iso.degrade.pipeline import Pipeline
from jax_iso.jobs.section_tasks import parse_noise
from jax_iso.metrics.signal_to_noise import psnr
from jax_iso.metrics.ssim import ssim_xy
from jax_iso.models import build_model
from common import (ROOT, SAMPLE2, bm3d_sections, calibration, noise_sigmas, require_sample2,  # experiments/common.py
                    write_json)

SAMPLE1 = ROOT.parent / "shared" / "data" / "flyem_medulla_fibsem_10nm_iso_sample1.tif"
TEST_SECTIONS = (60, 125, 190)
NOISES = {"gaussian 0.08": "gaussian:0.08", "gaussian 0.04": "gaussian:0.04",
          "poisson-gaussian d30 r0.01": "poisson_gaussian:30,0.01"}
SAMPLERS = (("ddpm", 1000), ("ddpm", 200), ("ddim", 50), ("ddim", 25), ("ddim", 10), ("dpm2m", 20), ("dpm2m", 10),
            ("dpm2m", 5))
QUICK_SAMPLERS = (("ddpm", 20), ("ddim", 10), ("dpm2m", 5))
BLOCK = 16
THRESHOLD = 0.12
PER_TILE = 256 * 256

_QUICK = flags.DEFINE_bool("quick", False, "sigma 0.08 only, two sections, 40 training steps, K = 2, 3 samplers.")
_STEPS = flags.DEFINE_integer("steps", 2000, "Training steps of the sigma 0.08 model.")
_OTHER_STEPS = flags.DEFINE_integer("other_steps", 1000, "Training steps of the other noise models and of -r.")
_OUT = flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
_PARTS = flags.DEFINE_list("parts", ["denoise", "superres"], "Which parts to run: denoise, superres.")
_NOISES = flags.DEFINE_list("noises", list(NOISES), f"Which denoising rows to run, of {list(NOISES)} (the sampler "
                            "table, calibration and regression U-Net come with 'gaussian 0.08').")


def _read(path) -> np.ndarray:
  vol, _ = io.read_volume(path)
  return np.asarray(vol, np.float32) / (255.0 if vol.dtype == np.uint8 else 1.0)


def _scores(pred: np.ndarray, clean: np.ndarray) -> dict:
  pred = np.clip(pred, 0.0, 1.0)
  return {"psnr": round(psnr(pred, clean), 3), "ssim": round(ssim_xy(pred, clean), 4)}


def _regressor(spec: str, steps: int, noisy: np.ndarray) -> tuple[np.ndarray, float]:
  """The CARE U-Net ("cpu" size) trained as a regressor (MSE) on sample2 with `spec` noise; `noisy` denoised."""
  from configs import unet  # pylint: disable=g-import-not-at-top
  cfg = unet.get_config("cpu")
  model = build_model(cfg.model)
  pair_fn = pairs_lib.make_batch_fn({"kind": "noise", "pipeline": parse_noise(spec)})
  opt = optax.adam(optax.cosine_decay_schedule(1e-3, steps, 0.05))
  with io.open_volume(SAMPLE2) as src:
    batches = iter(data.crop_dataset(src, size=(64, 64), batch_size=8, seed=0))
    params = model.init(jax.random.key(0), jnp.zeros((1, 64, 64)))
    state = opt.init(params)

    @jax.jit
    def step(params, state, crops, key):
      inputs, targets, _ = pair_fn(key, crops.astype(jnp.float32) / 255.0)
      loss, grads = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, inputs) - targets) ** 2))(params)
      updates, state = opt.update(grads, state, params)
      return optax.apply_updates(params, updates), state, loss

    start = time.perf_counter()
    for i in range(steps):
      params, state, _ = step(params, state, jnp.asarray(next(batches)), jax.random.fold_in(jax.random.key(1), i))
    jax.block_until_ready(params)
    seconds = time.perf_counter() - start
  mult = getattr(model, "multiple", 1)
  pad = [(0, 0)] + [(0, -n % mult) for n in noisy.shape[1:]]
  out = model.apply(params, jnp.asarray(np.pad(noisy, pad, mode="reflect")))
  return np.asarray(out)[:, :noisy.shape[1], :noisy.shape[2]], seconds


def _denoise(noisy_path, out_path, *, quiet, **kwargs) -> tuple[np.ndarray, dict]:
  out = jobs.denoise(str(noisy_path), str(out_path), show_progress=not quiet, **kwargs)
  return _read(out_path), out


def main(argv):
  del argv
  require_sample2()
  if not SAMPLE1.exists():
    sys.exit(f"{SAMPLE1} is missing: this benchmark needs ../shared/data beside the project")
  quick = _QUICK.value
  quiet = os.environ.get("JAX_ISO_PROGRESS") == "0"
  clean = _read(SAMPLE1)[list(TEST_SECTIONS[:2] if quick else TEST_SECTIONS)]
  k = 2 if quick else 8
  pixels = clean.shape[1] * clean.shape[2]
  unknown = sorted(set(_NOISES.value) - set(NOISES))
  if unknown:
    sys.exit(f"--noises: unknown {unknown}; choose from {list(NOISES)}")
  noises = {"gaussian 0.08": NOISES["gaussian 0.08"]} if quick else {n: NOISES[n] for n in _NOISES.value}
  noises = noises if "denoise" in _PARTS.value else {}
  results = {"test": f"sample1 sections {TEST_SECTIONS}, {clean.shape[1]}^2", "train": "sample2 (synthetic noise)",
             "denoise": {}, "cpu": os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip()}
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(tmp)
    for i, (name, spec) in enumerate(noises.items()):
      main_row = name == "gaussian 0.08"
      steps = 40 if quick else (_STEPS.value if main_row else _OTHER_STEPS.value)
      noisy = np.asarray(Pipeline.from_config(parse_noise(spec))(jax.random.key(1234), jnp.asarray(clean))[0])
      noisy_path = work / f"noisy{i}.tif"
      io.write_volume(noisy_path, noisy, (10.0, 10.0, 10.0))
      run = work / f"run{i}"
      train_start = time.perf_counter()
      mean, out = _denoise(noisy_path, work / f"mean{i}.tif", quiet=quiet, train_clean=str(SAMPLE2), noise=spec,
                           workdir=str(run), train_steps=steps, config={"train.eval_every": steps},
                           samples=k, uncertainty=str(work / f"std{i}.tif"))
      train_seconds = out["fit"]["seconds"]
      one, one_out = _denoise(noisy_path, work / f"one{i}.tif", quiet=quiet, model=str(run), samples=1)
      row = {"steps": steps, "train_seconds": round(train_seconds, 1), "noisy": _scores(noisy, clean),
             "bm3d": _scores(bm3d_sections(noisy, noise_sigmas(spec, noisy))[0], clean),
             "diffusion_mean_k": _scores(mean, clean), "k": k,
             "diffusion_one_sample": _scores(one, clean),
             "sample_seconds_per_256": round(one_out["seconds"] * PER_TILE / (pixels * len(clean)), 2),
             "sampler": f"{one_out['strategy']['sampler']} {one_out['strategy']['steps']}",
             "wall_seconds": round(time.perf_counter() - train_start, 1)}
      if main_row:
        regressed, reg_seconds = _regressor(spec, steps, noisy)
        row["unet_regressor"] = {**_scores(regressed, clean), "train_seconds": round(reg_seconds, 1)}
        row["calibration"] = calibration(mean, _read(work / f"std{i}.tif"), clean, block=BLOCK, threshold=THRESHOLD)
        samplers = []
        few = min(2, len(noisy))      # a volume of one section would be a 2D image (io reads 3D volumes)
        io.write_volume(work / "noisy_few.tif", noisy[:few], (10.0, 10.0, 10.0))
        for sampler, n in (QUICK_SAMPLERS if quick else SAMPLERS):
          got, o = _denoise(work / "noisy_few.tif", work / f"s_{sampler}{n}.tif", quiet=quiet,
                            model=str(run), samples=1, sampler=sampler, sample_steps=n)
          samplers.append({"sampler": sampler, "steps": n, **_scores(got, clean[:few]),
                           "seconds_per_256": round(o["seconds"] * PER_TILE / (pixels * few), 2)})
          print(f"  {sampler:6s} {n:5d} steps: PSNR {samplers[-1]['psnr']:.2f} dB, "
                f"{samplers[-1]['seconds_per_256']:.2f} s per 256^2", flush=True)
        results["samplers"] = samplers
      results["denoise"][name] = row
      print(f"{name}: {row}", flush=True)

    if "superres" not in _PARTS.value:
      _print(results)
      write_json(_OUT.value, results)
      return
    # super-resolution 2x: sample1's sections at 2x2-pixel means
    h2, w2 = clean.shape[1] // 2 * 2, clean.shape[2] // 2 * 2
    hr = clean[:, :h2, :w2]
    lr = hr.reshape(len(hr), h2 // 2, 2, w2 // 2, 2).mean(axis=(2, 4)).astype(np.float32)
    io.write_volume(work / "lr.tif", lr, (10.0, 20.0, 20.0))
    sr_steps = 40 if quick else _OTHER_STEPS.value
    out = jobs.superres(str(work / "lr.tif"), str(work / "sr.tif"), train_hr=str(SAMPLE2), train_steps=sr_steps,
                        config={"train.eval_every": sr_steps}, samples=4,
                        show_progress=not quiet)
    results["superres"] = {"steps": sr_steps, "train_seconds": round(out["fit"]["seconds"], 1),
                           "cubic": _scores(UpsampledVolume(lr, 2)[:], hr),
                           "diffusion_mean_k4": _scores(_read(work / "sr.tif"), hr)}

  _print(results)
  write_json(_OUT.value, results)


def _print(results: dict) -> None:
  """The tables of what ran."""
  if results.get("denoise"):
    _print_denoise(results)
  if results.get("superres"):
    print(f"super-resolution 2x: {results['superres']}")


def _print_denoise(results: dict) -> None:
  print("\ndenoising (PSNR dB / SSIM) on sample1, trained on sample2")
  cols = ["noisy", "bm3d", "unet_regressor", "diffusion_one_sample", "diffusion_mean_k"]
  print(f"{'noise':28s}" + "".join(f"{c:>22s}" for c in cols))
  for name, row in results["denoise"].items():
    print(f"{name:28s}" + "".join(f"{row[c]['psnr']:>14.2f} / {row[c]['ssim']:.3f}" if c in row else f"{'-':>22s}"
                                   for c in cols))
  if "samplers" not in results:
    return
  print("\nsamplers (sigma 0.08 model, one sample)")
  for s in results["samplers"]:
    print(f"  {s['sampler']:6s} {s['steps']:5d}  PSNR {s['psnr']:6.2f}  SSIM {s['ssim']:.3f}  "
          f"{s['seconds_per_256']:7.2f} s / 256^2")
  print(f"\ncalibration: {results['denoise']['gaussian 0.08']['calibration']}")


if __name__ == "__main__":
  app.run(main)
