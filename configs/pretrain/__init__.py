"""Pretraining recipes: configs for the models that ship in jax_iso/pretrained/ (trained for hours on several volumes)."""
