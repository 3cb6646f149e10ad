"""Tiling and blending of planes: exact for pixelwise models, tile-independent for a U-Net, no seams."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso import infer
from jax_iso.errors import UserError
from jax_iso.infer import tiles
from jax_iso.models.unet import UNet

_IDENTITY = jax.jit(lambda x: x)
_SHAPES = [(1, 1, 1), (2, 5, 3), (1, 31, 47), (3, 64, 64), (2, 65, 63), (1, 128, 96), (1, 200, 33)]


def _planes(shape, seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("tile,overlap,margin,multiple", [(32, 8, 6, 4), ((16, 40), 4, 0, 4), (24, 12, 3, 1)])
def test_identity_model_reproduces_planes(shape, tile, overlap, margin, multiple):
  planes = _planes(shape)
  out = infer.predict_planes(_IDENTITY, planes, tile=tile, overlap=overlap, margin=margin, batch_size=5,
                             multiple=multiple)
  assert out.shape == shape and out.dtype == np.float32
  np.testing.assert_allclose(out, planes, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(2, 45, 77), (1, 64, 64), (1, 7, 130)])
def test_smooth_pixelwise_model_is_reproduced(shape):
  planes = _planes(shape, seed=1)
  fn = jax.jit(lambda x: jnp.tanh(3.0 * x - 1.0) * jnp.exp(-x))
  out = infer.predict_planes(fn, planes, tile=32, overlap=16, margin=4, batch_size=4, multiple=4)
  # float32: XLA's tanh and exp approximations are within a few ulp of numpy's (values <= 1: ~5e-7 for the
  # product), plus the blend's few roundings; a tile out of place would differ by ~0.1
  np.testing.assert_allclose(out, np.tanh(3.0 * planes - 1.0) * np.exp(-planes), atol=2e-6)


@pytest.mark.parametrize("shape", [(2, 3, 45, 77), (1, 2, 7, 130)])
def test_planes_of_several_channels_reach_the_model_together(shape):
  """[N, C, H, W] planes: each tile arrives as [B, C, th, tw] with its channels aligned; a pixelwise model of
  the channels is reproduced exactly."""
  planes = _planes(shape, seed=2)
  weights = jnp.arange(1.0, shape[1] + 1.0)
  fn = jax.jit(lambda x: jnp.einsum("bchw,c->bhw", x, weights))
  out = infer.predict_planes(fn, planes, tile=32, overlap=8, margin=4, batch_size=3, multiple=4)
  assert out.shape == (shape[0],) + shape[2:]
  # float32: a weighted sum of <= 3 values below 1 (weights <= 3) rounds by ~1e-6, the blend adds a few roundings
  np.testing.assert_allclose(out, np.einsum("nchw,c->nhw", planes, np.asarray(weights)), atol=4e-6)


@pytest.fixture(scope="module")
def small_unet():
  model = UNet(depth=2, width=8, kernel=3)
  params = model.init(jax.random.key(0), jnp.zeros((1, 16, 16)))
  return model, jax.jit(lambda x: model.apply(params, x))


@pytest.mark.slow
def test_unet_output_does_not_depend_on_the_tile_size(small_unet):
  model, fn = small_unet
  planes = _planes((2, 70, 90), seed=2)
  kw = dict(margin=model.receptive_field, batch_size=6, multiple=model.multiple)
  ref = infer.predict_planes(fn, planes, tile=128, overlap=0, **kw)          # one tile per plane
  assert np.abs(ref - planes).max() > 0.01                                    # the model does something
  for tile, overlap in [(24, 8), (40, 16), ((64, 32), 8), (48, 4)]:
    out = infer.predict_planes(fn, planes, tile=tile, overlap=overlap, **kw)
    assert np.abs(out - ref).max() < 1e-4, (tile, overlap)


@pytest.mark.slow
def test_unet_with_too_little_context_does_depend_on_the_tiling(small_unet):
  """The check above has teeth: a margin below the receptive field makes tiles visible."""
  model, fn = small_unet
  planes = _planes((1, 70, 90), seed=2)
  kw = dict(batch_size=6, multiple=model.multiple)
  ref = infer.predict_planes(fn, planes, tile=128, overlap=0, margin=model.receptive_field, **kw)
  out = infer.predict_planes(fn, planes, tile=24, overlap=8, margin=4, **kw)
  assert np.abs(out - ref).max() > 1e-3


def _tile_offset_fn(calls):
  """A model whose output is its input plus one random constant per tile (a per-tile brightness)."""
  rng = np.random.default_rng(3)

  def fn(x):
    c = rng.uniform(0.0, 1.0, (x.shape[0], 1, 1)).astype(np.float32)
    calls.append(c[:, 0, 0])
    return x + c
  return fn


@pytest.mark.parametrize("overlap", [8, 16, 32])
def test_per_tile_offsets_blend_without_seams(overlap):
  planes = _planes((2, 150, 170), seed=4) * 0.1
  calls = []
  out = infer.predict_planes(_tile_offset_fn(calls), planes, tile=64, overlap=overlap, margin=8, batch_size=7,
                             multiple=4)
  offset = out - planes
  c = np.concatenate(calls)
  spread = c.max() - c.min()
  # A convex blend of the tiles' constants: never brighter or darker than the tiles themselves ...
  assert offset.min() >= c.min() - 1e-6 and offset.max() <= c.max() + 1e-6
  # ... changing by at most pi / (2 * overlap) * spread per pixel (the steepest step of the sin^2 ramps).
  bound = np.pi / (2 * overlap) * spread + 1e-5
  steps = max(np.abs(np.diff(offset, axis=1)).max(), np.abs(np.diff(offset, axis=2)).max())
  assert steps <= bound
  assert spread > 0.5                                     # the tiles did differ a lot


def test_without_overlap_the_same_model_shows_seams():
  planes = _planes((2, 150, 170), seed=4) * 0.1
  out = infer.predict_planes(_tile_offset_fn([]), planes, tile=64, overlap=0, margin=8, batch_size=7,
                             multiple=4)
  steps = np.abs(np.diff(out - planes, axis=2)).max()
  assert steps > np.pi / (2 * 8)                          # what the blended test above would reject


def test_tile_interiors_keep_their_own_constant():
  planes = np.zeros((1, 100, 100), np.float32)
  calls = []
  out = infer.predict_planes(_tile_offset_fn(calls), planes, tile=40, overlap=8, margin=4, batch_size=16,
                             multiple=4)
  plan = infer.plan_tiles((100, 100), tile=40, overlap=8, margin=4, multiple=4)
  c = calls[0][:plan.per_plane].reshape(plan.rows.count, plan.cols.count)
  # tile (0, 0) alone covers [0, tile - overlap) on both axes
  inner = plan.rows.tile - plan.rows.overlap
  np.testing.assert_allclose(out[0, :inner, :inner], c[0, 0], atol=1e-6)


@pytest.mark.parametrize("size,tile,overlap,multiple", [(1, 32, 8, 4), (37, 32, 8, 4), (64, 32, 8, 8),
                                                         (1000, 256, 32, 4), (129, 64, 0, 16), (90, 32, 7, 4)])
def test_tiles_are_aligned_cover_the_axis_and_weights_sum_to_one(size, tile, overlap, multiple):
  ax = tiles.axis_tiles(size, tile=tile, overlap=overlap, margin=5, multiple=multiple)
  assert ax.tile % multiple == 0 and ax.stride % multiple == 0 and ax.margin % multiple == 0
  assert ax.margin >= 5 and ax.tile <= tiles.round_up(tile, multiple)
  assert ax.extent >= size and ax.extent - ax.stride < size            # covers, without a useless last tile
  if ax.count > 1:
    assert ax.overlap == tiles.round_up(overlap, multiple)
  np.testing.assert_allclose(ax.weight_sum(), 1.0, atol=1e-6)
  assert ax.weights().min() > 0


def test_batches_are_padded_to_a_multiple_of_the_device_count(monkeypatch):
  monkeypatch.setattr(tiles.jax, "local_device_count", lambda: 3)
  seen = []

  def fn(x):
    seen.append(x.shape)
    return x

  planes = _planes((2, 50, 50), seed=5)
  out = infer.predict_planes(fn, planes, tile=24, overlap=8, margin=4, batch_size=8, multiple=4)
  np.testing.assert_allclose(out, planes, atol=1e-6)
  plan = infer.plan_tiles((50, 50), tile=24, overlap=8, margin=4, multiple=4)
  assert all(s == (9,) + plan.window for s in seen)                 # 8 rounded up to 3 devices
  assert len(seen) == -(-2 * plan.per_plane // 9)
  seen.clear()
  infer.predict_planes(fn, planes[:1, :10, :10], tile=24, overlap=8, margin=4, batch_size=8, multiple=4)
  assert seen == [(3, 20, 20)]                      # one tile of 12 + 2 * 4: one device-sized batch


def test_bad_tiling_and_bad_models_are_reported():
  planes = _planes((1, 100, 100))
  with pytest.raises(UserError, match="overlap"):
    infer.predict_planes(_IDENTITY, planes, tile=32, overlap=32, margin=0, batch_size=2, multiple=4)
  with pytest.raises(ValueError, match="keep the shape"):
    infer.predict_planes(lambda x: x[:, 1:], planes, tile=32, overlap=8, margin=0, batch_size=2, multiple=4)


_SHARDED = """
import jax, jax.numpy as jnp, numpy as np
from jax_iso import infer
from jax_iso.models.unet import UNet
assert jax.device_count() == 4
model = UNet(depth=2, width=8, kernel=3)
params = model.init(jax.random.key(0), jnp.zeros((1, 16, 16)))
planes = np.random.default_rng(0).random((3, 50, 70)).astype(np.float32)
kw = dict(tile=32, overlap=8, margin=model.receptive_field, multiple=model.multiple)
sharded = infer.predict_planes(infer.make_apply_fn(model, params), planes, batch_size=6, **kw)
single = infer.predict_planes(jax.jit(lambda x: model.apply(params, x)), planes, batch_size=6, **kw)
print(float(np.abs(sharded - single).max()))
"""


@pytest.mark.slow
def test_sharded_model_on_four_devices_gives_the_same_planes():
  """Batches padded to 8 (6 rounded up to 4 devices) through the engine's sharded apply_fn."""
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
         "JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir or "",
         "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.2"}
  out = subprocess.run([sys.executable, "-c", _SHARDED], env=env, capture_output=True, text=True, timeout=300,
                       check=False)
  assert out.returncode == 0, out.stderr
  # float32: per-device batches are another compilation of the ~10 convolutions (sums of <= 9 * 16 products of
  # order-1 values, reordered: ~1e-6 relative each, compounding to ~1e-5); a tile sent to the wrong place or a
  # padded example leaking into a real one would change outputs by > 1e-2 (the model moves values by that much)
  assert float(out.stdout.split()[-1]) < 1e-4
