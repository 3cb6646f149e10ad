"""Window attention over video clips (EMformer / VRT's temporal mutual self-attention) on [B, T, H, W, C].

    attn = VideoWindowAttention(heads=4, window=(2, 2, 16), shift=(0, 0, 0), mutual=True)
    y = attn(x)          # x, y: [B, T, H, W, C]; T, H, W multiples of the window

The clip is cut into non-overlapping (t, h, w) windows of frames x rows x columns. Self-attention: every token
attends to the tokens of its window, with a learned bias per head for each relative offset (a
(2t-1)(2h-1)(2w-1) table). Mutual attention (`mutual`, windows of 2 frames): the tokens of each frame attend to
the tokens of the other frame only (frame 2's queries align frame 1's content and vice versa), with a learned
bias per relative spatial offset; its output is concatenated with the self-attention's before the projection
(VRT, Liang et al. 2022). With a shift, the clip is rolled by -shift first and tokens the roll brought together
from opposite edges are masked from each other (Swin's shifted windows), along each axis.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from jax_iso.models.attention import MASKED


def video_partition(x: jax.Array, window: tuple[int, int, int]) -> jax.Array:
  """[B, T, H, W, C] -> [B * nW, t*h*w, C], windows in (T, H, W) row-major order, tokens row-major inside."""
  b, nt, nh, nw, c = x.shape
  t, h, w = window
  x = x.reshape(b, nt // t, t, nh // h, h, nw // w, w, c)
  return x.transpose(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, t * h * w, c)


def video_merge(windows: jax.Array, window: tuple[int, int, int], shape: tuple[int, int, int]) -> jax.Array:
  """Inverse of `video_partition`: [B * nW, t*h*w, C] -> [B, T, H, W, C] with (T, H, W) = `shape`."""
  t, h, w = window
  nt, nh, nw = shape
  c = windows.shape[-1]
  x = windows.reshape(-1, nt // t, nh // h, nw // w, t, h, w, c)
  return x.transpose(0, 1, 4, 2, 5, 3, 6, 7).reshape(-1, nt, nh, nw, c)


def relative_index(window: tuple[int, ...]) -> np.ndarray:
  """[N, N] index (N = prod(window)) into the prod(2m-1) bias table of the offset from token j to token i."""
  grids = np.meshgrid(*[np.arange(m) for m in window], indexing="ij")
  coords = np.stack([g.ravel() for g in grids])                      # [d, N]
  rel = coords[:, :, None] - coords[:, None, :]                       # [d, N, N]
  index = np.zeros(rel.shape[1:], np.int64)
  for axis, m in enumerate(window):
    index = index * (2 * m - 1) + rel[axis] + m - 1
  return index.astype(np.int32)


def video_shift_mask(shape: tuple[int, int, int], window: tuple[int, int, int],
                     shift: tuple[int, int, int]) -> np.ndarray | None:
  """[nW, N, N] additive mask (0 or MASKED) of the rolled clip's windows, or None without a shift."""
  if not any(shift):
    return None
  labels = np.zeros(shape, np.int32)
  for axis, (m, s) in enumerate(zip(window, shift)):
    if not s:
      continue
    region = np.zeros(shape[axis], np.int32)
    region[-m:-s] = 1
    region[-s:] = 2
    view = [1, 1, 1]
    view[axis] = shape[axis]
    labels = labels * 3 + region.reshape(view)
  windows = video_partition(labels[None, ..., None], window)[..., 0]   # [nW, N]
  same = windows[:, :, None] == windows[:, None, :]
  return np.where(same, 0.0, MASKED).astype(np.float32)


