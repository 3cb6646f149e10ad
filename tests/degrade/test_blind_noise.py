"""The blind denoiser's noise: correlated noise and log-uniform Gaussian levels against numpy, and the mixture
of noise kinds per crop (`pairs.noise_mixture_pair`, `config.blind_noise_pair`): its picks follow the
probabilities, each pick is its pipeline's output, and the whole is a function of the key."""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import config as degrade_config
from jax_iso.degrade import noise, pairs
from jax_iso.degrade.pipeline import Pipeline

COMPILED_ATOL = 5e-6   # eager and jit contract multiply-adds differently (tests/degrade/test_noise.py)


def _image(shape=(2, 16, 24), seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _kernel(length: float, radius: int) -> np.ndarray:
  """The 1D Gaussian weights (sum 1) numpy would blur with."""
  taps = np.arange(-radius, radius + 1, dtype=np.float64)
  w = np.exp(-0.5 * (taps / max(length, 1e-3)) ** 2)
  return w / w.sum()


def test_correlated_noise_contract():
  op = functools.partial(noise.correlated_noise, sigma=(0.01, 0.05), length=(0.5, 2.0))
  x, key = _image(), jax.random.key(1)
  y, aux = op(key, x)
  yj, auxj = jax.jit(op)(key, x)
  assert y.shape == x.shape and y.dtype == x.dtype and set(aux) == {"sigma", "length"}
  np.testing.assert_allclose(y, yj, atol=COMPILED_ATOL)
  np.testing.assert_array_equal(y, op(key, x)[0])                       # a function of the key
  assert not np.allclose(y, op(jax.random.key(2), x)[0])
  np.testing.assert_array_equal(noise.correlated_noise(key, x, sigma=(0.0, 0.0))[0], x)   # zero strength
  yb, _ = op(key, jnp.asarray(x, jnp.bfloat16))
  assert yb.dtype == jnp.bfloat16
  for bad in ({"sigma": (-0.1, 0.1)}, {"length": (2.0, 1.0)}, {"length": (-1.0, 1.0)}):
    with pytest.raises(ValueError):
      noise.correlated_noise(key, x, **bad)
  with pytest.raises(ValueError, match="log-uniform"):
    noise.correlated_noise(key, x, sigma=(0.0, 0.1), log_scale=True)


@pytest.mark.parametrize("length", [0.0, 0.7, 1.5])
def test_correlated_noise_statistics_match_numpy(length):
  """Standard deviation s, zero mean, and the autocorrelation at lags 1 and 2 along Y and X that numpy gives for
  white noise blurred by the same kernel (and the closed form sum w_i w_(i+k) / sum w_i^2)."""
  x = np.full((8, 128, 128), 0.5, np.float32)
  s = 0.05
  y, aux = noise.correlated_noise(jax.random.key(3), x, sigma=(s, s), length=(length, length))
  assert float(aux["length"]) == pytest.approx(length, abs=1e-6)
  r = np.asarray(y, np.float64) - x
  assert r.std() == pytest.approx(s, rel=0.03)
  assert abs(r.mean()) < 0.1 * s
  radius = int(math.ceil(3 * length))
  w = _kernel(length, radius)
  rng = np.random.default_rng(0)                       # numpy: separable blur of white noise, valid part
  white = rng.standard_normal((8, 128 + 2 * radius, 128 + 2 * radius))
  ref = sum(w[i] * white[:, i:i + 128, :] for i in range(2 * radius + 1))
  ref = sum(w[i] * ref[:, :, i:i + 128] for i in range(2 * radius + 1)) / np.sum(w * w)
  assert ref.std() == pytest.approx(1.0, rel=0.03)
  for lag in (1, 2):
    closed = float(np.sum(w[:-lag] * w[lag:]) / np.sum(w * w)) if len(w) > lag else 0.0
    for axis in (1, 2):
      a, b = (np.take(v, np.arange(128 - lag), axis=axis) for v in (r, ref))
      a2, b2 = (np.take(v, np.arange(lag, 128), axis=axis) for v in (r, ref))
      ours, numpys = (a * a2).mean() / r.var(), (b * b2).mean() / ref.var()
      assert ours == pytest.approx(numpys, abs=0.03) and ours == pytest.approx(closed, abs=0.03)
  assert abs((r[:4] * r[4:]).mean()) / r.var() < 0.03                   # independent between leading indices


def test_log_scale_gaussian_levels_are_log_uniform():
  keys = jax.random.split(jax.random.key(7), 3000)
  op = lambda k: noise.gaussian_noise(k, jnp.zeros((2, 4)), sigma=(0.005, 0.15), log_scale=True)  # noqa: E731
  s = np.log(np.asarray(jax.jit(jax.vmap(op))(keys)[1]["sigma"], np.float64))
  lo, hi = math.log(0.005), math.log(0.15)
  assert s.min() >= lo - 1e-5 and s.max() <= hi + 1e-5
  width = hi - lo                                      # uniform in log: its mean and standard deviation
  assert abs(s.mean() - (lo + hi) / 2) < 0.03 * width and abs(s.std() - width / math.sqrt(12)) < 0.03 * width
  y, aux = noise.gaussian_noise(jax.random.key(1), np.zeros((4, 128, 128), np.float32), sigma=(0.02, 0.02),
                                log_scale=True)
  assert float(aux["sigma"]) == pytest.approx(0.02, rel=1e-5) and np.asarray(y).std() == pytest.approx(0.02, rel=0.03)


def _mixture():
  return pairs.make_pair_fn(degrade_config.blind_noise_pair())


def test_mixture_is_a_function_of_the_key():
  x = _image((4, 32, 32))
  batch = jax.jit(pairs.make_batch_fn(degrade_config.blind_noise_pair()))
  a = batch(jax.random.key(0), x)
  b = jax.jit(pairs.make_batch_fn(degrade_config.blind_noise_pair()))(jax.random.key(0), x)   # built again
  c = batch(jax.random.key(1), x)
  np.testing.assert_array_equal(a[0], b[0])
  np.testing.assert_array_equal(a[2]["kind"], b[2]["kind"])
  np.testing.assert_array_equal(a[1], x)                                # the target is the crop itself
  assert not np.allclose(a[0], c[0])


@pytest.fixture(scope="module")
def flat_draws():
  """(kinds [N], noisy [N, 16, 16]) of the mixture on a flat image of 0.5 for 3000 keys (one compilation)."""
  make = _mixture()
  keys = jax.random.split(jax.random.key(2), 3000)
  x = np.full((16, 16), 0.5, np.float32)
  inp, _, aux = jax.jit(jax.vmap(lambda k: make(k, x)))(keys)
  return np.asarray(aux["kind"]), np.asarray(inp, np.float64)


@pytest.mark.slow   # compiles the mixture (10-20 s on 2 busy cores)
def test_mixture_picks_follow_the_probabilities(flat_draws):
  cfg = degrade_config.blind_noise_pair()
  kinds, _ = flat_draws
  share = np.bincount(kinds, minlength=len(cfg.kinds)) / len(kinds)
  want = np.asarray(cfg.kind_probs) / sum(cfg.kind_probs)
  assert np.all(np.abs(share - want) < 4 * np.sqrt(want * (1 - want) / len(kinds))), (share, want)


@pytest.mark.slow   # compiles the mixture (10-20 s on 2 busy cores)
def test_mixture_levels_span_barely_to_very_noisy(flat_draws):
  """Over many crops of a flat image, the noise's standard deviation runs from below 0.01 to above 0.12, and the
  noisy crops are clipped to [0, 1] as a stored image is."""
  _, inp = flat_draws
  std = (inp - 0.5).reshape(len(inp), -1).std(axis=1)
  assert std.min() < 0.01 and std.max() > 0.12
  assert 0.0 <= inp.min() and inp.max() <= 1.0


@pytest.mark.slow   # compiles the mixture (10-20 s on 2 busy cores)
def test_each_pick_is_its_pipeline():
  """An example of kind k is the pipeline named kinds[k] applied with the mixture's noise key (split(key)[1])."""
  cfg = degrade_config.blind_noise_pair()
  make = jax.jit(_mixture())
  pipes = {name: jax.jit(Pipeline.from_config(cfg.components[name])) for name in cfg.kinds}
  img = _image((24, 24), seed=4)
  seen = set()
  for i in range(24):
    key = jax.random.key(100 + i)
    inp, _, aux = make(key, img)
    name = cfg.kinds[int(aux["kind"])]
    seen.add(name)
    np.testing.assert_allclose(inp, pipes[name](jax.random.split(key)[1], img)[0], atol=COMPILED_ATOL)
  assert seen == set(cfg.kinds)


@pytest.mark.parametrize("change, words", [
    ({"kinds": ("gaussian", "speckle")}, "missing: speckle"),
    ({"kind_probs": (0.5, 0.5)}, "one non-negative probability per kind"),
    ({"kind_probs": (1.0, -0.5, 0.25, 0.25)}, "one non-negative probability per kind"),
])
def test_bad_mixtures_raise(change, words):
  cfg = degrade_config.blind_noise_pair()
  cfg.update(change)
  make = pairs.make_pair_fn(cfg)
  with pytest.raises(ValueError, match=words):
    make(jax.random.key(0), _image((8, 8)))
