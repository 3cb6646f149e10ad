"""Inference bundles: the parameters to predict with plus the config needed to rebuild the model.

    export_bundle("runs/unet", "unet.bundle")     # what `jax-iso export` does
    jax_iso.models.loader.load_model("unet.bundle")   # what predict reads (a workdir works too)

A bundle is a directory: `bundle.json` (format version, method, model / infer / pairs config, the factor and
intensity window the model was trained with, the training step) and `params/` (an orbax checkpoint of the
parameters, the moving average when the run kept one). It is written atomically (built in a hidden temporary
directory, renamed when complete). The layout is defined with its reader, `jax_iso/models/loader.py`.
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import orbax.checkpoint as ocp

import jax_iso
from jax_iso import runconfig
from jax_iso.errors import UserError
from jax_iso.models import loader


def export_bundle(workdir: str | os.PathLike, output: str | os.PathLike) -> pathlib.Path:
  """Writes the inference bundle of `workdir`'s latest checkpoint to `output` (a directory)."""
  workdir = pathlib.Path(workdir)
  if (workdir / loader.BUNDLE_FILE).exists():
    raise UserError(f"{workdir} is a bundle already; pass the training workdir it was exported from")
  loaded = loader.load_model(workdir)
  output = pathlib.Path(output).absolute()
  if output.exists() and not (output / loader.BUNDLE_FILE).exists():
    raise UserError(f"{output} exists and is not a bundle; choose another output")
  if not output.parent.is_dir():
    raise UserError(f"the folder of {output} does not exist; create it first")
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
  try:
    with ocp.StandardCheckpointer() as saver:
      saver.save(tmp / loader.BUNDLE_PARAMS, loaded.params)
      saver.wait_until_finished()
    meta = {"format_version": loader.BUNDLE_VERSION, "jax_iso_version": jax_iso.__version__,
            "method": loaded.config.get("method"), "step": loaded.step, "config": runconfig.to_json(loaded.config)}
    (tmp / loader.BUNDLE_FILE).write_text(json.dumps(meta, indent=1))
    if output.exists():
      shutil.rmtree(output)
    os.replace(tmp, output)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return output
