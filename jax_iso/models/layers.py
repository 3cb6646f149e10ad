"""Transformer layers shared by the window-attention models (A2I-3DEM now, EMformer later).

- `DepthwiseConv3x3`: a per-channel 3x3 convolution written as nine shifted multiply-adds with a hand-written
  gradient (on CPU XLA runs the grouped-convolution form 4x slower, and its own gradient of the shifted sums 2x).
- `FeedForward`: GLEN (A2I-3DEM's gated locally-enhanced feed-forward: two parallel linear paths, a depthwise
  3x3 convolution for locality, one path gating the other elementwise) or, with `gated=False`, Uformer's LeFF
  (linear, GELU, depthwise 3x3, GELU, linear), the ablation.
- `DropPath`: stochastic depth (a residual branch dropped per example while training).
- `TransformerBlock`: x + W-MSA(LN(x)), then + FeedForward(LN(.)); LayerNorm in float32 whatever the compute dtype.
- `VideoBlock`: the same on clips [B, T, H, W, C] with video window attention (`video_attention.py`: windows
  spanning frames, optional mutual attention between 2 frames); the feed-forward runs per frame.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.models.attention import WindowAttention
from jax_iso.models.video_attention import VideoWindowAttention


def _taps(x: jax.Array):
  """The nine zero-padded 3x3 neighbours of every pixel of [B, H, W, C], as (i, j, shifted map)."""
  h, w = x.shape[1:3]
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  return [(i, j, padded[:, i:i + h, j:j + w]) for i in range(3) for j in range(3)]


@jax.custom_vjp
def depthwise3x3(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """y[b, h, w, c] = sum_ij kernel[i, j, c] * x[b, h + i - 1, w + j - 1, c] (zero padding)."""
  out = jnp.zeros_like(x)
  for i, j, tap in _taps(x):
    out = out + tap * kernel[i, j]
  return out


def _depthwise_fwd(x, kernel):
  return depthwise3x3(x, kernel), (x, kernel)


def _depthwise_bwd(res, g):
  # Written out so that XLA keeps each gradient one fused pass: its own transpose of the shifted sums re-derives
  # the forward sum inside every consumer (measured 2x slower in GLEN on CPU).
  x, kernel = res
  grad_x = depthwise3x3(g, kernel[::-1, ::-1])
  grad_k = jnp.stack([jnp.einsum("bhwc,bhwc->c", tap, g, preferred_element_type=jnp.float32)
                      for _, _, tap in _taps(x)]).reshape(kernel.shape)      # summed over the map in float32
  return grad_x, grad_k.astype(kernel.dtype)


depthwise3x3.defvjp(_depthwise_fwd, _depthwise_bwd)


class DepthwiseConv3x3(nn.Module):
  """[B, H, W, C] -> [B, H, W, C]: a per-channel 3x3 convolution (zero padding) plus a bias."""
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c = x.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(in_axis=(0, 1), out_axis=2), (3, 3, c),
                        self.param_dtype)
    bias = self.param("bias", nn.initializers.zeros, (c,), self.param_dtype)
    return depthwise3x3(x.astype(self.dtype), kernel.astype(self.dtype)) + bias.astype(self.dtype)


class FeedForward(nn.Module):
  """GLEN (`gated=True`) or LeFF (`gated=False`) with `hidden` channels in the middle; `local=False` drops the
  depthwise convolutions (GLEN becomes GEGLU, VRT/IsoVEM's feed-forward)."""
  hidden: int
  gated: bool = True
  local: bool = True
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:  # [B, H, W, C]
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    if self.gated:   # two parallel paths (separate, not one split: XLA on CPU runs it 1.4x faster)
      value = nn.Dense(self.hidden, name="value", **kw)(x)
      gate = nn.Dense(self.hidden, name="gate", **kw)(x)
      if self.local:
        value = DepthwiseConv3x3(**kw, name="value_local")(value)
        gate = DepthwiseConv3x3(**kw, name="gate_local")(gate)
      h = nn.gelu(gate) * value
    else:
      h = nn.gelu(nn.Dense(self.hidden, name="expand", **kw)(x))
      if self.local:
        h = nn.gelu(DepthwiseConv3x3(**kw, name="local")(h))
    return nn.Dense(x.shape[-1], name="project", **kw)(h)


class DropPath(nn.Module):
  """Zeroes the whole branch of an example with probability `rate` while training (rescaling the kept ones);
  needs the 'dropout' rng when `deterministic` is False and `rate` > 0."""
  rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
    if deterministic or self.rate <= 0.0:
      return x
    keep = jax.random.bernoulli(self.make_rng("dropout"), 1.0 - self.rate, (x.shape[0],) + (1,) * (x.ndim - 1))
    return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))


class TransformerBlock(nn.Module):
  """Pre-norm block: x + DropPath(W-MSA(LN(x))), then + DropPath(FeedForward(LN(.)))."""
  heads: int
  window: int = 8
  shift: int = 0
  ffn_ratio: float = 2.0
  gated: bool = True
  drop_path: float = 0.0
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # [B, H, W, C]
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    norm = dict(dtype=jnp.float32, param_dtype=self.param_dtype)
    c = x.shape[-1]
    h = nn.LayerNorm(name="norm1", **norm)(x).astype(self.dtype)
    h = WindowAttention(self.heads, self.window, self.shift, name="attention", **kw)(h)
    x = x + DropPath(self.drop_path)(h, deterministic=not train).astype(x.dtype)
    h = nn.LayerNorm(name="norm2", **norm)(x).astype(self.dtype)
    h = FeedForward(max(1, int(round(self.ffn_ratio * c))), self.gated, name="ffn", **kw)(h)
    return x + DropPath(self.drop_path)(h, deterministic=not train).astype(x.dtype)


class VideoBlock(nn.Module):
  """Pre-norm block on clips: x + DropPath(video W-MSA(LN(x))), then + DropPath(FeedForward(LN(.))) per frame."""
  heads: int
  window: tuple[int, int, int] = (2, 8, 8)
  shift: tuple[int, int, int] = (0, 0, 0)
  mutual: bool = False
  ffn_ratio: float = 2.0
  gated: bool = True
  local: bool = True
  drop_path: float = 0.0
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # [B, T, H, W, C]
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    norm = dict(dtype=jnp.float32, param_dtype=self.param_dtype)
    b, t, hh, ww, c = x.shape
    h = nn.LayerNorm(name="norm1", **norm)(x).astype(self.dtype)
    h = VideoWindowAttention(self.heads, self.window, self.shift, self.mutual, name="attention", **kw)(h)
    x = x + DropPath(self.drop_path)(h, deterministic=not train).astype(x.dtype)
    h = nn.LayerNorm(name="norm2", **norm)(x).astype(self.dtype).reshape(b * t, hh, ww, c)
    h = FeedForward(max(1, int(round(self.ffn_ratio * c))), self.gated, self.local, name="ffn", **kw)(h)
    return x + DropPath(self.drop_path)(h.reshape(x.shape), deterministic=not train).astype(x.dtype)
