"""A CARE-style 2D U-Net (Weigert et al. 2017; CSBDeep's isotropic reconstruction network).

Defaults as CSBDeep's isotropic CARE: depth 2, 32 base filters (doubled at each level), kernel 5, two
convolutions per level, max-pooling down, nearest-neighbour upsampling + convolution up, skip connections by
concatenation, and a global residual: the network predicts the correction to its (interpolated) input.
Input and output are [B, H, W] float images in [0, 1]; H and W must be multiples of 2**depth.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn


class ConvBlock(nn.Module):
  features: int          # output channels
  kernel: int            # square kernel size
  dtype: jnp.dtype       # compute dtype
  param_dtype: jnp.dtype  # weight dtype

  @nn.compact
  def __call__(self, x):  # [B, H, W, C]
    for _ in range(2):
      x = nn.Conv(self.features, (self.kernel, self.kernel), padding="SAME", dtype=self.dtype,
                  param_dtype=self.param_dtype)(x)
      x = nn.relu(x)
    return x


def unet_body(h: jax.Array, width: int, depth: int, kernel: int, dtype, param_dtype) -> jax.Array:
  """The encoder, bottom and decoder of a U-Net on [B, H, W, C] -> [B, H, W, width], called inside a module's
  `nn.compact` method (its layers are that module's, auto-named as if written there): `ConvBlock`s, max-pool
  down, nearest-neighbour up + convolution, skips by concatenation."""
  skips = []
  for level in range(depth):
    h = ConvBlock(width * 2 ** level, kernel, dtype, param_dtype)(h)
    skips.append(h)
    h = nn.max_pool(h, (2, 2), strides=(2, 2))
  h = ConvBlock(width * 2 ** depth, kernel, dtype, param_dtype)(h)
  for level in reversed(range(depth)):
    b, hh, ww, c = h.shape
    h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
    h = nn.Conv(width * 2 ** level, (kernel, kernel), padding="SAME", dtype=dtype, param_dtype=param_dtype)(h)
    h = jnp.concatenate([h, skips[level]], axis=-1)
    h = ConvBlock(width * 2 ** level, kernel, dtype, param_dtype)(h)
  return h


class UNet(nn.Module):
  depth: int = 2                 # number of downsamplings
  width: int = 32                # filters at the first level, doubled per level
  kernel: int = 5                # convolution kernel size
  residual: bool = True          # predict the correction to the input
  dtype: jnp.dtype = jnp.float32        # compute dtype (bfloat16 on GPU/TPU)
  param_dtype: jnp.dtype = jnp.float32  # weight dtype

  def problems(self) -> list[str]:
    """What is wrong with the fields, as 'field=value must ...' strings (empty when all is well)."""
    out = []
    if self.depth < 0:
      out.append(f"depth={self.depth} must be >= 0")
    if self.width < 1:
      out.append(f"width={self.width} must be >= 1")
    if self.kernel < 1 or self.kernel % 2 == 0:
      out.append(f"kernel={self.kernel} must be an odd size >= 1")
    return out

  @property
  def multiple(self) -> int:
    """Input sizes must be multiples of this."""
    return 2 ** self.depth

  @property
  def receptive_field(self) -> int:
    """Pixels on each side of an output pixel that can influence it (an upper bound)."""
    reach, scale = 0, 1
    for _ in range(self.depth):                       # encoder level, then pooling
      reach += 2 * (self.kernel // 2) * scale + scale
      scale *= 2
    reach += 2 * (self.kernel // 2) * scale             # bottom
    for _ in range(self.depth):                       # decoder: up-conv and two convs at each level
      scale //= 2
      reach += 3 * (self.kernel // 2) * scale
    return reach

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # [B, H, W]
    del train  # no dropout or normalisation statistics: training and inference compute the same
    if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
      raise ValueError(f"UNet(depth={self.depth}) needs H and W divisible by {self.multiple}, got {x.shape}")
    inp = x
    h = x[..., None].astype(self.dtype)             # [B, H, W, 1]
    h = unet_body(h, self.width, self.depth, self.kernel, self.dtype, self.param_dtype)
    out = nn.Conv(1, (1, 1), dtype=jnp.float32, param_dtype=self.param_dtype)(h)[..., 0]
    out = out.astype(jnp.float32)
    return out + inp.astype(jnp.float32) if self.residual else out
