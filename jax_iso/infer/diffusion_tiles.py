"""Diffusion sampling over whole planes without seams: overlapping tiles whose noise is a function of the pixel.

    draw = make_tile_sampler(Conditional(config.diffusion), model, params, key, samples=8)   # jitted, sharded
    out = predict_planes(draw, planes, origins=True, **tiling.geometry, batch_size=4)   # [N, K, H, W]
    mean, std, flags = uncertainty.summarize(out.transpose(1, 0, 2, 3))
    one = make_tile_mean(Conditional(config.diffusion), model, params)      # the one-pass mean: [B, 1, h, w]

A sampler's starting noise and the fresh noise of every stochastic step are drawn per pixel of the plane, not per
tile (`position_noise`: standard normal blocks of 64 x 64 on a fixed grid of the plane, each from the key folded
with its plane, sample, step and block indices), so two tiles that overlap start from the same noise and take the
same steps there: they differ only by the context each sees, and the raised-cosine blending of `predict_planes`
hides what is left. (The reference samples each patch with its own noise and stitches nothing: seams with
brightness jumps.) The K samples of each tile run in one batched call.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jax_iso import mesh as mesh_lib
from jax_iso.diffusion import uncertainty
from jax_iso.infer.apply_fn import TileFn

BLOCK = 64


def position_noise(key: jax.Array, origin: jax.Array, shape: tuple[int, int], block: int = BLOCK) -> jax.Array:
  """[h, w] standard normal noise of the plane region starting at `origin` (y, x; may be negative): the value
  at a plane pixel is the same whatever region contains it."""
  h, w = shape
  first = jnp.floor_divide(origin, block)                  # the block holding the region's first pixel
  offset = origin - first * block
  nby, nbx = (h + 2 * block - 2) // block, (w + 2 * block - 2) // block

  def one(by, bx):
    return jax.random.normal(jax.random.fold_in(jax.random.fold_in(key, by), bx), (block, block), jnp.float32)
  ys = first[0] + jnp.arange(nby)
  xs = first[1] + jnp.arange(nbx)
  blocks = jax.vmap(lambda by: jax.vmap(lambda bx: one(by, bx))(xs))(ys)       # [nby, nbx, block, block]
  mosaic = blocks.transpose(0, 2, 1, 3).reshape(nby * block, nbx * block)
  return jax.lax.dynamic_slice(mosaic, (offset[0], offset[1]), (h, w))


def tile_noise(key: jax.Array, origins: jax.Array, sample_id: jax.Array, shape: tuple[int, int], step,
               *, between: float | None = None) -> jax.Array:
  """[B, h, w] standard normal noise of sampler step `step` (-1: the starting noise) for tiles at `origins`
  (int32 [B, 3]: plane, y, x) of samples `sample_id` [B]: a function of (plane, sample, step, pixel), so
  overlapping tiles agree. With `between` (a factor s), the planes are fine slices j between sections, and the
  noise is cos(pi p / 2) n_k + sin(pi p / 2) n_(k+1), n_k the field of section k, p the slice's position
  between sections k and k + 1 (unit variance kept; continuous from one gap to the next)."""
  keys_of = jax.vmap(lambda p, k: jax.random.fold_in(jax.random.fold_in(key, p), k))

  def field(keys):
    return jax.vmap(lambda k, yx: position_noise(jax.random.fold_in(k, step + 1), yx, shape))(keys, origins[:, 1:])

  if between is None:
    return field(keys_of(origins[:, 0], sample_id))
  u = (origins[:, 0].astype(jnp.float32) + 0.5) / float(between) - 0.5
  section = jnp.floor(u + 1e-6)
  angle = ((u - section) * (jnp.pi / 2))[:, None, None]
  section = section.astype(jnp.int32) + 1                       # from -1 (before the first centre) on: >= 0
  return jnp.cos(angle) * field(keys_of(section, sample_id)) + jnp.sin(angle) * field(keys_of(section + 1, sample_id))


def make_tile_sampler(conditional, model, params, key: jax.Array, *, samples: int = 1,
                      between: float | None = None, **overrides) -> TileFn:
  """`draw(tiles [B, h, w] (or [B, C, h, w]) in [0, 1], origins int32 [B, 3]) -> [B, K, h, w]`: K samples of
  each tile (the condition, of C channels), jitted, the batch sharded over every device and the parameters
  replicated; `origins` (plane, y, x) as `predict_planes(..., origins=True)` gives them. `conditional`: a
  `diffusion.Conditional` (or the training objective); `overrides` change its sampler settings (sampler, steps,
  eta, spacing).

  `between` (a factor s; vEMDiffuse): the planes are fine slices between sections, and the noise of slice j
  blends the noise fields of the two sections around it, cos(pi p / 2) n_k + sin(pi p / 2) n_(k+1) at its
  position p between them (unit variance kept): slices between two sections start from noise that changes
  smoothly with the position, and slices between other sections from other noise."""
  if samples < 1:
    raise ValueError(f"need at least one sample per tile, got {samples}")
  mesh = mesh_lib.make_mesh(local=True)
  batch, repl = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)

  def draw(params, tiles, origins):
    if tiles.ndim == 4:                                                         # [B, C, h, w]: channels last
      tiles = tiles.transpose(0, 2, 3, 1)
    b, h, w = tiles.shape[:3]
    cond = uncertainty.repeat(tiles, samples)                                   # [K * B, h, w]
    where = uncertainty.repeat(origins, samples)
    sample_id = jnp.repeat(jnp.arange(samples), b)
    noise = lambda step: tile_noise(key, where, sample_id, (h, w), step, between=between)[..., None]  # noqa: E731
    out = conditional.sample(model, params, cond, key, z_init=noise(-1), noise_fn=noise, **overrides)
    return uncertainty.unrepeat(out, samples).transpose(1, 0, 2, 3)              # [B, K, h, w]

  jitted = jax.jit(draw, in_shardings=(repl, batch, batch), out_shardings=batch)
  return TileFn(jitted, jax.device_put(params, repl), extra=[((3,), jnp.int32)])


def make_tile_mean(conditional, model, params) -> TileFn:
  """`mean(tiles [B, h, w] (or [B, C, h, w]) in [0, 1], origins int32 [B, 3]) -> [B, 1, h, w]`: the one-pass
  estimate of each tile (`Conditional.mean`: the network at the noisiest time from z = 0), shaped and called as
  `make_tile_sampler`'s draw of one sample (the origins are unused: nothing is drawn), jitted and sharded alike."""
  mesh = mesh_lib.make_mesh(local=True)
  batch, repl = mesh_lib.batch_sharding(mesh), mesh_lib.replicated(mesh)

  def mean(params, tiles, origins):
    del origins
    if tiles.ndim == 4:                                                         # [B, C, h, w]: channels last
      tiles = tiles.transpose(0, 2, 3, 1)
    return conditional.mean(model, params, tiles)[:, None]                      # [B, 1, h, w]

  jitted = jax.jit(mean, in_shardings=(repl, batch, batch), out_shardings=batch)
  return TileFn(jitted, jax.device_put(params, repl), extra=[((3,), jnp.int32)])
