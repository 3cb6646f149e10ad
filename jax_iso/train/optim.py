"""Optimizer and learning-rate schedule from the config's `optim` section (optax), and frozen modules
(`train.frozen`: parameters that get no update, e.g. a stage trained before)."""
from __future__ import annotations

import re
from collections.abc import Mapping

import jax
import optax

from jax_iso.errors import UserError

SCHEDULES = ("constant", "cosine", "linear")
OPTIMIZERS = ("adam", "adamw")


def make_schedule(cfg: Mapping, steps: int) -> optax.Schedule:
  """Linear warm-up over `warmup_steps`, then constant, cosine or linear decay to `lr * end_fraction`."""
  lr, warmup = float(cfg["lr"]), int(cfg.get("warmup_steps", 0))
  name = cfg.get("schedule", "cosine")
  if name not in SCHEDULES:
    raise UserError(f"optim.schedule={name!r} is unknown; choose one of {', '.join(SCHEDULES)}")
  if not lr > 0:
    raise UserError(f"optim.lr={lr} must be > 0 (e.g. 4e-4)")
  warmup = min(warmup, max(steps - 1, 0))
  end = lr * float(cfg.get("end_fraction", 0.0))
  decay_steps = max(steps - warmup, 1)
  if name == "constant":
    after = optax.constant_schedule(lr)
  elif name == "cosine":
    after = optax.cosine_decay_schedule(lr, decay_steps, alpha=end / lr)
  else:
    after = optax.linear_schedule(lr, end, decay_steps)
  if warmup == 0:
    return after
  return optax.join_schedules([optax.linear_schedule(lr / warmup, lr, warmup), after], [warmup])


def make_optimizer(cfg: Mapping, steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  """(optimizer, schedule): optional global-norm clipping, then Adam or AdamW."""
  name = cfg.get("name", "adam")
  if name not in OPTIMIZERS:
    raise UserError(f"optim.name={name!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
  schedule = make_schedule(cfg, steps)
  b1, b2 = float(cfg.get("b1", 0.9)), float(cfg.get("b2", 0.999))
  if name == "adam":
    opt = optax.adam(schedule, b1=b1, b2=b2)
  else:
    opt = optax.adamw(schedule, b1=b1, b2=b2, weight_decay=float(cfg.get("weight_decay", 1e-4)))
  clip = float(cfg.get("grad_clip", 0.0))
  return (optax.chain(optax.clip_by_global_norm(clip), opt) if clip > 0 else opt), schedule


def param_path(path) -> str:
  """'params/Conv_0/kernel' for a parameter's key path."""
  return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def freeze(optimizer: optax.GradientTransformation, patterns: tuple[str, ...],
           abstract_params) -> optax.GradientTransformation:
  """`optimizer` for the parameters whose path matches none of `patterns` (regular expressions matched against
  the whole path, e.g. "params/interp/.*"); the others get no update (and no optimizer state). A pattern that
  matches no parameter, or one that matches them all, is a UserError."""
  if not patterns:
    return optimizer
  compiled = []
  for p in patterns:
    try:
      compiled.append(re.compile(p))
    except re.error as err:
      raise UserError(f"train.frozen pattern {p!r} is not a regular expression ({err})") from None
  paths = [param_path(path) for path, _ in jax.tree_util.tree_flatten_with_path(abstract_params)[0]]
  for p, regex in zip(patterns, compiled):
    if not any(regex.fullmatch(path) for path in paths):
      raise UserError(f"train.frozen pattern {p!r} matches no parameter; parameter paths look like "
                      f"{paths[0]!r} ({len(paths)} in all)")
  if all(any(r.fullmatch(path) for r in compiled) for path in paths):
    raise UserError(f"train.frozen={tuple(patterns)} freezes every parameter; nothing would train")

  def labels(params):
    return jax.tree_util.tree_map_with_path(
        lambda path, _: "frozen" if any(r.fullmatch(param_path(path)) for r in compiled) else "trained", params)

  return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()}, labels)
