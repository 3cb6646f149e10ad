"""`jax-iso predict`: reconstruct a volume with a trained model (a training workdir or an exported bundle).

Light by design: the model's parameters are loaded alone (`models.loader`), without the optimizer, the data
pipeline or the training loop.
"""
from __future__ import annotations

from collections.abc import Mapping

from jax_iso import io, methods, runconfig
from jax_iso.errors import UserError
from jax_iso.jobs.apply import apply_method, check_extras
from jax_iso.models.loader import load_model


def predict(model: str, input: str, output: str, *, factor: float | None = None,
            spacing: tuple[float, float, float] | None = None, channel: int | None = None,
            timepoint: int | None = None, fuse: str | None = None, inpaint: str | None = None,
            uncertainty: str | None = None, flags: str | None = None, sampling: Mapping | None = None,
            show_progress: bool = True, part: io.Part | None = None) -> dict:
  """Reconstructs `input` with the model at `model` onto round(N*s) slices (the section grid) into `output`,
  through its method's inference strategy (the model config's `infer` settings; `fuse` overrides theirs;
  `inpaint` ("auto" or "I,J"), `uncertainty` and `flags` (paths) and `sampling` ({"samples": K, "steps": N,
  "sampler": ..., "threshold": T}, None where the config's) for a method whose strategy offers them).

  Killed and run again with the same arguments (and model), it resumes at the first unfinished slab. With
  `part`, this process writes its rows of the OME-Zarr `output` (`io.Part`; the last part completes it).
  """
  io.check_output_path(output, inputs=[input])
  loaded = load_model(model)
  method = methods.get(loaded.config.method)
  if method.task != "isotropic":
    raise UserError(f"{model} holds a {method.name} model ({method.task}); run it with `jax-iso "
                    f"{methods.COMMANDS[method.task]} --model={model} --input=... --output=...`")
  extras = check_extras(method, input, output, inpaint=inpaint, uncertainty=uncertainty, flags=flags,
                        sampling=sampling, channel=channel, timepoint=timepoint, log=show_progress)
  if fuse is not None:
    extras["fuse"] = fuse
  options = runconfig.replace(loaded.config, infer=extras).infer if extras else loaded.config.infer
  out = apply_method(method, input, output, options=options, model=loaded, factor=factor, spacing=spacing,
                     channel=channel, timepoint=timepoint, job="predict",
                     description={"model": str(model), "step": loaded.step}, show_progress=show_progress,
                     part=part)
  return {**out, "model": str(model), "fuse": options.get("fuse")}
