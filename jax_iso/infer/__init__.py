"""Whole-volume reconstruction: interpolation baselines (and, later, learned models), streamed in slabs.

The resampling math lives in `jax_iso.degrade.resample`, shared with the training-pair makers.
"""
from jax_iso.degrade.resample import METHODS as INTERPOLATION_METHODS
from jax_iso.degrade.resample import interp_weights, keys_cubic
from jax_iso.degrade.resample import resample as resample_z
from jax_iso.infer.volume import interpolate_volume
