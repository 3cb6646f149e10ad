"""Whole-volume reconstruction: interpolation baselines (and, later, learned models), streamed in slabs."""
from jax_iso.infer.interpolate import METHODS as INTERPOLATION_METHODS
from jax_iso.infer.interpolate import interp_weights, keys_cubic, resample_z
from jax_iso.infer.volume import interpolate_volume
