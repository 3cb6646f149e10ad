"""`jax-iso predict`: reconstruct a volume with a trained model (a training workdir or an exported bundle)."""
from __future__ import annotations

import time

import numpy as np

from jax_iso import infer, io
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.io.factor import resolve_factor
from jax_iso.train.export import load_model


def predict(model: str, input: str, output: str, *, factor: float | None = None,
            spacing: tuple[float, float, float] | None = None, channel: int | None = None,
            timepoint: int | None = None, fuse: str | None = None) -> dict:
  """Reconstructs `input` with the model at `model` onto round(N*s) slices (the section grid) into `output`.

  Killed and run again with the same arguments (and model), it resumes at the first unfinished slab.
  """
  io.check_output_path(output, inputs=[input])
  loaded = load_model(model)
  cfg = loaded.config
  trained = float(cfg["resolved"]["factor"])
  infer_cfg = dict(cfg["infer"])
  if fuse is not None:
    infer_cfg["fuse"] = fuse
  start = time.perf_counter()
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    factor, spacing = resolve_factor(factor, spacing, src.spacing, src.spacing_origin)
    if abs(factor - trained) > 0.01 * trained:
      raise UserError(f"the model in {model} was trained for anisotropy x{trained:g} but {input} is x{factor:g}; "
                      "train on this volume (jax-iso reconstruct --method=... fits one) or pass the right "
                      "--factor/--spacing")
    if src.dtype == np.float32:
      io.check_finite(src)
    n_z, n_y, n_x = src.shape
    if n_z < 2:
      raise UserError(f"{input} has {n_z} section; reconstruction needs at least 2 along Z")
    n_out = grid.fine_count(n_z, factor)
    out_spacing = None if spacing is None else (spacing[0] / factor, spacing[1], spacing[2])
    intensity = io.intensity_of(src, mode=cfg["data"].get("normalize", "dtype"))
    description = {"job": "predict", "method": cfg.get("method"), "factor": factor, "source": str(input),
                   "model": str(model), "step": loaded.step}
    with io.create_volume(output, (n_out, n_y, n_x), src.dtype, out_spacing, description=description,
                          resume_dir=True) as sink:
      infer.reconstruct_planes(
          src, sink, factor=factor, apply_fn=infer.make_apply_fn(loaded.model, loaded.params),
          intensity=intensity, tile=int(infer_cfg["tile"]), overlap=int(infer_cfg["overlap"]),
          margin=int(infer_cfg["margin"]), batch_size=int(infer_cfg["batch_size"]),
          multiple=getattr(loaded.model, "multiple", 1), fuse=infer_cfg["fuse"], method=infer_cfg["method"],
          fingerprint=infer.fingerprint(loaded.params, loaded.config))
  return {"input": str(input), "output": str(output), "method": cfg.get("method"), "model": str(model),
          "factor": factor, "input_shape": [n_z, n_y, n_x], "output_shape": [n_out, n_y, n_x],
          "spacing_nm": None if out_spacing is None else list(out_spacing), "fuse": infer_cfg["fuse"],
          "seconds": round(time.perf_counter() - start, 2)}
