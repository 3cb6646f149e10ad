"""The "diffusion" objective: its config checks, per-example loss and a sample in [0, 1] as its prediction."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.errors import UserError
from jax_iso.models.diffusion_unet import DiffusionUNet
from jax_iso.train import objectives

CONFIG = {"diffusion": {"schedule": {"name": "linear", "steps": 2000, "beta_start": 1e-6, "beta_end": 1e-2},
                        "prediction": "eps", "sampler": "dpm2m", "steps": 4, "eta": 0.0, "clip": True}}
NET = DiffusionUNet(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.1)


def _params(x):
  return jax.jit(NET.init)(jax.random.key(0), jnp.zeros(x.shape + (2,)), jnp.zeros(x.shape[0]))


@pytest.mark.slow
def test_loss_per_example_and_prediction_in_unit_range():
  objective = objectives.make("diffusion", CONFIG)
  x = jax.random.uniform(jax.random.key(1), (4, 16, 16))
  params = _params(x)
  loss = jax.jit(lambda p, k: objective.loss(NET, p, x, x, k))(params, jax.random.key(2))
  # a zero-initialised output predicts no noise: each term is the mean square of 256 standard normals
  assert loss.shape == (4,) and np.all(np.abs(np.asarray(loss) - 1.0) < 0.35)
  pred = jax.jit(lambda p, k: objective.predict(NET, p, x, k))(params, jax.random.key(3))
  assert pred.shape == (4, 16, 16) and float(pred.min()) >= 0.0 and float(pred.max()) <= 1.0
  assert float(jnp.std(pred)) > 0.1      # a blind network's sample is the noise it started from, clipped


@pytest.mark.slow
def test_sampler_overrides_and_determinism():
  objective = objectives.make("diffusion", CONFIG)
  x = jax.random.uniform(jax.random.key(1), (2, 16, 16))
  params = _params(x)
  a = objective.sample(NET, params, x, jax.random.key(5))
  np.testing.assert_array_equal(np.asarray(a), np.asarray(objective.sample(NET, params, x, jax.random.key(5))))
  b = objective.sample(NET, params, x, jax.random.key(5), sampler="ddpm", steps=3)
  assert b.shape == a.shape


@pytest.mark.parametrize("change, words", [
    ({"prediction": "score"}, "diffusion.prediction='score' is unknown"),
    ({"sampler": "euler"}, "diffusion.sampler='euler' is unknown"),
    ({"steps": 0}, "diffusion.steps=0 must be >= 1"),
    ({"eta": 2.0}, "diffusion.eta=2.0 must be in"),
    ({"schedule": {"name": "sigmoid"}}, "diffusion.schedule: unknown noise schedule 'sigmoid'"),
])
def test_bad_settings_are_one_line_errors(change, words):
  with pytest.raises(UserError, match=words):
    objectives.make("diffusion", {"diffusion": {**CONFIG["diffusion"], **change}})
  with pytest.raises(UserError, match="needs a `diffusion` config section"):
    objectives.make("diffusion", {})


def _fit(loss_fn, params, steps: int = 30) -> tuple[float, float]:
  """(loss before, loss after) `steps` Adam steps (2e-3) on `loss_fn`."""
  import optax  # pylint: disable=g-import-not-at-top
  opt = optax.adam(2e-3)

  @jax.jit
  def step(p, s):
    g = jax.grad(loss_fn)(p)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s

  first, state = float(loss_fn(params)), opt.init(params)
  for _ in range(steps):
    params, state = step(params, state)
  return first, float(loss_fn(params))


@pytest.mark.slow
def test_a_tiny_fit_lowers_the_loss():
  """30 Adam steps on one batch of real-looking structure (smooth blobs) at fixed noise draws: the loss on those
  draws falls well below the blind network's (about 1: it predicts no noise)."""
  objective = objectives.make("diffusion", CONFIG)
  yy, xx = jnp.meshgrid(jnp.arange(16.0), jnp.arange(16.0), indexing="ij")
  x = jnp.stack([0.5 + 0.4 * jnp.sin(yy / (2 + i)) * jnp.cos(xx / (3 + i)) for i in range(4)])
  net = DiffusionUNet(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0)
  params = jax.jit(net.init)(jax.random.key(0), jnp.zeros(x.shape + (2,)), jnp.zeros(4))
  loss_fn = lambda p: objective.loss(net, p, x, x, jax.random.key(9)).mean()
  first, last = _fit(loss_fn, params)
  assert last < 0.5 * first, (first, last)


@pytest.mark.slow
@pytest.mark.long
def test_a_tiny_fit_between_sections_lowers_the_loss():
  """vEMDiffuse: the position-conditioned network, on `between_pair` pairs of a real FIB-SEM crop at x2.5, 30
  Adam steps at fixed pair and noise draws: the loss falls well below the blind network's."""
  from jax_iso.degrade import pairs  # pylint: disable=g-import-not-at-top
  from jax_iso.io import read_volume  # pylint: disable=g-import-not-at-top
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  vol = read_volume(FIBSEM_10NM)[0]
  span = pairs.between_span(2.5)
  clips = jnp.asarray(np.stack([vol[16 * i:16 * i + 16, 40:40 + span, 30:46] for i in range(4)]),
                      jnp.float32) / 255.0                                               # [4, 16, 6, 16]
  inp, target, aux = jax.vmap(lambda k, c: pairs.between_pair(k, c, factor=2.5))(
      jax.random.split(jax.random.key(3), 4), clips)
  assert inp.shape == (4, 16, 16, 3) and float(jnp.ptp(aux["position"])) > 0
  objective = objectives.make("diffusion", CONFIG)
  net = DiffusionUNet(base=8, mults=(1, 2), res_blocks=1, groups=4, head_channels=8, dropout=0.0, position=True)
  params = jax.jit(net.init)(jax.random.key(0), jnp.zeros((4, 16, 16, 4)), jnp.zeros(4))
  loss_fn = lambda p: objective.loss(net, p, inp, target, jax.random.key(9)).mean()
  first, last = _fit(loss_fn, params)
  assert last < 0.5 * first, (first, last)
