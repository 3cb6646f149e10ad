"""EMformer (IsoVEM): a video transformer that super-resolves one axis of a stack of frames by any real factor.

    model = EMformer(factor=2.5)
    y = model.apply(params, x)      # x [B, T, N, W] frames of N rows -> y [B, T, round(N * 2.5), W]

    lost      frames that are zero everywhere (lost sections, as `degrade.pairs.clip_pair` marks them) are
              filled by linear interpolation between the nearest kept frames (`degrade.sections.
              interpolate_missing`); a mask channel tells the stem which frames were filled (`fill_lost`)
    stem      conv 3x3 per frame (image, mask -> C)                                            X0 [B, T, N, W, C]
    U         stage i <= K at scale 2^i (pixel-unshuffle 2x2 + LN + linear down first, i > 0), stages K+1..2K back
              up (linear + pixel-shuffle), each stage: mutual-attention blocks (windows of 2 frames) then
              self-attention blocks, each group closed by a linear layer and a residual; skips added (VRT)
    refine    LN + linear (-> C'), groups of self-attention blocks at full scale (the last `independent` with
              1-frame windows), each closed by a linear layer and a residual
    body out  LN + linear (-> C) + X0
    head      conv 3x3 (C -> F, LeakyReLU); "shuffle": linear (F -> r F) and r sub-rows per row (r = ceil(s)),
              LeakyReLU, then linear resampling of the rows onto exactly round(N s) rows of the section grid;
              "resize": that resampling straight from the N rows, conv 3x3 (F -> F, LeakyReLU); conv 3x3 (-> 1,
              zero-initialised) + the input resampled onto the same rows (`residual`: linear or cubic)

Blocks are `layers.VideoBlock` (LN, video window attention with relative position bias, LN, GEGLU per frame as
in IsoVEM; `local` adds GLEN's depthwise 3x3, which doubled the CPU train step); every second block of a group
uses windows shifted by half. Only the degraded axis (rows, N) is upsampled and only at the end: the
transformer runs at the sections' resolution. Inputs of any T, N, W are padded at the end (reflected) to the
multiples the windows and the K halvings need, and the output cropped back.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jax_iso.degrade import grid
from jax_iso.degrade.resample import interp_weights
from jax_iso.degrade.sections import interpolate_missing
from jax_iso.models.a2i import depth_to_space, space_to_depth
from jax_iso.models.layers import VideoBlock

UPSAMPLERS = ("shuffle", "resize")
RESIDUALS = ("linear", "cubic", "none")


def row_resampling(n_rows: int, n_out: int, rows_per_section: int, factor: float) -> np.ndarray:
  """[n_out, n_rows] linear interpolation from `rows_per_section` sub-rows per section onto the fine grid.

  Sub-row i sits at section coordinate (i + 0.5) / r - 0.5 and fine row j at (j + 0.5) / s - 0.5 (section k's
  centre at k, `degrade.grid`); rows beyond the ends repeat the end row.
  """
  r = rows_per_section
  u = (np.arange(n_out) + 0.5) * r / factor - 0.5
  u = np.clip(u, 0.0, n_rows - 1)
  lo = np.minimum(np.floor(u).astype(int), n_rows - 1)
  hi = np.minimum(lo + 1, n_rows - 1)
  frac = u - lo
  out = np.zeros((n_out, n_rows), np.float64)
  np.add.at(out, (np.arange(n_out), lo), 1.0 - frac)
  np.add.at(out, (np.arange(n_out), hi), frac)
  return out.astype(np.float32)


def section_resampling(n_sections: int, n_out: int, factor: float, method: str) -> np.ndarray:
  """[n_out, n_sections] the `degrade.resample` interpolation (linear or cubic) as a matrix."""
  idx, w = interp_weights(n_sections, factor, method, n_out=n_out)
  out = np.zeros((n_out, n_sections), np.float64)
  np.add.at(out, (np.repeat(np.arange(n_out), idx.shape[1]), idx.ravel()), w.ravel())
  return out.astype(np.float32)


def _pad_end(x: jax.Array, axis: int, multiple: int) -> jax.Array:
  n = x.shape[axis]
  extra = -n % multiple
  if not extra:
    return x
  pads = [(0, 0)] * x.ndim
  pads[axis] = (0, extra)
  return jnp.pad(x, pads, mode="reflect" if n > extra else "edge")


class EMformer(nn.Module):
  factor: float = 4.0                                # upsampling of the rows (the volume's anisotropy)
  width: int = 40                                    # channels of the U
  depths: Sequence[int] = (4, 4, 4, 4, 4, 4, 4)      # blocks per U stage: K down, bottleneck, K up
  refine_depths: Sequence[int] = (2, 2, 2, 2, 2, 2)  # blocks per refinement group at full scale
  refine_width: int = 60                             # channels of the refinement groups
  independent: int = 2                               # last refinement groups attending within one frame
  heads: int = 4
  window: Sequence[int] = (2, 2, 16)                 # attention window: frames, rows, columns
  mutual_ratio: float = 0.75                         # share of a U stage's blocks with mutual attention
  ffn_ratio: float = 2.0
  gated: bool = True                                 # gated (GEGLU / GLEN) or LeFF feed-forward
  local: bool = False                                # depthwise 3x3 in the feed-forward (GLEN instead of GEGLU)
  drop_path: float = 0.0                             # maximum stochastic depth rate
  upsampler: str = "shuffle"                         # "shuffle" or "resize"
  head_width: int = 32                               # channels of the upsampling head
  residual: str = "linear"                           # the input resampled onto the output rows, added
  fill_lost: bool = True                             # zero frames filled from their neighbours before the stem
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @property
  def levels(self) -> int:
    return (len(self.depths) - 1) // 2

  @property
  def multiple(self) -> int:
    """Inputs of any size work (padded inside); sizes are not constrained for the engine."""
    return 1

  def problems(self) -> list[str]:
    """What is wrong with the fields, as 'field=value must ...' strings (empty when all is well)."""
    out = []
    if not (isinstance(self.factor, (int, float)) and 1.0 < float(self.factor) <= 64.0):
      out.append(f"factor={self.factor} must be in (1, 64]")
    if len(self.depths) % 2 == 0 or any(d < 0 for d in self.depths):
      out.append(f"depths={list(self.depths)} must be an odd number (2K+1) of block counts >= 0")
    if any(d < 0 for d in self.refine_depths):
      out.append(f"refine_depths={list(self.refine_depths)} must be block counts >= 0")
    if not 0 <= self.independent <= len(self.refine_depths):
      out.append(f"independent={self.independent} must be in [0, {len(self.refine_depths)}] (refinement groups)")
    for name in ("width", "refine_width", "head_width", "heads"):
      if getattr(self, name) < 1:
        out.append(f"{name}={getattr(self, name)} must be >= 1")
    if self.heads >= 1 and (self.width % self.heads or self.refine_width % self.heads):
      out.append(f"heads={self.heads} must divide width={self.width} and refine_width={self.refine_width}")
    if len(self.window) != 3 or min(self.window) < 1:
      out.append(f"window={list(self.window)} must be 3 sizes >= 1 (frames, rows, columns)")
    elif self.mutual_ratio > 0 and self.window[0] != 2:
      out.append(f"window={list(self.window)} must span 2 frames for mutual attention (or mutual_ratio=0)")
    if not 0.0 <= self.mutual_ratio <= 1.0:
      out.append(f"mutual_ratio={self.mutual_ratio} must be in [0, 1]")
    if self.ffn_ratio <= 0:
      out.append(f"ffn_ratio={self.ffn_ratio} must be > 0")
    if not 0.0 <= self.drop_path < 1.0:
      out.append(f"drop_path={self.drop_path} must be in [0, 1)")
    if self.upsampler not in UPSAMPLERS:
      out.append(f"upsampler={self.upsampler!r} must be one of {', '.join(UPSAMPLERS)}")
    if self.residual not in RESIDUALS:
      out.append(f"residual={self.residual!r} must be one of {', '.join(RESIDUALS)}")
    return out

  def _group(self, x, depth: int, window: tuple[int, int, int], mutual: bool, rates, name: str, train: bool):
    """Blocks (every second one shifted by half a window), a linear layer and the group's residual."""
    if depth == 0:
      return x
    shift = tuple(m // 2 for m in window)
    h = x
    for j in range(depth):
      h = VideoBlock(self.heads, window, shift if j % 2 else (0, 0, 0), mutual, self.ffn_ratio, self.gated,
                     self.local, next(rates), dtype=self.dtype, param_dtype=self.param_dtype,
                     name=f"{name}_block{j}")(h, train)
    return x + nn.Dense(x.shape[-1], dtype=self.dtype, param_dtype=self.param_dtype, name=f"{name}_out")(h)

  def _stage(self, x, depth: int, rates, name: str, train: bool):
    window = tuple(int(m) for m in self.window)
    n_mutual = int(depth * self.mutual_ratio)
    x = self._group(x, n_mutual, (2,) + window[1:], True, rates, f"{name}_mutual", train)
    return self._group(x, depth - n_mutual, window, False, rates, f"{name}_self", train)

  def _per_frame(self, fn, x):
    b, t = x.shape[:2]
    y = fn(x.reshape((b * t,) + x.shape[2:]))
    return y.reshape((b, t) + y.shape[1:])

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:  # [B, T, N, W]
    if x.ndim != 4:
      raise ValueError(f"EMformer takes clips [B, T, N, W], got shape {x.shape}")
    b, n_t, n_rows, n_cols = x.shape
    s = float(self.factor)
    n_out = grid.fine_count(n_rows, s)
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    k = self.levels
    window = tuple(int(m) for m in self.window)
    total = int(sum(self.depths) + sum(self.refine_depths))
    rates = iter([float(r) for r in np.linspace(0.0, self.drop_path, max(total, 1))])
    dense = lambda c, name: nn.Dense(c, name=name, **kw)             # noqa: E731
    norm = lambda name: nn.LayerNorm(name=name, dtype=jnp.float32, param_dtype=self.param_dtype)  # noqa: E731

    x = x.astype(jnp.float32)
    if self.fill_lost:
      lost = jnp.all(x == 0.0, axis=(2, 3))                           # [B, T] lost frames
      x = interpolate_missing(x, lost)
      h = jnp.stack([x, jnp.broadcast_to(lost[:, :, None, None], x.shape).astype(x.dtype)], axis=-1)
    else:
      h = x[..., None]
    h = _pad_end(h, 1, max(window[0], 2 if self.mutual_ratio > 0 else 1))
    h = _pad_end(h, 2, window[1] * 2 ** k)
    h = _pad_end(h, 3, window[2] * 2 ** k)
    x0 = nn.leaky_relu(self._per_frame(nn.Conv(self.width, (3, 3), padding="SAME", name="stem", **kw),
                                       h.astype(self.dtype)), 0.1)
    skips, h = [], x0
    for i in range(k + 1):
      if i:
        h = norm(f"down{i}_norm")(self._per_frame(space_to_depth, h)).astype(self.dtype)
        h = dense(self.width, f"down{i}")(h)
      h = self._stage(h, self.depths[i], rates, f"stage{i}", train)
      skips.append(h)
    for i in range(1, k + 1):
      inp = h if i == 1 else h + skips[k - i + 1]
      h = self._per_frame(depth_to_space, dense(4 * self.width, f"up{i}")(inp))
      h = self._stage(h, self.depths[k + i], rates, f"stage{k + i}", train)
    h = h + skips[0] if k else h
    if self.refine_depths:
      h = dense(self.refine_width, "refine_in")(norm("refine_norm")(h).astype(self.dtype))
      groups = len(self.refine_depths)
      for g, depth in enumerate(self.refine_depths):
        win = (1,) + window[1:] if g >= groups - self.independent else window
        h = self._group(h, depth, win, False, rates, f"refine{g}", train)
    h = x0 + dense(self.width, "body_out")(norm("body_norm")(h).astype(self.dtype))

    h = h[:, :n_t, :, :n_cols]                                      # [B, T, Np, W, C]
    h = nn.leaky_relu(self._per_frame(nn.Conv(self.head_width, (3, 3), padding="SAME", name="head_in", **kw), h),
                      0.1)
    if self.upsampler == "shuffle":
      r = max(1, math.ceil(s))
      h = dense(r * self.head_width, "head_shuffle")(h)
      bb, tt, np_rows, ww, _ = h.shape
      h = h.reshape(bb, tt, np_rows, ww, r, self.head_width).transpose(0, 1, 2, 4, 3, 5)
      h = nn.leaky_relu(h.reshape(bb, tt, np_rows * r, ww, self.head_width), 0.1)
      h = jnp.einsum("on,btnwc->btowc", jnp.asarray(row_resampling(h.shape[2], n_out, r, s), h.dtype), h)
    else:
      h = jnp.einsum("on,btnwc->btowc", jnp.asarray(row_resampling(h.shape[2], n_out, 1, s), h.dtype), h)
      h = nn.leaky_relu(self._per_frame(nn.Conv(self.head_width, (3, 3), padding="SAME", name="head_conv", **kw),
                                        h), 0.1)
    out = self._per_frame(nn.Conv(1, (3, 3), padding="SAME", dtype=jnp.float32, param_dtype=self.param_dtype,
                                  kernel_init=nn.initializers.zeros, name="head_out"), h)[..., 0]
    out = out.astype(jnp.float32)
    if self.residual != "none":
      up = jnp.asarray(section_resampling(n_rows, n_out, s, self.residual))
      out = out + jnp.einsum("on,btnw->btow", up, x)
    return out
