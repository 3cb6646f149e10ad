"""Uncertainty from repeated sampling: K samples per input in one batched call, their mean, spread and flags.

    cond_k = uncertainty.repeat(cond, k)                     # [B, ...] -> [K * B, ...] (sample-major)
    samples = uncertainty.unrepeat(sampler(cond_k, ...), k)  # [K * B, ...] -> [K, B, ...]
    mean, std, flags = uncertainty.summarize(samples, threshold=0.12)

The mean of the K samples is the prediction, their per-pixel standard deviation (numpy's, ddof=0, as the
EMDiffuse paper computes it) the uncertainty, and `flags` marks the pixels whose uncertainty exceeds `threshold`
(0.12 in the paper, for intensities in [0, 1]: pass samples on that scale).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

DEFAULT_THRESHOLD = 0.12


def repeat(x: jax.Array, k: int) -> jax.Array:
  """[B, ...] -> [K * B, ...]: K copies of the batch, one after the other."""
  if k < 1:
    raise ValueError(f"need at least one sample per input, got {k}")
  return jnp.concatenate([x] * k, axis=0) if k > 1 else x


def unrepeat(x: jax.Array, k: int) -> jax.Array:
  """[K * B, ...] -> [K, B, ...] (inverse of `repeat`'s layout)."""
  if x.shape[0] % k:
    raise ValueError(f"a batch of {x.shape[0]} is not {k} samples of equal size")
  return x.reshape((k, x.shape[0] // k) + x.shape[1:])


def summarize(samples: jax.Array, threshold: float = DEFAULT_THRESHOLD) -> tuple[jax.Array, jax.Array, jax.Array]:
  """(mean, std, std > threshold) over the first axis of [K, ...] samples (K >= 2), in float32."""
  if samples.shape[0] < 2:
    raise ValueError(f"an uncertainty needs at least 2 samples per input, got {samples.shape[0]}")
  samples = samples.astype(jnp.float32)
  shift = samples[0]                   # deviations from one sample: exact zeros where all samples agree
  dev = samples - shift
  mean_dev = dev.mean(axis=0)
  std = jnp.sqrt(jnp.maximum(jnp.mean(dev ** 2, axis=0) - mean_dev ** 2, 0.0))
  return shift + mean_dev, std, std > threshold
