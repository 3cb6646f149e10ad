"""The EMDiffuse conditional U-Net: the reference's size, exact zero output at initialisation, the noise level
and the condition reaching the output, dropout only in training; and a tiny diffusion fit on real EM."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jax_iso.diffusion import losses, schedules
from jax_iso.io import read_volume
from jax_iso.models import build_model
from jax_iso.models.diffusion_unet import DiffusionUNet, position_of, sinusoidal
from jax_iso.samples import FIBSEM_10NM

TINY = dict(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0)


def test_default_has_the_reference_size():
  """EMDiffuse-n's U-Net (inner_channel 32, mults 1-2-4-8, 2 res blocks, attention in the middle): 15.68 M."""
  shapes = jax.eval_shape(lambda: DiffusionUNet().init(jax.random.key(0), jnp.zeros((1, 64, 64, 2)), jnp.zeros(1)))
  assert sum(int(np.prod(a.shape)) for a in jax.tree.leaves(shapes)) == 15_677_345


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["group", "pixel"])
def test_output_shape_and_zero_start(norm):
  net = DiffusionUNet(**TINY, out_channels=2, attn_levels=(1,), norm=norm)
  x = jax.random.normal(jax.random.key(0), (3, 16, 24, 3))
  params = jax.jit(net.init)(jax.random.key(1), x, jnp.zeros(3))
  out = jax.jit(net.apply)(params, x, jnp.asarray([-5.0, 0.0, 9.0]))
  assert out.shape == (3, 16, 24, 2) and out.dtype == jnp.float32
  assert float(jnp.abs(out).max()) == 0.0        # the output convolution starts at zero (guided-diffusion)


