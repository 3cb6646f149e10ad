"""`jax-iso demo` / `make demo`: the main job on the real EM sample shipped in the package.

Simulates x4 anisotropy (40 nm sections) from the 10 nm isotropic FIB-SEM sample, reconstructs it with the
registry's demo methods (the interpolation baselines and a U-Net fitted on the simulated sections alone:
self-supervised, the isotropic original is used only to score), and writes a report per method.
"""
from __future__ import annotations

import pathlib

from jax_iso import methods as registry
from jax_iso import metrics, samples
from jax_iso.io.factor import check_factor
from jax_iso.errors import UserError
from jax_iso.jobs.evaluate import evaluate
from jax_iso.jobs.reconstruct import reconstruct
from jax_iso.jobs.options import make
from jax_iso.jobs.simulate import simulate

BASELINE = "cubic"
METHODS = tuple(m.name for m in registry.METHODS.values() if m.in_demo)
DEMO_STEPS = 600   # training steps of each learned method: ~4 min on 2 CPU cores with the "cpu" variant


def demo(out_dir: str = "demo_output", **settings) -> dict:
  """Runs simulate -> reconstruct (each method) -> evaluate; returns {'table', 'results', 'reports', ...}.

  `settings` (`jobs.options.COMMANDS["demo"]`): `factor` (4), `methods` (the registry's demo methods), and for
  the learned ones `train_steps` (DEMO_STEPS; None: their config's) of config `variant` (None: the default).
  """
  opts = make("demo", out_dir=out_dir, **{"factor": 4.0, "methods": METHODS, "train_steps": DEMO_STEPS, **settings})
  factor = check_factor(opts.factor)     # before anything is made: a bad factor leaves no folder behind
  methods = tuple(opts.methods.split(",")) if isinstance(opts.methods, str) else tuple(opts.methods)
  for method in methods:
    registry.get(method, task="isotropic", flag="methods")
  if opts.train_steps is not None and opts.train_steps < 1:
    raise UserError(f"train_steps={opts.train_steps} must be >= 1")
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  sample = str(samples.FIBSEM_10NM)
  aniso = str(out / f"sample_x{factor:g}.tif")
  simulate(sample, aniso, factor=factor)
  results, reports, runs = {}, {}, {}
  for method in methods:
    recon = str(out / f"reconstruction_{method}.tif")
    # from scratch: the shipped sample is a crop of a volume the shipped models were pretrained on, so a
    # pretrained model's score here would not be a fair one (docs/results.md has those on held-out volumes)
    learned = {"init": "scratch", "train_steps": opts.train_steps, "variant": opts.variant,
               "workdir": str(out / f"run_{method}_x{factor:g}")} if registry.get(method).learned else {}
    runs[method] = reconstruct(aniso, recon, method=method, factor=factor, show_progress=opts.show_progress,
                               **learned)
    results[method] = evaluate(recon, sample, report_dir=str(out / f"report_{method}"))
    reports[method] = results[method]["report_dir"]
  best = max(results, key=lambda m: results[m]["psnr"])
  baseline = BASELINE if BASELINE in results else min(results, key=lambda m: results[m]["psnr"])
  return {"table": metrics.format_table(results), "results": results, "reports": reports, "runs": runs,
          "best": best, "gain_db": results[best]["psnr"] - results[baseline]["psnr"], "baseline": baseline,
          "anisotropic": aniso, "sample": sample}
