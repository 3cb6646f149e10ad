"""One options object per job: every setting a command, a Python caller or the napari widget gives, checked once
where it enters (`make`) and passed whole.

    opts = make("reconstruct", input="stack.tif", output="iso.tif", method="unet", train_steps=600)
    opts.method, opts.train_steps, opts.sampling()

Settings are named as the Python keywords and the command's flags are (`train_steps` is `--train_steps`); errors
name them as `name=value`, and the command line shows them as flags. A command accepts the settings listed for
it in COMMANDS; any other name is refused with the closest known one.

How a model is obtained (`init`, `train_steps`; see `jobs/model_route.py`): `init="scratch"` fits one on the
input (`train_steps`: the config's by default), `init=PATH` loads a bundle or training workdir (as it is, or
fine-tuned for `train_steps` > 0), `init="pretrained"` starts from the model shipped for the method.
"""
from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from typing import Any

from jax_iso.errors import UserError

SAMPLING = ("samples", "sample_steps", "sampler", "threshold", "noise_field")   # what a sampler is asked


@dataclasses.dataclass(frozen=True)
class Options:
  """Every setting of a job; None means "the method's or config's default"."""
  # what is read
  input: str | None = None
  channel: int | None = None
  timepoint: int | None = None
  spacing: tuple[float, float, float] | None = None   # (z, y, x) nm, over the file's
  factor: float | None = None                          # anisotropy, when no voxel size says it
  # what is written
  output: str | None = None
  uncertainty: str | None = None                       # spread of the samples / orientations
  flags: str | None = None                             # where the uncertainty is high
  report: str | None = None                            # a picture (.png)
  masks: str | None = None                             # restore: the detection, as codes per voxel
  # the method and its model
  method: str | None = None
  init: str | None = None                              # "scratch" | "pretrained" | a bundle or workdir
  train_steps: int | None = None                       # training (or fine-tuning) steps; 0: none
  variant: str | None = None                           # config variant to train ("cpu", "tiny", "default")
  workdir: str | None = None                           # keep the fitted model here
  config: Mapping[str, Any] = dataclasses.field(default_factory=dict)   # config fields to set ("data.crop": 64)
  # training data a task names besides the input
  train_iso: str | None = None                         # vemdiffuse_i: an isotropic volume of similar tissue
  train_noisy: str | None = None                       # denoise: a registered noisy/clean pair
  train_clean: str | None = None
  noise: str | None = None                             # denoise: synthetic noise on train_clean
  train_lr: str | None = None                          # superres: a registered low/high-resolution pair
  train_hr: str | None = None
  # what the inference strategy is asked
  samples: int | None = None
  sample_steps: int | None = None
  sampler: str | None = None
  threshold: float | None = None
  noise_field: str | None = None                       # vemdiffuse: "shared", "sections" or "plane"
  mean: str | None = None                              # denoise, superres: "pass" (one network pass) or "samples"
  inpaint: str | None = None                           # emformer: "auto" or section indices "I,J"
  fuse: str | None = None                              # planes: how the xz and yz predictions combine
  # restoration
  artifacts: str = "auto"
  sections: str | None = None
  restore: bool | Mapping[str, Any] = False            # reconstruct: repair damaged sections first
  # scoring jobs (validate, demo)
  methods: Any = None                                  # "cubic,unet" or a sequence of method names
  out_dir: str | None = None                           # where their volumes and reports go
  # how it runs
  part: Any = None                                     # io.Part: this process writes its rows
  show_progress: bool = True

  def sampling(self) -> dict:
    """The sampling settings given (strategy option names: `sample_steps` is the sampler's `steps`)."""
    named = {"samples": self.samples, "steps": self.sample_steps, "sampler": self.sampler,
             "threshold": self.threshold, "noise": self.noise_field}
    return {k: v for k, v in named.items() if v is not None}

  def replace(self, **changes) -> Options:
    return dataclasses.replace(self, **changes)


_SOURCE = ("input", "channel", "timepoint", "spacing", "factor")
_MODEL = ("method", "init", "train_steps", "variant", "workdir", "config")
_RUN = ("show_progress",)
COMMANDS: dict[str, tuple[str, ...]] = {   # the settings each job takes
    "reconstruct": _SOURCE + ("output", "uncertainty", "flags") + _MODEL + ("train_iso",) + SAMPLING
                   + ("inpaint", "fuse", "restore", "part") + _RUN,
    "predict": _SOURCE + ("output", "uncertainty", "flags", "init", "train_steps") + SAMPLING
               + ("inpaint", "fuse", "part") + _RUN,
    "denoise": _SOURCE + ("output", "uncertainty", "flags", "report") + _MODEL
               + ("train_noisy", "train_clean", "noise") + SAMPLING + ("mean",) + _RUN,
    "superres": _SOURCE + ("output", "uncertainty", "flags", "report") + _MODEL + ("train_lr", "train_hr")
                + SAMPLING + ("mean",) + _RUN,
    "restore": _SOURCE + ("output", "masks") + _MODEL + ("artifacts", "sections") + _RUN,
    "validate": _SOURCE + ("methods", "out_dir", "init", "train_steps", "variant") + _RUN,
    "demo": ("out_dir", "factor", "methods", "train_steps", "variant") + _RUN,
}


def check_names(command: str, settings: Mapping, known) -> None:
  """A setting `command` does not take is a UserError naming the closest one it does."""
  for name in settings:
    if name not in known:
      close = difflib.get_close_matches(name, known, n=1)
      hint = f"; did you mean {close[0]}?" if close else f"; {command} takes: {', '.join(known)}"
      raise UserError(f"{name} is not a setting of {command}{hint}")


def make(command: str, **settings) -> Options:
  """The options of `command` from keyword settings (`check_names`)."""
  check_names(command, settings, COMMANDS[command])
  opts = Options(**settings)
  if isinstance(opts.config, Mapping):
    opts = opts.replace(config=dict(opts.config))
  else:
    raise UserError(f"config={opts.config!r} must map config fields to values, e.g. {{'data.crop': 64}}")
  return opts
