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
from jax_iso.jobs.evaluate import evaluate
from jax_iso.jobs.reconstruct import reconstruct
from jax_iso.jobs.simulate import simulate

BASELINE = "cubic"
METHODS = tuple(m.name for m in registry.METHODS.values() if m.in_demo)
DEMO_STEPS = 600   # training steps of each learned method: ~4 min on 2 CPU cores with the "cpu" variant


def demo(out_dir: str = "demo_output", *, factor: float = 4.0, methods=METHODS, steps: int | None = DEMO_STEPS,
         variant: str | None = None, show_progress: bool = True) -> dict:
  """Runs simulate -> reconstruct (each method) -> evaluate; returns {'table', 'results', 'reports', ...}.

  Learned methods train for `steps` steps (None: their config's) of config `variant` (None: the default).
  """
  factor = check_factor(factor)          # before anything is made: a bad factor leaves no folder behind
  for method in methods:
    registry.get(method, task="isotropic", flag="methods")
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  sample = str(samples.FIBSEM_10NM)
  aniso = str(out / f"sample_x{factor:g}.tif")
  simulate(sample, aniso, factor=factor)
  results, reports, runs = {}, {}, {}
  for method in methods:
    recon = str(out / f"reconstruction_{method}.tif")
    learned = {"steps": steps, "variant": variant, "workdir": str(out / f"run_{method}_x{factor:g}"),
               "show_progress": show_progress} if registry.get(method).learned else {}
    runs[method] = reconstruct(aniso, recon, method=method, factor=factor, **learned)
    results[method] = evaluate(recon, sample, report_dir=str(out / f"report_{method}"))
    reports[method] = results[method]["report_dir"]
  best = max(results, key=lambda m: results[m]["psnr"])
  baseline = BASELINE if BASELINE in results else min(results, key=lambda m: results[m]["psnr"])
  return {"table": metrics.format_table(results), "results": results, "reports": reports, "runs": runs,
          "best": best, "gain_db": results[best]["psnr"] - results[baseline]["psnr"], "baseline": baseline,
          "anisotropic": aniso, "sample": sample}
