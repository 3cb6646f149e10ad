"""Window multi-head self-attention (W-MSA, Liu et al. 2021 / Uformer) on channels-last feature maps.

    attn = WindowAttention(heads=4, window=8, shift=0)
    y = attn(x)          # x, y: [B, H, W, C], H and W multiples of `window`

The map is cut into non-overlapping `window` x `window` windows; every token attends to the tokens of its own
window, with a learned bias per head for each relative offset (a (2M-1)^2 table). With `shift` > 0 the map is
rolled by -shift first (Swin's shifted windows) and tokens that the roll brought together from opposite edges
are masked from each other, so no token sees across the image border.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

MASKED = -1e9   # logit of a masked pair (the softmax runs in float32)


def window_partition(x: jax.Array, window: int) -> jax.Array:
  """[B, H, W, C] -> [B * H/M * W/M, M*M, C], windows in row-major order, tokens row-major inside."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // window, window, w // window, window, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(-1, window * window, c)


def window_merge(windows: jax.Array, window: int, height: int, width: int) -> jax.Array:
  """Inverse of `window_partition`: [B * nW, M*M, C] -> [B, H, W, C]."""
  c = windows.shape[-1]
  x = windows.reshape(-1, height // window, width // window, window, window, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(-1, height, width, c)


def relative_position_index(window: int) -> np.ndarray:
  """[M*M, M*M] index into the (2M-1)^2 bias table of the offset (dy, dx) from token j to token i."""
  ys, xs = np.meshgrid(np.arange(window), np.arange(window), indexing="ij")
  coords = np.stack([ys.ravel(), xs.ravel()])                   # [2, M*M]
  rel = coords[:, :, None] - coords[:, None, :] + window - 1    # [2, M*M, M*M], each in [0, 2M-2]
  return (rel[0] * (2 * window - 1) + rel[1]).astype(np.int32)


def shift_mask(height: int, width: int, window: int, shift: int) -> np.ndarray | None:
  """[nW, M*M, M*M] additive mask (0 or MASKED) of the rolled map's windows, or None without a shift.

  After rolling by -shift, the last window along an axis holds the first `shift` rows next to the last
  `window - shift`; they are labelled as different regions and may not attend to each other.
  """
  if not shift:
    return None
  labels = np.zeros((height, width), np.int32)
  bounds = ((0, -window), (-window, -shift), (-shift, None))
  region = 0
  for ys in bounds:
    for xs in bounds:
      labels[slice(*ys), slice(*xs)] = region
      region += 1
  windows = window_partition(labels[None, :, :, None], window)[..., 0]   # [nW, M*M]
  same = windows[:, :, None] == windows[:, None, :]
  return np.where(same, 0.0, MASKED).astype(np.float32)


class WindowAttention(nn.Module):
  """W-MSA with relative position bias (and shifted windows when `shift` > 0)."""
  heads: int
  window: int = 8
  shift: int = 0
  dtype: jnp.dtype = jnp.float32        # compute dtype of the projections and products
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:  # [B, H, W, C]
    b, h, w, c = x.shape
    m, heads = self.window, self.heads
    if h % m or w % m:
      raise ValueError(f"WindowAttention(window={m}) needs H and W divisible by {m}, got {x.shape}")
    if c % heads:
      raise ValueError(f"{c} channels cannot be split into {heads} heads")
    shift = self.shift if min(h, w) > m else 0    # one window covers the map: nothing to shift
    if shift:
      x = jnp.roll(x, (-shift, -shift), axis=(1, 2))
    tokens = window_partition(x, m)                                          # [Bn, N, C]
    qkv = nn.Dense(3 * c, dtype=self.dtype, param_dtype=self.param_dtype, name="qkv")(tokens)
    qkv = qkv.reshape(tokens.shape[0], m * m, 3, heads, c // heads)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))        # [Bn, heads, N, d]
    logits = jnp.einsum("bhnd,bhmd->bhnm", q * (c // heads) ** -0.5, k, preferred_element_type=jnp.float32)
    table = self.param("relative_position_bias", nn.initializers.truncated_normal(0.02),
                       ((2 * m - 1) ** 2, heads), self.param_dtype)
    bias = table[relative_position_index(m)].transpose(2, 0, 1)              # [heads, N, N]
    logits = logits + bias.astype(jnp.float32)
    mask = shift_mask(h, w, m, shift)
    if mask is not None:
      n_win = mask.shape[0]
      logits = logits.reshape(b, n_win, heads, m * m, m * m) + mask[None, :, None]
      logits = logits.reshape(b * n_win, heads, m * m, m * m)
    weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
    out = jnp.einsum("bhnm,bhmd->bhnd", weights, v).transpose(0, 2, 1, 3).reshape(tokens.shape[0], m * m, c)
    out = nn.Dense(c, dtype=self.dtype, param_dtype=self.param_dtype, name="proj")(out)
    out = window_merge(out, m, h, w)
    if shift:
      out = jnp.roll(out, (shift, shift), axis=(1, 2))
    return out
