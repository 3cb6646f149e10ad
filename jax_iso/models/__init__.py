"""Flax linen models. They know nothing of data, degradations or losses: images in, images out."""
from jax_iso.models.registry import build_model, example_inputs, init_params, MODELS
