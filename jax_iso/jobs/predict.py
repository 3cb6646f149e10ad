"""`jax-iso predict`: a volume reconstructed with a trained model (a training workdir or an exported bundle), the
method coming from the model, through the job pipeline (the isotropic task: `jobs/isotropic.py`).

Light by design: the model's parameters are loaded alone (`models.loader`), without the optimizer, the data
pipeline or the training loop (a fine-tune, `train_steps` > 0, imports them when it runs).
"""
from __future__ import annotations

import os

from jax_iso import io, methods
from jax_iso.errors import UserError
from jax_iso.jobs import isotropic, pipeline
from jax_iso.jobs.options import make
from jax_iso.models.loader import read_config


def predict(model: str, input: str, output: str, **settings) -> dict:
  """Reconstructs `input` with the trained `model` (a bundle, a training workdir or a shipped model's name; as
  it is, or fine-tuned on the input for `train_steps`) into `output`; its method comes from the model."""
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  model = pretrained.resolve(str(model))          # a shipped model's name is its bundle
  if not os.path.exists(model):
    shipped = ", ".join(pretrained.shipped()) or "none ships with this jax_iso"
    raise UserError(f"model={model} is neither a bundle or training workdir nor a shipped model (shipped: {shipped};"
                    " `jax-iso models` lists them)")
  opts = make("predict", input=input, output=output, init=model, **settings)
  io.check_output_path(output, inputs=[input])
  config = read_config(model)
  entry = methods.get(config.method)
  if entry.task != "isotropic":
    raise UserError(f"{model} holds a {entry.name} model ({entry.task}); run it with `jax-iso "
                    f"{methods.COMMANDS[entry.task]} --model={model} --input=... --output=...`")
  out = pipeline.run(opts.replace(method=entry.name), isotropic.TASK)
  return {**out, "fuse": opts.fuse or config.infer.get("fuse")}


