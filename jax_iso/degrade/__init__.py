"""Pure, keyed, jit/vmap-able degradations of EM images and volumes (jax.numpy), and training-pair makers.

Every op follows the contract in `jax_iso.degrade.checks`: `op(key, x, *, params) -> (y, aux)`. The ops live in
their modules (`axial`, `lateral`, `noise`, `intensity`, `sections`, `fold`, `precipitates`), all registered by
name in `pipeline.OPS`; `config` holds their defaults and the pair presets; `pairs` makes training pairs.
"""
from jax_iso.degrade import axial, checks, fold, grid, intensity, lateral, noise, pairs, pipeline, precipitates
from jax_iso.degrade import resample, sections
from jax_iso.degrade.axial import PROFILES, simulate_axial
from jax_iso.degrade.grid import fine_count, section_centre, section_count
from jax_iso.degrade.pairs import make_batch_fn, make_pair_fn
from jax_iso.degrade.pipeline import OPS, Pipeline
