"""Projected distribution loss (PDL; Delbracio, Talebi & Milanfar 2020), A2I-3DEM's second loss term.

    loss = pdl(pred, target, key, patch=3, projections=8)     # pred, target: [B, H, W] -> [B]

For each image, the distribution of its pixel values and (with `projections` > 0) of `projections` random unit
projections of its `patch` x `patch` neighbourhoods (random linear filters: the "feature" distributions) is
compared with the target's by the 1-D Wasserstein-1 distance, which for two equally sized samples is the mean
absolute difference of the sorted values. The distances are averaged over the projections. Pixel-wise losses
(L1) leave the output's histogram free to be narrower (smoother) than the target's; PDL penalises exactly that.
The directions are drawn from `key` at every step (a sliced Wasserstein estimate), the same for both images.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _projected(x: jax.Array, directions: jax.Array | None, patch: int) -> jax.Array:
  """[B, H, W] -> [B, N, 1 + K]: the pixel values and their neighbourhoods' projections (valid positions)."""
  b, h, w = x.shape
  pixels = x[:, patch // 2:h - patch // 2, patch // 2:w - patch // 2].reshape(b, -1, 1)
  if directions is None:
    return pixels
  patches = jax.lax.conv_general_dilated_patches(x[:, None], (patch, patch), (1, 1), "VALID")  # [B, p*p, h', w']
  feats = jnp.einsum("bphw,pk->bhwk", patches, directions).reshape(b, -1, directions.shape[1])
  return jnp.concatenate([pixels, feats], axis=-1)


def pdl(pred: jax.Array, target: jax.Array, key: jax.Array, *, patch: int = 3, projections: int = 8) -> jax.Array:
  """[B] mean 1-D Wasserstein-1 distance between the projected distributions of pred and target (per image)."""
  if pred.shape != target.shape or pred.ndim != 3:
    raise ValueError(f"pdl needs two [B, H, W] images of one shape, got {pred.shape} and {target.shape}")
  directions = None
  if projections > 0 and patch > 1:
    directions = jax.random.normal(key, (patch * patch, projections), jnp.float32)
    directions = directions / jnp.linalg.norm(directions, axis=0, keepdims=True)
  p = jnp.sort(_projected(pred.astype(jnp.float32), directions, patch), axis=1)
  t = jnp.sort(_projected(target.astype(jnp.float32), directions, patch), axis=1)
  return jnp.abs(p - t).mean(axis=(1, 2))
