"""Seamless diffusion tiles: noise that is a function of the pixel, and two tilings of one image that agree."""
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso import infer
from jax_iso.infer.diffusion_tiles import make_tile_sampler, position_noise
from jax_iso.io import read_volume
from jax_iso.models.diffusion_unet import DiffusionUNet
from jax_iso.samples import FIBSEM_10NM
from jax_iso.train import objectives

CONFIG = {"diffusion": {"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
                        "prediction": "eps", "sampler": "dpm2m", "steps": 4, "eta": 0.0, "clip": True}}
# per-pixel normalisation: GroupNorm's statistics over each tile made two tilings differ by 5/255 on average
# everywhere (not only at seams), whatever the noise
NET = DiffusionUNet(base=8, mults=(1, 2, 4), res_blocks=1, head_channels=16, dropout=0.0, norm="pixel")


@pytest.mark.slow
def test_position_noise_is_a_function_of_the_pixel():
  key = jax.random.key(0)
  a = np.asarray(position_noise(key, jnp.asarray([-10, 5]), (100, 90)))
  b = np.asarray(position_noise(key, jnp.asarray([30, 40]), (80, 80)))
  np.testing.assert_array_equal(a[40:, 35:], b[:60, :55])           # plane rows 30..89, columns 40..94
  big = np.asarray(position_noise(key, jnp.asarray([-300, 1000]), (256, 256)))
  assert abs(big.mean()) < 0.02 and abs(big.std() - 1.0) < 0.02        # 65,536 normals: 4 s.e. = 0.016
  assert np.abs(np.asarray(position_noise(jax.random.key(1), jnp.asarray([-10, 5]), (100, 90))) - a).mean() > 0.5


@pytest.fixture(scope="module")
def trained():
  """The objective, a tiny denoiser (its initial weights perturbed, so that every layer acts) and a 512^2 real
  FIB-SEM section with Gaussian noise (sigma 0.1 of [0, 1]) and without."""
  vol = np.asarray(read_volume(FIBSEM_10NM)[0], np.float32) / 255.0
  objective = objectives.make("diffusion", CONFIG)
  params = jax.jit(NET.init)(jax.random.key(1), jnp.zeros((1, 32, 32, 2)), jnp.zeros(1))
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(2), len(leaves))
  params = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
  clean = np.pad(vol[80], ((0, 352), (0, 352)), mode="reflect")[None]
  image = np.clip(clean + 0.1 * np.random.default_rng(2).standard_normal(clean.shape), 0, 1).astype(np.float32)
  return objective, params, image, clean


def _tiled(draw, image, tile, overlap):
  return infer.predict_planes(draw, image, tile=tile, overlap=overlap, margin=16, batch_size=8, multiple=4,
                              origins=True)[:, 0]


@pytest.mark.slow
@pytest.mark.long
def test_two_tilings_of_a_512_image_agree(trained):
  objective, params, image, clean = trained
  draw = make_tile_sampler(objective, NET, params, jax.random.key(3), samples=1)
  a = _tiled(draw, image, 128, 32)
  b = _tiled(draw, image, 192, 48)
  assert a.shape == b.shape == image.shape
  assert np.abs(a - b).mean() < 1.0 / 255
  assert a.std() > 0.05 and np.abs(a - image).mean() > 0.01          # the network acts
  # the same sampler with the noise drawn per tile (every tile at one origin): the tilings disagree
  per_tile = lambda tiles, where: draw(tiles, where * np.array([1, 0, 0], np.int32))
  c, d = _tiled(per_tile, image, 128, 32), _tiled(per_tile, image, 192, 48)
  assert np.abs(c - d).mean() > 4.0 / 255


@pytest.mark.slow
def test_k_samples_in_one_call_differ_by_their_noise(trained):
  objective, params, image, _ = trained
  tiles = jnp.asarray(image[:, :64, :64].repeat(2, axis=0))
  where = jnp.asarray([[0, 0, 0], [1, 0, 0]], jnp.int32)
  draw = make_tile_sampler(objective, NET, params, jax.random.key(4), samples=3, sampler="ddpm", steps=6)
  out = np.asarray(draw(tiles, where))
  assert out.shape == (2, 3, 64, 64)
  assert np.abs(out[0, 0] - out[0, 1]).mean() > 1e-3                  # samples of one tile differ
  assert np.abs(out[0] - out[1]).mean() > 1e-3                         # so do planes (their own noise)
  np.testing.assert_array_equal(out, np.asarray(draw(tiles, where)))   # and all is a function of the key


_SHARDED = """
import jax, jax.numpy as jnp, numpy as np
from jax_iso.diffusion.conditional import Conditional
from jax_iso.infer.diffusion_tiles import make_tile_sampler
from jax_iso.models.diffusion_unet import DiffusionUNet
net = DiffusionUNet(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0, norm="pixel")
params = jax.jit(net.init)(jax.random.key(1), jnp.zeros((1, 32, 32, 2)), jnp.zeros(1))
leaves, tree = jax.tree.flatten(params)
keys = jax.random.split(jax.random.key(2), len(leaves))
params = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])
conditional = Conditional({"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
                           "prediction": "v", "sampler": "ddpm", "steps": 4, "eta": 0.0, "clip": True})
tiles = jnp.asarray(np.random.default_rng(0).random((4, 32, 32), np.float32))
where = jnp.asarray([[0, 0, 0], [0, 0, 32], [1, 0, 0], [1, 32, 32]], jnp.int32)
draw = make_tile_sampler(conditional, net, params, jax.random.key(3), samples=2)
sharded = np.asarray(draw(tiles, where))
print(jax.device_count(), sharded.shape, float(np.abs(sharded).mean()))
np.save(__import__("sys").argv[1], sharded)
"""


@pytest.mark.slow
def test_sampling_sharded_over_four_devices_equals_one_device(tmp_path):
  """The same K samples of the same tiles whether the batch is split over 4 (forced CPU) devices or not."""
  outs = []
  for devices in (4, 1):
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu",
           "JAX_COMPILATION_CACHE_DIR": jax.config.jax_compilation_cache_dir or "",
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.2"}
    path = tmp_path / f"d{devices}.npy"
    run = subprocess.run([sys.executable, "-c", _SHARDED, str(path)], env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[0] == str(devices)
    outs.append(np.load(path))
  assert outs[0].shape == (4, 2, 32, 32)
  # float32: another partitioning of the same 4 network evaluations (sums reordered: ~1e-6 relative each,
  # compounding over 4 steps); a tile's noise or condition sent to another tile would differ by > 0.1
  np.testing.assert_allclose(outs[0], outs[1], atol=1e-4)
