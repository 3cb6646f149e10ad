"""A degradation pipeline built from a config: ordered ops, each applied with its probability.

    cfg = degrade.config.acquisition()            # an ml_collections.ConfigDict
    pipe = degrade.Pipeline.from_config(cfg)
    y, aux = pipe(key, x)                         # one example (shared draws over leading axes)
    ys, auxs = pipe.batched(key, xs)              # a batch: independent draws per example (vmap)

`cfg.order` names the ops in the order they run; `cfg.ops.NAME` holds `prob` (chance the op runs) and the op's
keyword parameters (ranges); `cfg.clip` clips the result to [0, 1] as a stored image would be. Ops not in
`order` are ignored, so one config can carry every op's defaults. The whole pipeline is one pure function of
(key, x): jit it, vmap it, or call it inside a train step. aux[NAME] holds what each op drew plus 'applied';
the non-scalar entries (masks, flows, shifts) are zero where the op did not run.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from jax_iso.degrade import axial, checks, fold, intensity, lateral, noise, precipitates, sections

OPS: dict[str, Callable] = {
    "gaussian_noise": noise.gaussian_noise,
    "poisson_gaussian_noise": noise.poisson_gaussian_noise,
    "scan_line_noise": noise.scan_line_noise,
    "correlated_noise": noise.correlated_noise,
    "gaussian_blur": intensity.gaussian_blur,
    "intensity_jitter": intensity.intensity_jitter,
    "illumination": intensity.illumination,
    "missing_sections": sections.missing_sections,
    "misalignment": sections.misalignment,
    "fold": fold.fold,
    "precipitates": precipitates.precipitates,
    "lateral_undersample": lateral.lateral_undersample,
    "axial_sections": axial.axial_sections,
}
"""Every op a pipeline can run, by name (all follow the contract in `jax_iso.degrade.checks`)."""

SHAPE_CHANGING = ("axial_sections",)  # the pair makers call it themselves; a pipeline keeps shapes


def op_params(name: str) -> dict:
  """The keyword parameters of op `name` with their defaults (None where it has none), from its signature."""
  sig = inspect.signature(OPS[name])
  return {p.name: None if p.default is inspect.Parameter.empty else p.default
          for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


@dataclasses.dataclass(frozen=True)
class Step:
  name: str
  prob: float
  params: tuple[tuple[str, object], ...]  # hashable keyword parameters

  @property
  def op(self) -> Callable:
    return functools.partial(OPS[self.name], **dict(self.params))


def _hashable(value):
  if isinstance(value, (list, tuple)):
    return tuple(_hashable(v) for v in value)
  return value


@dataclasses.dataclass(frozen=True)
class Pipeline:
  """Ordered degradation steps; call it as `pipeline(key, x) -> (y, aux)`."""
  steps: tuple[Step, ...]
  clip: bool = True

  @classmethod
  def from_config(cls, cfg: Mapping) -> Pipeline:
    """Builds a pipeline from a ConfigDict (or dict) with `order`, `ops` and `clip`."""
    order = tuple(cfg["order"])
    ops = cfg["ops"]
    steps = []
    for name in order:
      if name not in OPS or name in SHAPE_CHANGING:
        known = ", ".join(n for n in OPS if n not in SHAPE_CHANGING)
        raise ValueError(f"unknown degradation {name!r} in order; known: {known}")
      if name not in ops:
        raise ValueError(f"degradation {name!r} is in order but has no entry in ops")
      params = dict(ops[name])
      prob = float(params.pop("prob", 1.0))
      unknown = sorted(set(params) - set(op_params(name)))
      if unknown:
        raise ValueError(f"ops.{name} has unknown parameter(s) {', '.join(unknown)}; known: "
                         f"prob, {', '.join(op_params(name))}")
      if not 0.0 <= prob <= 1.0:
        raise ValueError(f"ops.{name}.prob={prob} must be in [0, 1]")
      steps.append(Step(name, prob, tuple(sorted((k, _hashable(v)) for k, v in params.items()))))
    return cls(tuple(steps), bool(cfg.get("clip", True)))

  def __call__(self, key: jax.Array, x: jax.Array) -> tuple[jax.Array, dict]:
    x = checks.check_float(x)
    aux = {}
    for i, step in enumerate(self.steps):
      k_apply, k_op = jax.random.split(jax.random.fold_in(key, i))
      y, drawn = step.op(k_op, x)
      if step.prob >= 1.0:
        applied = jnp.ones((), jnp.bool_)
      else:
        applied = jax.random.uniform(k_apply) < step.prob
        y = jnp.where(applied, y, x)
        drawn = {k: (v if jnp.ndim(v) == 0 else v * applied.astype(jnp.asarray(v).dtype))
                 for k, v in drawn.items()}
      aux[step.name] = {**drawn, "applied": applied}
      x = y
    if self.clip:
      x = jnp.clip(x, 0.0, 1.0)
    return x, aux

  def batched(self, key: jax.Array, xs: jax.Array) -> tuple[jax.Array, dict]:
    """Applies the pipeline to each example of `xs` ([B, ...]) with its own key (independent draws)."""
    keys = jax.random.split(key, xs.shape[0])
    return jax.vmap(self)(keys, xs)