def _perturbed(net, x, seed=2):
  params = jax.jit(net.init)(jax.random.key(1), x, jnp.zeros(x.shape[0]))
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  return jax.tree.unflatten(tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


@pytest.mark.slow
def test_noise_level_and_condition_change_the_output():
  net = DiffusionUNet(**TINY)
  x = jax.random.normal(jax.random.key(0), (2, 16, 16, 2))
  params = _perturbed(net, x)
  apply = jax.jit(net.apply)
  base = apply(params, x, jnp.asarray([1.0, 1.0]))
  other = apply(params, x, jnp.asarray([1.0, 3.0]))
  assert float(jnp.abs(other[1] - base[1]).mean()) > 1e-3
  np.testing.assert_allclose(np.asarray(other[0]), np.asarray(base[0]), atol=1e-6)   # examples are independent
  cond = x.at[..., 0].multiply(-1.0)                                                 # (no batch statistics)
  assert float(jnp.abs(apply(params, cond, jnp.asarray([1.0, 1.0])) - base).mean()) > 1e-3


@pytest.mark.slow
def test_position_channel_reaches_the_output_smoothly():
  """vEMDiffuse: the last condition channel's value (the slice's position, fractional for any factor) is read
  and embedded: other positions give other outputs, nearby positions nearby outputs; without `position` the
  same channel is an ordinary input."""
  net = DiffusionUNet(**TINY, position=True)
  images = jax.random.normal(jax.random.key(0), (1, 16, 16, 3))

  def with_position(p):   # [sections below and above, position map, noisy target]
    return jnp.concatenate([images[..., :2], jnp.full((1, 16, 16, 1), p), images[..., 2:]], axis=-1)
  params = _perturbed(net, with_position(0.0))
  assert "position1" in params["params"] and "position2" in params["params"]
  np.testing.assert_allclose(float(position_of(with_position(0.4))[0]), 0.4, atol=1e-6)
  apply = jax.jit(net.apply)
  out = {p: apply(params, with_position(p), jnp.zeros(1)) for p in (0.4, 0.41, 0.6, 0.9)}
  far = float(jnp.abs(out[0.9] - out[0.4]).mean())
  assert far > 1e-3 and float(jnp.abs(out[0.6] - out[0.4]).mean()) > 1e-3
  assert float(jnp.abs(out[0.41] - out[0.4]).mean()) < 0.5 * far
  plain = DiffusionUNet(**TINY)
  assert "position1" not in jax.eval_shape(plain.init, jax.random.key(0), with_position(0.4), jnp.zeros(1))["params"]


@pytest.mark.slow
def test_dropout_only_in_training():
  net = DiffusionUNet(**{**TINY, "dropout": 0.5})
  x = jax.random.normal(jax.random.key(0), (1, 16, 16, 2))
  params = _perturbed(net, x)
  level = jnp.zeros(1)
  apply = jax.jit(net.apply, static_argnames="train")
  np.testing.assert_array_equal(np.asarray(apply(params, x, level)), np.asarray(apply(params, x, level)))
  a = apply(params, x, level, train=True, rngs={"dropout": jax.random.key(3)})
  b = apply(params, x, level, train=True, rngs={"dropout": jax.random.key(4)})
  assert float(jnp.abs(a - b).mean()) > 1e-4


def test_sinusoidal_embedding_against_numpy():
  level = np.asarray([-3.0, 0.5, 700.0], np.float32)
  freqs = np.exp(-np.log(10000.0) * np.arange(4) / 4)
  want = np.concatenate([np.cos(level[:, None] * freqs), np.sin(level[:, None] * freqs)], axis=1)
  np.testing.assert_allclose(np.asarray(sinusoidal(jnp.asarray(level), 8)), want, atol=2e-4)  # |arg| <= 700:
  # float32 rounds the argument by <= 700 x 6e-8 = 4e-5 rad


@pytest.mark.parametrize("field, value, words", [("mults", (), "mults=()"), ("attn_levels", (3,), "levels 0..1"),
                                                 ("dropout", 1.0, "dropout=1.0"), ("norm", "batch", "norm='batch'")])
def test_bad_fields(field, value, words):
  from jax_iso.errors import UserError
  with pytest.raises(UserError, match=words.replace("(", r"\(").replace(")", r"\)")):
    build_model({"name": "diffusion_unet", **TINY, field: value})


@pytest.mark.slow
@pytest.mark.long
def test_a_tiny_denoising_fit_on_real_em_lowers_the_loss():
  vol = np.asarray(read_volume(FIBSEM_10NM)[0])
  rng = np.random.default_rng(0)
  crops = np.stack([vol[z, y:y + 32, x:x + 32] for z, y, x in rng.integers(0, 120, (16, 3))])
  clean = jnp.asarray(crops, jnp.float32)[..., None] / 127.5 - 1.0                          # [-1, 1]
  noisy = clean + 0.3 * jax.random.normal(jax.random.key(0), clean.shape)                     # the condition
  schedule = schedules.get({"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2})
  net = DiffusionUNet(**TINY)
  params = net.init(jax.random.key(1), jnp.concatenate([noisy, clean], -1), jnp.zeros(16))
  opt = optax.adam(2e-3)

  def loss(p, key):
    denoise = lambda z, level: net.apply(p, jnp.concatenate([noisy, z], -1), level)
    return losses.diffusion_loss(denoise, schedule, clean, key, prediction="eps").mean()

  @jax.jit
  def step(p, s, key):
    value, g = jax.value_and_grad(loss)(p, key)
    updates, s = opt.update(g, s, p)
    return optax.apply_updates(p, updates), s, value

  held_out = lambda p: float(np.mean([loss(p, jax.random.key(100 + i)) for i in range(4)]))
  before = held_out(params)
  state = opt.init(params)
  for i in range(60):
    params, state, _ = step(params, state, jax.random.key(i))
  after = held_out(params)
  # zero output at the start: E[eps^2] = 1; knowing the noisy condition, the noise of z is readable at every level
  assert 0.9 < before < 1.1 and after < 0.5 * before, (before, after)
