"""A CARE-style 2D U-Net (Weigert et al. 2017; CSBDeep's isotropic reconstruction network).

Defaults as CSBDeep's isotropic CARE: depth 2, 32 base filters (doubled at each level), kernel 5, two
convolutions per level, max-pooling down, nearest-neighbour upsampling + convolution up, skip connections by
concatenation, and a global residual: the network predicts the correction to its (interpolated) input.
Input and output are [B, H, W] float images in [0, 1]; H and W must be multiples of 2**depth.

`conditioned=True` tells the network the anisotropy factor of its input (one model for every factor, the
pretrained one): log(s) is embedded (sines and cosines, a dense layer) and every level's block output is scaled
and shifted by it (FiLM: `h * (1 + a(s)) + b(s)`, a and b zero at initialisation). It is then called as
`model.apply(params, x, factor=s)` with s a number or one per image [B].
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


def film(h: jax.Array, cond: jax.Array | None, param_dtype) -> jax.Array:
  """`h` [B, H, W, C] scaled and shifted per channel by the condition `cond` [B, E] (identity when None; the
  dense layers start at zero, so a conditioned network starts as the unconditioned one)."""
  if cond is None:
    return h
  scale_shift = nn.Dense(2 * h.shape[-1], kernel_init=nn.initializers.zeros, param_dtype=param_dtype)(cond)
  scale, shift = jnp.split(scale_shift[:, None, None, :].astype(h.dtype), 2, axis=-1)
  return h * (1 + scale) + shift


def unet_body(h: jax.Array, width: int, depth: int, kernel: int, dtype, param_dtype,
              cond: jax.Array | None = None) -> jax.Array:
  """The encoder, bottom and decoder of a U-Net on [B, H, W, C] -> [B, H, W, width], called inside a module's
  `nn.compact` method (its layers are that module's, auto-named as if written there): `ConvBlock`s, max-pool
  down, nearest-neighbour up + convolution, skips by concatenation; with `cond` [B, E], every block's output
  modulated by it (`film`)."""
  skips = []
  for level in range(depth):
    h = film(ConvBlock(width * 2 ** level, kernel, dtype, param_dtype)(h), cond, param_dtype)
    skips.append(h)
    h = nn.max_pool(h, (2, 2), strides=(2, 2))
  h = film(ConvBlock(width * 2 ** depth, kernel, dtype, param_dtype)(h), cond, param_dtype)
  for level in reversed(range(depth)):
    b, hh, ww, c = h.shape
    h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
    h = nn.Conv(width * 2 ** level, (kernel, kernel), padding="SAME", dtype=dtype, param_dtype=param_dtype)(h)
    h = jnp.concatenate([h, skips[level]], axis=-1)
    h = film(ConvBlock(width * 2 ** level, kernel, dtype, param_dtype)(h), cond, param_dtype)
  return h


def factor_embedding(factor: jax.Array, batch: int) -> jax.Array:
  """[B, 16] sines and cosines of log(s) at 8 frequencies (log s from 1 to 50 spans less than half a period of
  the lowest, so no two factors look alike), for `film`'s dense layers; a scalar factor is broadcast to the batch."""
  log_s = jnp.broadcast_to(jnp.log(jnp.asarray(factor, jnp.float32)), (batch,))
  freqs = jnp.arange(1, 9, dtype=jnp.float32) * (jnp.pi / 4.0)
  angles = log_s[:, None] * freqs[None, :]
  return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class UNet(nn.Module):
  depth: int = 2                 # number of downsamplings
  width: int = 32                # filters at the first level, doubled per level
  kernel: int = 5                # convolution kernel size
  residual: bool = True          # predict the correction to the input
  conditioned: bool = False      # told the anisotropy factor (FiLM on log s): one model for every factor
  dtype: jnp.dtype = jnp.float32        # compute dtype (configs: "auto", bfloat16 on GPU/TPU; models/precision.py)
  param_dtype: jnp.dtype = jnp.float32  # weight dtype (float32 only)

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

  def example_inputs(self, shape: tuple[int, ...]) -> tuple:
    """What `init` is called with for inputs of `shape` (a conditioned network also takes the factor)."""
    x = jnp.zeros(shape, jnp.float32)
    return (x, False, jnp.full(shape[:1], 4.0, jnp.float32)) if self.conditioned else (x,)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False, factor: jax.Array | float | None = None) -> jax.Array:
    del train  # no dropout or normalisation statistics: training and inference compute the same
    if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
      raise ValueError(f"UNet(depth={self.depth}) needs H and W divisible by {self.multiple}, got {x.shape}")
    if self.conditioned == (factor is None):
      raise ValueError("a conditioned UNet needs the factor of its input (factor=s), an unconditioned one takes none"
                       if self.conditioned else "this UNet is not conditioned on the factor: call it without factor")
    inp = x
    h = x[..., None].astype(self.dtype)             # [B, H, W, 1]
    cond = None
    if self.conditioned:
      cond = nn.gelu(nn.Dense(64, param_dtype=self.param_dtype)(factor_embedding(factor, x.shape[0])))
    h = unet_body(h, self.width, self.depth, self.kernel, self.dtype, self.param_dtype, cond)
    out = nn.Conv(1, (1, 1), dtype=jnp.float32, param_dtype=self.param_dtype)(h)[..., 0]
    out = out.astype(jnp.float32)
    return out + inp.astype(jnp.float32) if self.residual else out
