"""A2I-3DEM (Khateri et al.): a U-shaped window transformer that super-resolves axial planes.

    conv 3x3 stem (1 -> C, LeakyReLU)                                       X0 [B, H, W, C]
    encoder level i < K:  blocks(depths[i], heads[i]) at C*2^i, skip, down (C*2^i -> C*2^(i+1), H/2)
    bottleneck:           blocks(depths[K], heads[K]) at C*2^K
    decoder level i:      up (-> C*2^i, 2H), concat skip, linear (-> C*2^i), blocks(depths[2K-i], heads[2K-i])
    head:                 conv 3x3 (decoder output + X0 -> 1) + the input image (global residual)

Blocks are `layers.TransformerBlock` (LN, W-MSA with relative position bias, LN, GLEN); with `shift` every
second block of a stage uses shifted windows. Down: 4x4 stride-2 convolution ("conv", Uformer) or
pixel-unshuffle + linear ("shuffle"); up: 2x2 stride-2 transposed convolution or linear + pixel-shuffle.
Stochastic depth grows linearly from 0 to `drop_path` over the blocks of the encoder and bottleneck and is
mirrored in the decoder. The paper writes its block without the attention residual (X' = W-MSA(LN(X))); Uformer,
SwinIR and the paper's figure keep it, and so do we. Concatenated skips are projected back to the level's width
(Uformer keeps the doubled width, which doubles the decoder's cost).
Input and output are [B, H, W] float images; H and W must be multiples of `window * 2**K`.
"""
from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jax_iso.models.layers import TransformerBlock

RESAMPLERS = ("conv", "shuffle")


def space_to_depth(x: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, 4C] (pixel-unshuffle by 2)."""
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
  """[B, H, W, 4C] -> [B, 2H, 2W, C] (pixel-shuffle by 2), the inverse of `space_to_depth`."""
  b, h, w, c4 = x.shape
  c = c4 // 4
  return x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, c)


class A2I(nn.Module):
  width: int = 32                                  # channels at the first level, doubled per level
  depths: Sequence[int] = (1, 2, 8, 8, 2, 8, 8, 2, 1)   # blocks per stage: K encoders, bottleneck, K decoders
  heads: Sequence[int] = (1, 2, 4, 8, 16, 16, 8, 4, 2)  # attention heads per stage
  window: int = 8                                  # attention window edge
  shift: bool = True                               # shifted windows in every second block
  ffn_ratio: float = 2.0                           # feed-forward hidden channels / channels
  gated: bool = True                               # GLEN (True) or LeFF (False) feed-forward
  drop_path: float = 0.0                           # maximum stochastic depth rate
  resample: str = "conv"                           # "conv" or "shuffle" down/upsampling
  residual: bool = True                            # add the input image to the output
  dtype: jnp.dtype = jnp.float32                   # compute dtype (configs: "auto", bfloat16 on GPU/TPU)
  param_dtype: jnp.dtype = jnp.float32             # weight dtype (float32 only)

  @property
  def levels(self) -> int:
    return (len(self.depths) - 1) // 2

  def problems(self) -> list[str]:
    """What is wrong with the fields, as 'field=value must ...' strings (empty when all is well)."""
    out = []
    if len(self.depths) % 2 == 0 or any(d < 0 for d in self.depths):
      out.append(f"depths={list(self.depths)} must be an odd number (2K+1) of block counts >= 0")
    if len(self.heads) != len(self.depths):
      out.append(f"heads={list(self.heads)} must have one entry per stage ({len(self.depths)})")
    elif any(h < 1 or c % h for h, c in zip(self.heads, self.stage_widths)):
      out.append(f"heads={list(self.heads)} must divide each stage's channels ({self.stage_widths})")
    if self.width < 1:
      out.append(f"width={self.width} must be >= 1")
    if self.window < 1:
      out.append(f"window={self.window} must be >= 1")
    if self.ffn_ratio <= 0:
      out.append(f"ffn_ratio={self.ffn_ratio} must be > 0")
    if not 0.0 <= self.drop_path < 1.0:
      out.append(f"drop_path={self.drop_path} must be in [0, 1)")
    if self.resample not in RESAMPLERS:
      out.append(f"resample={self.resample!r} must be one of {', '.join(RESAMPLERS)}")
    return out

  @property
  def stage_widths(self) -> list[int]:
    """Channels of each stage: width * 2**level, the bottleneck deepest, the decoder mirroring the encoder."""
    last = len(self.depths) - 1
    return [self.width * 2 ** min(i, last - i) for i in range(len(self.depths))]

  @property
  def multiple(self) -> int:
    """Input sizes must be multiples of this."""
    return self.window * 2 ** self.levels

  def _rates(self) -> list[float]:
    """Stochastic depth rate of each block, stage by stage (encoder + bottleneck rising, decoder mirrored)."""
    k = self.levels
    first = int(sum(self.depths[:k + 1]))
    rising = list(np.linspace(0.0, self.drop_path, first)) if first else []
    decoder = []
    for i in range(k + 1, len(self.depths)):
      mirror = sum(self.depths[:2 * k - i]) + np.arange(self.depths[i])[::-1]
      decoder += [rising[j] if j < len(rising) else 0.0 for j in mirror]
    return [float(r) for r in rising + decoder]

  def _stage(self, x, stage: int, rates: list[float], offset: int, train: bool):
    for j in range(self.depths[stage]):
      x = TransformerBlock(self.heads[stage], self.window, self.window // 2 if self.shift and j % 2 else 0,
                           self.ffn_ratio, self.gated, rates[offset + j], dtype=self.dtype,
                           param_dtype=self.param_dtype, name=f"stage{stage}_block{j}")(x, train)
    return x

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # [B, H, W]
    if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
      raise ValueError(f"A2I(window={self.window}, levels={self.levels}) needs H and W divisible by "
                       f"{self.multiple}, got {x.shape}")
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    k, rates = self.levels, self._rates()
    offsets = np.concatenate([[0], np.cumsum(self.depths)]).astype(int)
    inp = x
    x0 = nn.leaky_relu(nn.Conv(self.width, (3, 3), padding="SAME", name="stem", **kw)(x[..., None]))
    h, skips = x0, []
    for i in range(k):
      h = self._stage(h, i, rates, offsets[i], train)
      skips.append(h)
      if self.resample == "conv":
        h = nn.Conv(self.width * 2 ** (i + 1), (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                    name=f"down{i}", **kw)(h)
      else:
        h = nn.Dense(self.width * 2 ** (i + 1), name=f"down{i}", **kw)(space_to_depth(h))
    h = self._stage(h, k, rates, offsets[k], train)
    for i in reversed(range(k)):
      stage = 2 * k - i
      c = self.width * 2 ** i
      if self.resample == "conv":
        h = nn.ConvTranspose(c, (2, 2), strides=(2, 2), name=f"up{i}", **kw)(h)
      else:
        h = depth_to_space(nn.Dense(4 * c, name=f"up{i}", **kw)(h))
      h = nn.Dense(c, name=f"fuse{i}", **kw)(jnp.concatenate([h, skips[i]], axis=-1))
      h = self._stage(h, stage, rates, offsets[stage], train)
    # Zero-initialised head: training starts from the interpolated input instead of a random correction of
    # unit size (the un-normalised residual stream has unit scale).
    out = nn.Conv(1, (3, 3), padding="SAME", dtype=jnp.float32, param_dtype=self.param_dtype,
                  kernel_init=nn.initializers.zeros, name="head")(h + x0)[..., 0]
    out = out.astype(jnp.float32)
    return out + inp.astype(jnp.float32) if self.residual else out
