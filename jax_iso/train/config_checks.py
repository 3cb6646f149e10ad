"""Checks of a training config's values, each failing with one line that names the field and the fix."""
from __future__ import annotations

from collections.abc import Mapping

from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.train import section_noise
from jax_iso.train.step import LOSSES

FUSIONS = ("mean", "geometric", "xz", "yz")


def check(config: Mapping, multiple: int) -> None:
  """Raises UserError for values no run could use; `multiple` is the model's required size multiple."""
  data, train = config["data"], config["train"]
  if int(data["crop"]) < multiple or int(data["crop"]) % multiple:
    raise UserError(f"data.crop={data['crop']} must be a positive multiple of {multiple} for this model; "
                    f"e.g. --config.data.crop={max(multiple, int(data['crop']) // multiple * multiple)}")
  if int(data["batch_size"]) < 1:
    raise UserError(f"data.batch_size={data['batch_size']} must be >= 1")
  if not 0.0 <= float(data["holdout"]) < 1.0:
    raise UserError(f"data.holdout={data['holdout']} must be a fraction in [0, 1)")
  if int(train["steps"]) < 1:
    raise UserError(f"train.steps={train['steps']} must be >= 1")
  for name in ("log_every", "eval_every", "checkpoint_every", "keep"):
    if int(train[name]) < 1:
      raise UserError(f"train.{name}={train[name]} must be >= 1")
  if not 0.0 <= float(train["ema"]) < 1.0:
    raise UserError(f"train.ema={train['ema']} must be in [0, 1) (0 turns the moving average off)")
  if config["loss"] not in LOSSES:
    raise UserError(f"loss={config['loss']!r} is unknown; choose one of {', '.join(LOSSES)}")
  if config["pairs"]["kind"] not in pairs.PAIR_MAKERS:
    raise UserError(f"pairs.kind={config['pairs']['kind']!r} is unknown; choose one of "
                    f"{', '.join(pairs.PAIR_MAKERS)}")
  section_noise.check(config.get("section_noise", "off"))
  _check_pdl(config.get("pdl"))
  infer = config["infer"]
  if infer["fuse"] not in FUSIONS:
    raise UserError(f"infer.fuse={infer['fuse']!r} is unknown; choose one of {', '.join(FUSIONS)}")
  for name in ("tile", "batch_size"):
    if int(infer[name]) < 1:
      raise UserError(f"infer.{name}={infer[name]} must be >= 1")
  if int(infer["overlap"]) < 0 or int(infer["margin"]) < 0 or 2 * int(infer["overlap"]) >= int(infer["tile"]):
    raise UserError(f"infer.overlap={infer['overlap']} and infer.margin={infer['margin']} must be >= 0 with "
                    f"2 * overlap < tile ({infer['tile']})")


def _check_pdl(pdl) -> None:
  """The optional projected-distribution-loss section: weight >= 0, odd patch, projections >= 0."""
  if pdl is None:
    return
  if float(pdl["weight"]) < 0:
    raise UserError(f"pdl.weight={pdl['weight']} must be >= 0 (0 turns the projected distribution loss off)")
  if int(pdl["patch"]) < 1 or int(pdl["patch"]) % 2 == 0:
    raise UserError(f"pdl.patch={pdl['patch']} must be an odd neighbourhood size >= 1 (1: pixel values only)")
  if int(pdl["projections"]) < 0:
    raise UserError(f"pdl.projections={pdl['projections']} must be >= 0")