def _attend(q, k, v, logits_bias, mask, n_win: int):
  """softmax(q k^T + bias + mask) v with q, k, v [Bn, heads, N, d]; the logits, softmax and its normalisation in
  float32, the output in v's dtype.

  The softmax's normalisation is applied to the [.., N, d] output instead of the [.., N, N] weights (one pass
  less over the largest tensor: the attention core ran 3x faster on the 2-core CPU)."""
  logits = jnp.einsum("bhnd,bhmd->bhnm", q, k, preferred_element_type=jnp.float32) + logits_bias
  if mask is not None:
    bn, heads, n, m = logits.shape
    logits = (logits.reshape(bn // n_win, n_win, heads, n, m) + mask[None, :, None]).reshape(bn, heads, n, m)
  weights = jnp.exp(logits - jax.lax.stop_gradient(logits.max(axis=-1, keepdims=True)))
  out = jnp.einsum("bhnm,bhmd->bhnd", weights.astype(v.dtype), v, preferred_element_type=jnp.float32)
  return (out / weights.sum(axis=-1, keepdims=True)).astype(v.dtype)     # normalised in float32


class VideoWindowAttention(nn.Module):
  """Window self-attention (and, with `mutual`, mutual attention between the 2 frames of a window)."""
  heads: int
  window: tuple[int, int, int] = (2, 8, 8)
  shift: tuple[int, int, int] = (0, 0, 0)
  mutual: bool = False
  dtype: jnp.dtype = jnp.float32
  param_dtype: jnp.dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:  # [B, T, H, W, C]
    b, nt, nh, nw, c = x.shape
    window = tuple(int(m) for m in self.window)
    if nt % window[0] or nh % window[1] or nw % window[2]:
      raise ValueError(f"VideoWindowAttention(window={window}) needs T, H, W divisible by it, got {x.shape}")
    if c % self.heads:
      raise ValueError(f"{c} channels cannot be split into {self.heads} heads")
    if self.mutual and window[0] != 2:
      raise ValueError(f"mutual attention needs windows of 2 frames, got {window}")
    # a window that covers an axis has nothing to shift along it
    shift = tuple(s if n > m else 0 for s, n, m in zip(self.shift, (nt, nh, nw), window))
    if any(shift):
      x = jnp.roll(x, tuple(-s for s in shift), axis=(1, 2, 3))
    kw = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    heads, d = self.heads, c // self.heads
    n = int(np.prod(window))
    mask = video_shift_mask((nt, nh, nw), window, shift)
    n_win = (nt // window[0]) * (nh // window[1]) * (nw // window[2])
    tokens = video_partition(x, window)                                          # [Bn, N, C]
    bn = tokens.shape[0]

    def project(name, inp):
      qkv = nn.Dense(3 * c, name=name, **kw)(inp).reshape(bn, -1, 3, heads, d)
      return [qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3)]             # [Bn, heads, N, d] each

    table = self.param("relative_position_bias", nn.initializers.truncated_normal(0.02),
                       (int(np.prod([2 * m - 1 for m in window])), heads), self.param_dtype)
    bias = table[relative_index(window)].transpose(2, 0, 1).astype(jnp.float32)   # [heads, N, N]
    q, k, v = project("qkv", tokens)
    out = _attend(q * d ** -0.5, k, v, bias, mask, n_win)                          # [Bn, heads, N, d]
    outs = [out]
    if self.mutual:
      half = n // 2
      spatial = window[1:]
      table_m = self.param("mutual_position_bias", nn.initializers.truncated_normal(0.02),
                           (int(np.prod([2 * m - 1 for m in spatial])), heads), self.param_dtype)
      bias_m = table_m[relative_index(spatial)].transpose(2, 0, 1).astype(jnp.float32)  # [heads, N/2, N/2]
      qm, km, vm = project("qkv_mutual", tokens)
      mask_m = None if mask is None else mask[:, half:, :half]     # frame 2's queries on frame 1's keys and values
      second = _attend(qm[:, :, half:] * d ** -0.5, km[:, :, :half], vm[:, :, :half], bias_m, mask_m, n_win)
      mask_m = None if mask is None else mask[:, :half, half:]
      first = _attend(qm[:, :, :half] * d ** -0.5, km[:, :, half:], vm[:, :, half:], bias_m, mask_m, n_win)
      outs.append(jnp.concatenate([first, second], axis=2))      # each frame's tokens get the other frame's content
    out = jnp.concatenate(outs, axis=-1)                          # [Bn, heads, N, d * len(outs)]
    out = out.transpose(0, 2, 1, 3).reshape(bn, n, -1)
    out = nn.Dense(c, name="proj", **kw)(out)
    out = video_merge(out, window, (nt, nh, nw))
    if any(shift):
      out = jnp.roll(out, shift, axis=(1, 2, 3))
    return out
