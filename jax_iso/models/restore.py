"""ssTEM section restoration (Deng et al., TMI 2022): interpolation, correction and fusion of a damaged section.

    net = SectionRestorer(width=16, depth=4, interp="kernel")
    out = net.apply(params, x)     # x: [B, 4, H, W] = section below, damaged section, section above, mask
    out["fused"]                   # [B, H, W] the restored section; also "interp", "corrected", "flow" [B, 2, H, W]

The mask channel is 1 where the section is damaged (a fold's band, precipitates, the whole section when it is
missing), from the detector at inference and from the simulated damage in training. Three modules, coarse to
fine, each a U-Net (`Net`: `unet.unet_body`, the CARE U-Net's layers, and a 1x1 head):
- interpolation, from the two neighbours alone (the damaged section is not looked at):
  "kernel": per-pixel separable kernels (SepConv, Niklaus et al. 2017; the ssTEM authors' EMinterp): for every
  output pixel and each neighbour a vertical and a horizontal kernel of `taps` weights (softmax-normalised) and a
  blend weight; interp = w K_below(below) + (1 - w) K_above(above). Displacements up to taps // 2 px.
  "flow": a flow to each neighbour and a blend weight; interp = w below(p + f_b) + (1 - w) above(p + f_a)
  (bilinear, `degrade.fold.bilinear_warp`). Any displacement, but one source pixel per neighbour.
- correction, from the damaged section and its mask: a flow that unfolds it and a residual,
  corrected = damaged(p + flow) + residual: a fold pulls tissue towards its band (the flow undoes the pull,
  supervised by the simulator's exact inverse flow in training); precipitates and their contrast change are
  repainted by the residual. Flow outputs are scaled by `flow_scale` px (folds pull up to ~80 px).
- fusion, from the interpolation, the correction, the damaged section and the mask: a weight and a residual,
  fused = w interp + (1 - w) corrected + residual, w = sigmoid(logit + gate (2 mask - 1)): untrained, it takes
  the interpolation inside the mask and the correction outside, and learns where to depart from that.
With `detach` (the default) the fusion's inputs carry no gradient back: each module learns from its own loss,
the paper's stage-wise training done at once; `detach=False` trains end to end (a fine-tuning stage).
Output heads start at zero (flows 0, residuals 0, uniform kernels, blends 1/2), so an untrained restorer gives
a blurred average of the neighbours inside the mask and the damaged section outside. H and W must be multiples
of 2**depth.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from jax_iso.degrade.fold import bilinear_warp
from jax_iso.models.unet import unet_body

INTERPS = ("kernel", "flow")


class Net(nn.Module):
  """A U-Net on [B, H, W, C] -> [B, H, W, out] (float32); the last convolution starts at zero."""
  out: int
  width: int
  depth: int
  kernel: int
  dtype: jnp.dtype
  param_dtype: jnp.dtype

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    h = unet_body(h.astype(self.dtype), self.width, self.depth, self.kernel, self.dtype, self.param_dtype)
    out = nn.Conv(self.out, (1, 1), dtype=jnp.float32, param_dtype=self.param_dtype,
                  kernel_init=nn.initializers.zeros)(h)
    return out.astype(jnp.float32)


def warp(images: jax.Array, flow: jax.Array) -> jax.Array:
  """images [B, H, W] sampled at p + flow(p), flow [B, 2, H, W] (dy, dx) in px; bilinear, mirrored borders."""
  h, w = images.shape[-2:]
  yy = jnp.arange(h, dtype=jnp.float32)[:, None]
  xx = jnp.arange(w, dtype=jnp.float32)[None, :]
  return jax.vmap(lambda im, f: bilinear_warp(im, yy + f[0], xx + f[1]))(images, flow)


def separable(images: jax.Array, vertical: jax.Array, horizontal: jax.Array) -> jax.Array:
  """out(y, x) = sum_ij v(y, x, i) h(y, x, j) image(y + i - r, x + j - r): images [B, H, W], kernels
  [B, H, W, T] (T = 2r + 1), borders mirrored."""
  taps = vertical.shape[-1]
  r = taps // 2
  h, w = images.shape[-2:]
  padded = jnp.pad(images, ((0, 0), (r, r), (r, r)), mode="reflect")
  columns = jnp.stack([padded[:, :, j:j + w] for j in range(taps)], axis=-1)     # [B, H + 2r, W, T]
  rows = [jnp.einsum("byxt,byxt->byx", columns[:, i:i + h], horizontal) for i in range(taps)]
  return jnp.einsum("byxt,tbyx->byx", vertical, jnp.stack(rows))


class SectionRestorer(nn.Module):
  width: int = 32                # filters at the first level of each U-Net, doubled per level
  depth: int = 4                 # downsamplings of each U-Net (4: a reach of ~120 px at kernel 3)
  kernel: int = 3                # convolution kernel size
  interp: str = "kernel"         # INTERPS: how the neighbours are interpolated
  taps: int = 11                 # kernel interpolation: taps of each 1-D kernel (odd)
  flow_scale: float = 16.0       # px of flow per unit of a flow head's output
  gate: float = 4.0              # fusion's prior towards the interpolation inside the mask (logit units)
  detach: bool = True            # fusion's inputs carry no gradient back (modules learn from their own losses)
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  def problems(self) -> list[str]:
    out = []
    if self.interp not in INTERPS:
      out.append(f"interp={self.interp!r} must be one of {', '.join(INTERPS)}")
    if self.width < 1:
      out.append(f"width={self.width} must be >= 1")
    if self.depth < 0:
      out.append(f"depth={self.depth} must be >= 0")
    if self.kernel < 1 or self.kernel % 2 == 0:
      out.append(f"kernel={self.kernel} must be an odd size >= 1")
    if self.taps < 1 or self.taps % 2 == 0:
      out.append(f"taps={self.taps} must be an odd count >= 1")
    return out

  @property
  def multiple(self) -> int:
    return 2 ** self.depth

  def _net(self, out: int, name: str) -> Net:
    return Net(out, self.width, self.depth, self.kernel, self.dtype, self.param_dtype, name=name)

  def _interpolate(self, below: jax.Array, above: jax.Array) -> jax.Array:
    pair = jnp.stack([below, above], axis=-1)                                    # [B, H, W, 2]
    if self.interp == "flow":
      out = self._net(5, "interp")(pair)
      f_below = jnp.moveaxis(out[..., 0:2], -1, 1) * self.flow_scale
      f_above = jnp.moveaxis(out[..., 2:4], -1, 1) * self.flow_scale
      w = jax.nn.sigmoid(out[..., 4])
      return w * warp(below, f_below) + (1.0 - w) * warp(above, f_above)
    t = self.taps
    out = self._net(4 * t + 1, "interp")(pair)
    kernels = [jax.nn.softmax(out[..., i * t:(i + 1) * t], axis=-1) for i in range(4)]
    w = jax.nn.sigmoid(out[..., 4 * t])
    return w * separable(below, kernels[0], kernels[1]) + (1.0 - w) * separable(above, kernels[2], kernels[3])

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> dict:
    del train  # no dropout or normalisation statistics
    if x.ndim != 4 or x.shape[1] != 4:
      raise ValueError(f"SectionRestorer takes [B, 4, H, W] (below, damaged, above, mask), got {x.shape}")
    if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
      raise ValueError(f"SectionRestorer(depth={self.depth}) needs H and W divisible by {self.multiple}, "
                       f"got {x.shape}")
    x = x.astype(jnp.float32)
    below, damaged, above, mask = (x[:, i] for i in range(4))
    interp = self._interpolate(below, above)
    out = self._net(3, "correct")(jnp.stack([damaged, mask], axis=-1))
    flow = jnp.moveaxis(out[..., 0:2], -1, 1) * self.flow_scale                  # [B, 2, H, W]
    corrected = warp(damaged, flow) + out[..., 2]
    inputs = (interp, corrected)
    if self.detach:
      inputs = tuple(jax.lax.stop_gradient(v) for v in inputs)
    fuse = self._net(2, "fusion")(jnp.stack([*inputs, damaged, mask], axis=-1))
    w = jax.nn.sigmoid(fuse[..., 0] + self.gate * (2.0 * mask - 1.0))
    fused = w * inputs[0] + (1.0 - w) * inputs[1] + fuse[..., 1]
    return {"interp": interp, "corrected": corrected, "flow": flow, "fused": fused}
