"""A method applied to an anisotropic volume file: the sections opened, the factor and the fine grid resolved
and checked, the output written through the method's inference strategy.

    with open_sections("stack.tif", factor=None, spacing=None) as sections:   # the volume-and-grid setup
      sections.factor, sections.out_shape, sections.out_spacing
    summary = apply_method(methods.get("cubic"), "stack.tif", "iso.tif", options={"method": "cubic"})
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator, Mapping

import numpy as np

from jax_iso import io, methods, runconfig
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.infer import strategies
from jax_iso.infer.clip_strategy import find_missing
from jax_iso.io.factor import resolve_factor
from jax_iso.models.loader import LoadedModel


@dataclasses.dataclass(frozen=True)
class Sections:
  """An anisotropic input on the section grid (README "Conventions")."""
  src: io.VolumeSource                    # (Z, Y, X) sections
  factor: float                           # anisotropy s
  spacing: tuple | None                   # (z, y, x) nm of the sections, or None
  intensity: io.Intensity                 # stored values <-> [0, 1]

  @property
  def out_shape(self) -> tuple[int, int, int]:
    """(round(Z*s), Y, X): the fine slices the sections reconstruct to."""
    n_z, n_y, n_x = (int(n) for n in self.src.shape)
    return grid.fine_count(n_z, self.factor), n_y, n_x

  @property
  def out_spacing(self) -> tuple[float, float, float] | None:
    return None if self.spacing is None else (self.spacing[0] / self.factor, self.spacing[1], self.spacing[2])


@contextlib.contextmanager
def open_sections(path: str, *, factor: float | None = None, spacing: tuple[float, float, float] | None = None,
                  channel: int | None = None, timepoint: int | None = None,
                  normalize: str = "dtype") -> Iterator[Sections]:
  """Opens `path` as sections: factor from --factor, --spacing or the file's voxel size (they must agree), at
  least 2 sections, finite values; closed on exit."""
  with io.open_volume(path, channel=channel, timepoint=timepoint) as src:
    factor, spacing = resolve_factor(factor, spacing, src.spacing, src.spacing_origin)
    if src.shape[0] < 2:
      raise UserError(f"{path} has {src.shape[0]} section; reconstruction needs at least 2 along Z")
    if src.dtype == np.float32:
      io.check_finite(src)
    yield Sections(src, factor, spacing, io.intensity_of(src, mode=normalize))


SAMPLING = ("samples", "steps", "sampler", "threshold", "noise")   # settings of the diffusion strategies' sampling


def check_extras(method: methods.Method, input: str, output: str, *, inpaint: str | None = None,
                 uncertainty: str | None = None, flags: str | None = None, sampling: Mapping | None = None,
                 channel: int | None = None, timepoint: int | None = None, log: bool = True) -> dict:
  """The strategy options that --inpaint, --uncertainty, --flags and the sampling settings (`sampling`: samples,
  steps, sampler, threshold, noise (vemdiffuse: "sections", "shared" or "plane"); None where not given) add,
  checked before any work: the method must offer them, each map needs its own writable path, the inpaint indices
  must be sections of the input and leave some; "auto" is resolved here to the sections the detector finds
  (printed when `log`), so a learned method fits only once it is known that something is left to inpaint
  from."""
  features = strategies.get(method.strategy).features
  sampling = {k: v for k, v in (sampling or {}).items() if v is not None}
  unknown = sorted(set(sampling) - set(SAMPLING))
  if unknown:
    raise ValueError(f"unknown sampling settings {unknown}; known: {SAMPLING}")
  asked = [("inpaint", inpaint, "inpaint"), ("uncertainty", uncertainty, "uncertainty"), ("flags", flags, "flags")]
  asked += [(name, value, "sampling") for name, value in sampling.items()]
  for flag, value, feature in asked:
    if value is not None and value != "" and feature not in features:
      offering = [m.name for m in methods.METHODS.values()
                  if m.task == method.task and feature in strategies.get(m.strategy).features]
      raise UserError(f"--{flag} is not available for --method={method.name}; use a method that offers it: "
                      f"{', '.join(offering)}")
  extras = dict(sampling)
  seen = {os.path.realpath(os.fspath(output)): "--output"}
  for flag, path in (("uncertainty", uncertainty), ("flags", flags)):
    if not path:
      continue
    other = seen.get(os.path.realpath(os.fspath(path)))
    if other:
      raise UserError(f"--{flag}={path} is also {other}; give each output its own file (e.g. iso_std.tif, "
                      "iso_flags.tif)")
    io.check_output_path(path, inputs=[input])
    seen[os.path.realpath(os.fspath(path))] = f"--{flag}"
    extras[flag] = str(path)
  if inpaint:
    with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
      missing = find_missing(src, str(inpaint), log=log)
    if missing:
      extras["inpaint"] = ",".join(str(k) for k in missing)
  return extras


def apply_method(method: methods.Method, input: str, output: str, *, options: Mapping,
                 model: LoadedModel | None = None, factor: float | None = None,
                 spacing: tuple[float, float, float] | None = None, channel: int | None = None,
                 timepoint: int | None = None, job: str = "reconstruct", description: Mapping | None = None,
                 show_progress: bool = True, part: io.Part | None = None) -> dict:
  """Reconstructs `input` onto round(N*s) slices into `output` with `method`'s inference strategy (`options`:
  its settings; `model`: the trained model of a learned method, which must match the input's anisotropy). The
  output's metadata names the `job`, the method, the factor, the source and `description`. With `part` (one of
  several processes), this process writes its rows of the OME-Zarr output, and the last one to finish completes
  it (`io.shared_sink`)."""
  strategy = strategies.get(method.strategy)
  options = runconfig.freeze(options)
  strategy.check(options)
  part = part if part is not None and part.count > 1 else None
  if part is not None:
    check_split(method)
  io.check_output_path(output, inputs=[input])
  normalize = model.config.data.get("normalize", "dtype") if model is not None else "dtype"
  start = time.perf_counter()
  with open_sections(input, factor=factor, spacing=spacing, channel=channel, timepoint=timepoint,
                     normalize=normalize) as sections:
    if model is not None:
      trained = float(model.config.resolved.factor)
      if abs(sections.factor - trained) > 0.01 * trained:
        raise UserError(f"the model in {model.source} was trained for anisotropy x{trained:g} but {input} is "
                        f"x{sections.factor:g}; train on this volume (jax-iso reconstruct --method=... fits one) "
                        "or pass the right --factor/--spacing")
    description = {"job": job, "method": method.name, "factor": sections.factor, "source": str(input),
                   **({"uncertainty": str(options["uncertainty"])} if options.get("uncertainty") else {}),
                   **(description or {})}
    with io.create_volume(output, sections.out_shape, sections.src.dtype, sections.out_spacing,
                          description=description, resume_dir=True if strategy.resumable else None,
                          part=part) as sink:
      summary = strategy.run(sections.src, sink, strategies.Job(sections.factor, sections.intensity, options, model,
                                                                show_progress, part))
  out = {"input": str(input), "output": str(output), "method": method.name, "factor": sections.factor,
         "input_shape": list(sections.src.shape), "output_shape": list(sections.out_shape),
         "spacing_nm": None if sections.out_spacing is None else list(sections.out_spacing),
         "seconds": round(time.perf_counter() - start, 2), "strategy": summary}
  if part is not None:
    out["part"] = {"index": part.index, "count": part.count, "rows": list(part.rows(sections.out_shape[1])),
                   "parts_done": sink.parts_done, "completed_output": sink.committed}
  return out


def check_split(method: methods.Method) -> None:
  """Several processes can write one output only with a strategy that splits (the output format is checked
  where the shared output is made, `io.create_volume`)."""
  if not strategies.get(method.strategy).splits:
    splitting = [m.name for m in methods.METHODS.values() if strategies.get(m.strategy).splits]
    raise UserError(f"--method={method.name} runs in one process; --process_count > 1 is for "
                    f"{', '.join(splitting)}")
