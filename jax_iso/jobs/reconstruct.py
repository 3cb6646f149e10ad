"""`jax-iso reconstruct`: an anisotropic volume onto the isotropic grid, by interpolation or by a model (fitted on
the volume itself, pretrained, or given), through the job pipeline (the isotropic task: `jobs/isotropic.py`).

    reconstruct("stack.tif", "iso.tif")                                   # cubic
    reconstruct("stack.tif", "iso.tif", method="unet", train_steps=600)   # fitted on the input, then applied
    reconstruct("stack.tif", "iso.tif", method="unet", init="runs/unet")  # a trained model as it is
"""
from __future__ import annotations

import os

from jax_iso import methods
from jax_iso.jobs import isotropic, pipeline
from jax_iso.jobs.options import Options, make


def reconstruct(input: str, output: str, *, method: str = "cubic", **settings) -> dict:
  """Reconstructs `input` (sections along Z) onto the fine grid into `output` (module docstring); `settings`:
  see `jobs.options.COMMANDS["reconstruct"]`."""
  opts = make("reconstruct", input=input, output=output, method=method, **settings)
  methods.get(opts.method, task="isotropic")
  if opts.restore:
    return _restore_first(opts)
  return pipeline.run(opts, isotropic.TASK)


def _restore_first(opts: Options) -> dict:
  """Restores `opts.input` into a hidden TIFF beside the output (`jobs.restore`), then reconstructs that."""
  from jax_iso.jobs.restore import restore  # pylint: disable=g-import-not-at-top
  folder, name = os.path.split(os.path.abspath(opts.output))
  restored = os.path.join(folder, f".{name}.restored-{os.getpid()}.tif")
  settings = {} if opts.restore is True else dict(opts.restore)
  try:
    summary = restore(opts.input, restored, channel=opts.channel, timepoint=opts.timepoint,
                      show_progress=opts.show_progress, **settings)
    out = pipeline.run(opts.replace(input=restored, channel=None, timepoint=None, restore=False), isotropic.TASK)
  finally:
    if os.path.exists(restored):
      os.remove(restored)
  return {**out, "input": str(opts.input), "restore": {k: summary[k] for k in ("damaged", "restored", "copied")}}


