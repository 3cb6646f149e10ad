"""Flag helpers shared by the `jax-iso` subcommands."""
from __future__ import annotations

from absl import flags

from jax_iso import io


def define_volume_selection(fv: flags.FlagValues) -> None:
  """--channel and --timepoint: pick one 3D volume out of a 4D/5D file."""
  flags.DEFINE_integer("channel", None, "Channel (C axis) to use in a multi-channel file, from 0.", flag_values=fv)
  flags.DEFINE_integer("timepoint", None, "Time point (T axis) to use in a time series, from 0.", flag_values=fv)


def define_spacing(fv: flags.FlagValues, help_text: str) -> None:
  flags.DEFINE_string("spacing", None, help_text, flag_values=fv)


def spacing(fv: flags.FlagValues):
  """The parsed --spacing as (z, y, x) nm, or None."""
  return None if fv.spacing is None else io.parse_spacing(fv.spacing)


def volume_selection(fv: flags.FlagValues) -> dict:
  return {"channel": fv.channel, "timepoint": fv.timepoint}


def shape_str(shape) -> str:
  return " x ".join(str(n) for n in shape)


def spacing_str(spacing) -> str:
  return "unknown" if spacing is None else ",".join(f"{s:g}" for s in spacing) + " nm"


def define_clip_outputs(fv: flags.FlagValues) -> None:
  """--inpaint and --uncertainty (methods whose inference offers them: emformer)."""
  flags.DEFINE_string("inpaint", None, "emformer: fill lost sections before the isotropic pass: 'auto' (detect "
                      "blank and outlier sections, and print them) or section indices of the input, e.g. 12,57.",
                      flag_values=fv)
  flags.DEFINE_string("uncertainty", None, "emformer: also write the standard deviation of the 8 test-time "
                      "orientations on the output grid to this path (float32, the output's units).",
                      flag_values=fv)


def print_clip_outputs(out: dict) -> None:
  """What --inpaint and --uncertainty did, one line each."""
  strategy = out.get("strategy") or {}
  if strategy.get("inpainted"):
    print(f"inpainted section(s) {', '.join(str(k) for k in strategy['inpainted'])} before the isotropic pass")
  if strategy.get("uncertainty"):
    print(f"wrote {strategy['uncertainty']}: standard deviation of {strategy['orientations']} orientations")
