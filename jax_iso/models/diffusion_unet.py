"""The SR3/Palette conditional U-Net of EMDiffuse (guided-diffusion's UNet as the reference configures it).

    net = DiffusionUNet(base=32, mults=(1, 2, 4, 8), res_blocks=2)
    out = net.apply(params, x, level, train=False, rngs=...)
    # x: [B, H, W, C_in] = the condition's channels then the noisy target's; level: [B] the noise level
    # (log SNR); out: [B, H, W, out_channels] (what the diffusion objective asks: noise, v or x0)

Levels: at level i the width is base * mults[i]; `res_blocks` residual blocks a level on the way down and
res_blocks + 1 on the way up (each taking a skip by concatenation); between levels a residual block that
average-pools (down) or nearest-upsamples (up). Residual block: GroupNorm, SiLU, conv 3x3, FiLM from the noise
embedding (scale and shift after the second GroupNorm), SiLU, dropout, conv 3x3 (zero-initialised), plus the
input (1x1 conv when the width changes). Middle: residual block, self-attention over all positions (heads of
`head_channels`), residual block; `attn_levels` adds attention after the blocks of those levels. The noise level
enters as a sinusoidal embedding of `level_scale * level` and a 2-layer MLP (SiLU). Output: GroupNorm, SiLU,
zero-initialised conv 3x3. The network never sees the schedule, only the noise level.

`norm="pixel"` replaces every GroupNorm by a LayerNorm over each pixel's channels: GroupNorm's statistics over
the whole input make each tile's output depend on the tile's extent and content, so two tilings of one image
disagreed by 5/255 on average everywhere (tests/infer/test_diffusion_tiles.py); with per-pixel statistics they
agree to 0.04/255. `middle_attention=False` drops the middle block's (tile-wide) attention. The 3x3
convolutions are `conv.Conv3x3` (nn.Conv's parameters; a kernel gradient XLA runs 2x faster on CPU).

`position=True` (vEMDiffuse): the last condition channel is a constant map of the generated slice's position
between its two neighbours, a real number in [0, 1] (any factor, not an index out of a fixed count). The network
reads its mean, embeds `position_scale * position` sinusoidally through its own 2-layer MLP and adds it to the
noise embedding, so it reaches every block's FiLM; as an input channel the position travels with the condition
through tiling, batching and sharding unchanged.

`factor_input=True` (one vEMDiffuse model for every factor, `degrade.pairs.between_pair` with `factors`): the last
condition channel is a constant map of log s, the anisotropy factor (the position moves one channel back). It is
read and embedded the same way (`factor_scale`, its own MLP) and added to the embedding. Off, no parameter changes.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.models.conv import Conv3x3


def sinusoidal(level: jax.Array, dim: int, max_period: float = 10000.0) -> jax.Array:
  """[B] -> [B, dim]: cos and sin of level x frequencies from 1 down to 1 / max_period (guided-diffusion)."""
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
  args = level.astype(jnp.float32)[:, None] * freqs[None]
  emb = jnp.concatenate([jnp.cos(args), jnp.sin(args)], axis=-1)
  return jnp.pad(emb, ((0, 0), (0, dim % 2)))


def _groups(channels: int, groups: int) -> int:
  """The largest group count <= `groups` that divides `channels`."""
  return max(g for g in range(1, min(groups, channels) + 1) if channels % g == 0)


def _norm(kind: str, channels: int, groups: int, param_dtype, name: str) -> nn.Module:
  """GroupNorm (statistics over the image: the reference) or a per-pixel LayerNorm over the channels ("pixel":
  an output that depends on the neighbourhood only, not on the extent of the tile)."""
  if kind == "pixel":
    return nn.LayerNorm(dtype=jnp.float32, param_dtype=param_dtype, name=name)
  return nn.GroupNorm(_groups(channels, groups), dtype=jnp.float32, param_dtype=param_dtype, name=name)


class ResBlock(nn.Module):
  features: int
  groups: int
  dropout: float
  resample: str = "none"       # "none", "down" (2x average pooling) or "up" (2x nearest)
  norm: str = "group"
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x, emb, train: bool):
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    norm = lambda name, c: _norm(self.norm, c, self.groups, self.param_dtype, name)
    h = nn.silu(norm("norm1", x.shape[-1])(x)).astype(self.dtype)
    if self.resample == "down":
      h, x = (nn.avg_pool(a, (2, 2), (2, 2)) for a in (h, x))
    elif self.resample == "up":
      h, x = (jnp.repeat(jnp.repeat(a, 2, axis=1), 2, axis=2) for a in (h, x))
    h = Conv3x3(self.features, name="conv1", **kw)(h)
    scale, shift = jnp.split(nn.Dense(2 * self.features, name="film", **kw)(nn.silu(emb)), 2, axis=-1)
    h = norm("norm2", self.features)(h) * (1.0 + scale[:, None, None]) + shift[:, None, None]
    h = nn.Dropout(self.dropout, deterministic=not train)(nn.silu(h)).astype(self.dtype)
    h = Conv3x3(self.features, kernel_init=nn.initializers.zeros, name="conv2", **kw)(h)
    if x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), name="skip", **kw)(x)
    return x.astype(jnp.float32) + h.astype(jnp.float32)


class AttentionBlock(nn.Module):
  head_channels: int
  groups: int
  norm: str = "group"
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    b, hh, ww, c = x.shape
    heads = max(1, c // self.head_channels)
    h = _norm(self.norm, c, self.groups, self.param_dtype, "norm")(x)
    h = h.astype(self.dtype).reshape(b, hh * ww, c)
    h = nn.MultiHeadDotProductAttention(heads, dtype=self.dtype, param_dtype=self.param_dtype,
                                        out_kernel_init=nn.initializers.zeros, force_fp32_for_softmax=True,
                                        name="attention")(h, h)
    return x + h.reshape(b, hh, ww, c).astype(x.dtype)


def position_of(x: jax.Array, out_channels: int = 1, after: int = 0) -> jax.Array:
  """[B] the position a network input [B, H, W, C] carries: the mean of its last condition channel (channel
  C - out_channels - 1; the noisy target's `out_channels` follow it), or of the one `after` channels before it
  (`factor_input`: the factor's channel follows the position's)."""
  return x[..., x.shape[-1] - out_channels - after - 1].astype(jnp.float32).mean(axis=(1, 2))


class DiffusionUNet(nn.Module):
  base: int = 32
  mults: tuple[int, ...] = (1, 2, 4, 8)
  res_blocks: int = 2
  attn_levels: tuple[int, ...] = ()
  head_channels: int = 32
  groups: int = 32
  dropout: float = 0.2
  norm: str = "group"           # "group" (the reference) or "pixel" (tile-independent)
  middle_attention: bool = True
  out_channels: int = 1
  level_scale: float = 50.0     # log SNR (about -12..14) x 50: the range of DDPM's step indices
  position: bool = False        # the last condition channel holds the generated slice's position in [0, 1]
  position_scale: float = 10.0  # position x 10: at most 10 radians per unit, so nearby positions embed alike
  factor_input: bool = False    # the last condition channel holds log s, the anisotropy (every factor, one model)
  factor_scale: float = 10.0    # the factor channel's value x 10, embedded as the position is
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  def problems(self) -> list[str]:
    out = []
    if self.base < 1:
      out.append(f"base={self.base} must be >= 1")
    if not self.mults or min(self.mults) < 1:
      out.append(f"mults={tuple(self.mults)} must be one or more multipliers >= 1")
    if self.res_blocks < 1:
      out.append(f"res_blocks={self.res_blocks} must be >= 1")
    if not 0.0 <= self.dropout < 1.0:
      out.append(f"dropout={self.dropout} must be in [0, 1)")
    if self.norm not in ("group", "pixel"):
      out.append(f"norm={self.norm!r} must be 'group' or 'pixel'")
    if self.position and not self.position_scale > 0:
      out.append(f"position_scale={self.position_scale} must be > 0")
    if self.factor_input and not self.factor_scale > 0:
      out.append(f"factor_scale={self.factor_scale} must be > 0")
    if any(not 0 <= lvl < len(self.mults) for lvl in self.attn_levels):
      out.append(f"attn_levels={tuple(self.attn_levels)} must be levels 0..{len(self.mults) - 1}")
    return out

  @property
  def multiple(self) -> int:
    """Input sizes must be multiples of this."""
    return 2 ** (len(self.mults) - 1)

  def example_inputs(self, shape: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """(x, level) zeros for a batch of conditions of `shape` ([B, H, W] or [B, H, W, C]): what `init` takes."""
    cond = tuple(shape) + (1,) if len(shape) == 3 else tuple(shape)
    return jnp.zeros(cond[:-1] + (cond[-1] + self.out_channels,), jnp.float32), jnp.zeros(cond[:1], jnp.float32)

  @nn.compact
  def __call__(self, x: jax.Array, level: jax.Array, train: bool = False) -> jax.Array:
    if x.shape[1] % self.multiple or x.shape[2] % self.multiple:
      raise ValueError(f"DiffusionUNet with {len(self.mults)} levels needs H and W divisible by {self.multiple}, "
                       f"got {x.shape}")
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    block = dict(groups=self.groups, dropout=self.dropout, norm=self.norm, **kw)
    attend = lambda name, h: AttentionBlock(self.head_channels, self.groups, self.norm, name=name, **kw)(h)
    emb_dim = 4 * self.base
    emb = sinusoidal(self.level_scale * level, self.base)
    emb = nn.Dense(emb_dim, name="embed1", **kw)(emb)
    emb = nn.Dense(emb_dim, name="embed2", **kw)(nn.silu(emb))
    after = int(self.factor_input)                    # the factor's channel follows the position's
    for on, name, scale, back in ((self.position, "position", self.position_scale, after),
                                  (self.factor_input, "factor", self.factor_scale, 0)):
      if on:
        value = sinusoidal(scale * position_of(x, self.out_channels, back), self.base)
        value = nn.Dense(emb_dim, name=f"{name}1", **kw)(value)
        emb = emb + nn.Dense(emb_dim, name=f"{name}2", **kw)(nn.silu(value))

    h = Conv3x3(self.base * self.mults[0], name="stem", **kw)(x.astype(self.dtype)).astype(jnp.float32)
    skips = [h]
    for i, mult in enumerate(self.mults):
      for j in range(self.res_blocks):
        h = ResBlock(self.base * mult, name=f"down{i}_{j}", **block)(h, emb, train)
        if i in self.attn_levels:
          h = attend(f"down{i}_{j}_attention", h)
        skips.append(h)
      if i < len(self.mults) - 1:
        h = ResBlock(h.shape[-1], resample="down", name=f"down{i}_pool", **block)(h, emb, train)
        skips.append(h)
    h = ResBlock(h.shape[-1], name="middle1", **block)(h, emb, train)
    if self.middle_attention:
      h = attend("middle_attention", h)
    h = ResBlock(h.shape[-1], name="middle2", **block)(h, emb, train)
    for i, mult in reversed(list(enumerate(self.mults))):
      for j in range(self.res_blocks + 1):
        h = jnp.concatenate([h, skips.pop()], axis=-1)
        h = ResBlock(self.base * mult, name=f"up{i}_{j}", **block)(h, emb, train)
        if i in self.attn_levels:
          h = attend(f"up{i}_{j}_attention", h)
      if i > 0:
        h = ResBlock(h.shape[-1], resample="up", name=f"up{i}_upsample", **block)(h, emb, train)
    h = nn.silu(_norm(self.norm, h.shape[-1], self.groups, self.param_dtype, "out_norm")(h))
    # the output head in float32, as every model's: what the loss compares is not rounded to the compute dtype
    out = Conv3x3(self.out_channels, kernel_init=nn.initializers.zeros, dtype=jnp.float32,
                  param_dtype=self.param_dtype, name="out")(h)
    return out
