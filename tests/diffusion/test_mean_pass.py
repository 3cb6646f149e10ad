"""The one-pass posterior mean: its training term (on a share of each batch) and its inference call, each
against an independent computation with the same tiny network."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.diffusion import losses, schedules
from jax_iso.errors import UserError
from jax_iso.models.diffusion_unet import DiffusionUNet
from jax_iso.train import objectives

SCHEDULE = {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2}
CONFIG = {"diffusion": {"schedule": SCHEDULE, "prediction": "v", "sampler": "dpm2m", "steps": 2, "eta": 0.0,
                        "clip": True, "mean_fraction": 0.5}}
NET = DiffusionUNet(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0, norm="pixel")


def _params(shape):
  params = jax.jit(NET.init)(jax.random.key(0), jnp.zeros(shape + (2,)), jnp.zeros(shape[0]))
  # the output convolution is zero-initialised: perturb every parameter so the network's output is not 0
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(9), len(leaves))
  return jax.tree.unflatten(tree, [p + 0.05 * jax.random.normal(k, p.shape) for p, k in zip(leaves, keys)])


@jax.jit
def _net(params, cond, z, level):
  """The network on [-1, 1] condition and noisy target, as an independent caller would run it."""
  return NET.apply(params, jnp.concatenate([cond[..., None], z[..., None]], axis=-1), level)[..., 0]


@pytest.mark.slow   # compiles the network (10-25 s on 2 busy cores)
@pytest.mark.long
def test_loss_with_the_mean_term_equals_an_independent_computation():
  x = jax.random.uniform(jax.random.key(1), (4, 16, 16))
  y = jnp.clip(x + 0.1 * jax.random.normal(jax.random.key(7), x.shape), 0, 1)     # the condition (noisy)
  params = _params(x.shape)
  key = jax.random.key(2)
  objective = objectives.make("diffusion", CONFIG)
  got = jax.jit(lambda p: objective.loss(NET, p, y, x, key))(params)
  # independent: the objective's keys (fold_in 2: t then eps), the first 2 examples at t = 1 from z = 0
  sched = schedules.get(SCHEDULE)
  cond, x0 = y * 2 - 1, x * 2 - 1
  k_t, k_eps = jax.random.split(jax.random.fold_in(key, 2))
  t = jnp.maximum(jax.random.uniform(k_t, (4,), jnp.float32, 0.0, 1.0), 1e-6)
  eps = jax.random.normal(k_eps, x0.shape, jnp.float32)
  want = []
  for i in range(4):
    if i < 2:                                          # mean pass: x0 estimate of v-prediction at t = 1, z = 0
      a, s = (float(v) for v in sched.alpha_sigma(jnp.float32(1.0)))
      v = _net(params, cond[i:i + 1], jnp.zeros((1, 16, 16)), sched.log_snr(jnp.ones(1)))
      x0_hat = a * 0.0 - s * v
      want.append(float(jnp.mean((x0_hat - x0[i]) ** 2)))
    else:                                              # diffusion: v = alpha eps - sigma x0 at the drawn t
      a, s = (float(v) for v in sched.alpha_sigma(t[i]))
      z = a * x0[i] + s * eps[i]
      v = _net(params, cond[i:i + 1], z[None], sched.log_snr(t[i:i + 1]))
      want.append(float(jnp.mean((v - (a * eps[i] - s * x0[i])) ** 2)))
  np.testing.assert_allclose(np.asarray(got), want, rtol=2e-5, atol=1e-7)


def test_no_mean_fraction_leaves_the_loss_unchanged():
  """mean_fraction = 0 is the diffusion loss of before, to the bit (no example is taken by the mean pass)."""
  sched = schedules.get(SCHEDULE)
  x0 = jax.random.uniform(jax.random.key(3), (3, 8, 8)) * 2 - 1
  denoise = lambda z, level: z * 0.5 + level[:, None, None] * 0.01        # noqa: E731
  a = losses.diffusion_loss(denoise, sched, x0, jax.random.key(4), prediction="v")
  b = losses.diffusion_loss(denoise, sched, x0, jax.random.key(4), prediction="v", mean_fraction=0.0)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert losses.mean_count(8, 0.5) == 4 and losses.mean_count(3, 0.5) == 2 and losses.mean_count(8, 0.0) == 0


@pytest.mark.slow   # compiles the network (10-25 s on 2 busy cores)
def test_mean_pass_equals_the_network_at_the_last_time():
  """`Conditional.mean` (what infer.mean = "pass" writes, and the objective's prediction) is one call of the
  network at t = 1 with z = 0, mapped to [0, 1] and clipped."""
  y = jax.random.uniform(jax.random.key(5), (2, 16, 16))
  params = _params(y.shape)
  objective = objectives.make("diffusion", CONFIG)
  got = jax.jit(lambda p: objective.mean(NET, p, y))(params)
  sched = schedules.get(SCHEDULE)
  _, s = sched.alpha_sigma(jnp.float32(1.0))
  v = _net(params, y * 2 - 1, jnp.zeros((2, 16, 16)), sched.log_snr(jnp.ones(2)))
  want = jnp.clip(-s * v, -1, 1) * 0.5 + 0.5
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
  pred = jax.jit(lambda p: objective.predict(NET, p, y, jax.random.key(6)))(params)   # deterministic: no key used
  np.testing.assert_array_equal(np.asarray(pred), np.asarray(got))


@pytest.mark.parametrize("change, words", [
    ({"mean_fraction": 1.0}, "mean_fraction=1.0 must be in"),
    ({"mean_fraction": -0.1}, "mean_fraction=-0.1 must be in"),
    ({"mean_fraction": 0.5, "prediction": "eps"}, "needs diffusion.prediction v or x0"),
])
def test_bad_mean_fraction_is_a_one_line_error(change, words):
  with pytest.raises(UserError, match=words):
    objectives.make("diffusion", {"diffusion": {**CONFIG["diffusion"], **change}})
