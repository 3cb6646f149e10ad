"""Noise ops: the op contract, their drawn strengths, and their noise statistics against the models."""
import functools
import importlib
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import noise
from shared_data import shared_file

OPS = {
    "gaussian_noise": (noise.gaussian_noise, {}),
    "poisson_gaussian_noise": (noise.poisson_gaussian_noise, {}),
    "scan_line_noise": (noise.scan_line_noise, {}),
}
ZERO = {
    "gaussian_noise": {"sigma": (0.0, 0.0)},
    "poisson_gaussian_noise": {"dose": None, "read_sigma": (0.0, 0.0)},
    "scan_line_noise": {"sigma": (0.0, 0.0), "gain_sigma": (0.0, 0.0)},
}
# (param, range, log-uniform?) for every drawn scalar, with the aux name equal to the param name
DRAWN = [
    ("gaussian_noise", "sigma", (0.01, 0.05), False),
    ("poisson_gaussian_noise", "dose", (20.0, 200.0), True),
    ("poisson_gaussian_noise", "read_sigma", (0.0, 0.02), False),
    ("scan_line_noise", "sigma", (0.0, 0.03), False),
    ("scan_line_noise", "gain_sigma", (0.01, 0.02), False),
]



def _image(shape=(2, 16, 24), seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


# float32, two compilations of an op (eager / jit / vmap fuse and contract multiply-adds differently); the worst is
# the shot noise x + sqrt(x / d + r^2) n: the dose d = exp(u) (u <= 5.3, ulp 4.8e-7) may move by 7e-7 relative, the
# normal draw n (|n| <= 4.5) by a few ulp of its erfinv polynomial, on a noise term <= 1: <= ~1.1e-6.
COMPILED_ATOL = 5e-6


@pytest.mark.parametrize("name", OPS)
def test_eager_matches_jit(name):
  op, params = OPS[name]
  x, key = _image(), jax.random.key(1)
  y, aux = op(key, x, **params)
  yj, auxj = jax.jit(functools.partial(op, **params))(key, x)
  assert y.shape == x.shape and y.dtype == x.dtype
  np.testing.assert_allclose(y, yj, atol=COMPILED_ATOL)
  assert aux.keys() == auxj.keys()
  for k in aux:                             # u * (hi - lo) + lo (1 ulp), the dose exp of that: <= 7e-7 relative
    np.testing.assert_allclose(aux[k], auxj[k], rtol=2e-6)


@pytest.mark.parametrize("name", OPS)
def test_fixed_key_is_deterministic_and_keys_differ(name):
  op, params = OPS[name]
  x = _image()
  y1, _ = op(jax.random.key(3), x, **params)
  y2, _ = op(jax.random.key(3), x, **params)
  y3, _ = op(jax.random.key(4), x, **params)
  np.testing.assert_array_equal(y1, y2)
  assert not np.allclose(y1, y3)


@pytest.mark.parametrize("name", OPS)
def test_vmap_over_keys_draws_per_example(name):
  op, params = OPS[name]
  x = _image((4, 8, 8))
  keys = jax.random.split(jax.random.key(5), 4)
  y, aux = jax.jit(jax.vmap(functools.partial(op, **params)))(keys, x)
  assert y.shape == x.shape
  for k, v in aux.items():
    assert v.shape == (4,) and len(np.unique(np.asarray(v))) == 4, k
  y0, _ = op(keys[0], x[0], **params)
  np.testing.assert_allclose(y[0], y0, atol=COMPILED_ATOL)              # vmap and a single call: two compilations


@pytest.mark.parametrize("name", OPS)
def test_zero_strength_is_identity(name):
  op, _ = OPS[name]
  x = _image()
  x[0, 0, :3] = [-0.2, 0.0, 1.3]                       # also outside [0, 1]
  y, _ = jax.jit(functools.partial(op, **ZERO[name]))(jax.random.key(0), x)
  np.testing.assert_array_equal(y, x)
  y, _ = op(jax.random.key(0), jnp.asarray(x, jnp.bfloat16), **ZERO[name])
  assert y.dtype == jnp.bfloat16
  np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(jnp.asarray(x, jnp.bfloat16), np.float32))


@pytest.mark.parametrize("name", OPS)
def test_bfloat16_keeps_dtype(name):
  op, params = OPS[name]
  y, _ = op(jax.random.key(0), jnp.asarray(_image(), jnp.bfloat16), **params)
  assert y.dtype == jnp.bfloat16 and y.shape == (2, 16, 24)


@pytest.mark.parametrize("name,param,value_range,log", DRAWN)
def test_drawn_strengths_cover_their_range(name, param, value_range, log):
  op, _ = OPS[name]
  keys = jax.random.split(jax.random.key(7), 2000)
  _, aux = jax.jit(jax.vmap(lambda k: op(k, jnp.zeros((2, 4)), **{param: value_range})))(keys)
  v = np.asarray(aux[param], np.float64)
  lo, hi = value_range
  assert v.min() >= lo * (1 - 1e-6) and v.max() <= hi * (1 + 1e-6)
  if log:
    v, lo, hi = np.log(v), math.log(lo), math.log(hi)
  width = hi - lo
  assert v.min() < lo + 0.01 * width and v.max() > hi - 0.01 * width
  assert abs(v.mean() - (lo + hi) / 2) < 0.03 * width
  assert abs(v.std() - width / math.sqrt(12)) < 0.03 * width


@pytest.mark.parametrize("name", OPS)
def test_bad_inputs_raise(name):
  op, _ = OPS[name]
  with pytest.raises(ValueError, match="x must be a float"):
    op(jax.random.key(0), np.zeros((4, 4), np.uint8))
  with pytest.raises(ValueError, match="at least 2 axes"):
    op(jax.random.key(0), np.zeros(4, np.float32))


@pytest.mark.parametrize("name,params,match", [
    ("gaussian_noise", {"sigma": (-0.1, 0.1)}, "sigma"),
    ("gaussian_noise", {"sigma": (0.2, 0.1)}, "sigma"),
    ("gaussian_noise", {"sigma": 0.1}, "sigma"),
    ("poisson_gaussian_noise", {"dose": (0.0, 10.0)}, "dose"),
    ("poisson_gaussian_noise", {"dose": (-5.0, 10.0)}, "dose"),
    ("poisson_gaussian_noise", {"read_sigma": (-0.01, 0.0)}, "read_sigma"),
    ("poisson_gaussian_noise", {"dose": (1.0, float("inf"))}, "dose"),
    ("scan_line_noise", {"sigma": (0.0, -0.1)}, "sigma"),
    ("scan_line_noise", {"gain_sigma": (-0.1, 0.1)}, "gain_sigma"),
])
def test_bad_ranges_raise(name, params, match):
  op, _ = OPS[name]
  with pytest.raises(ValueError, match=match):
    op(jax.random.key(0), np.zeros((4, 4), np.float32), **params)


def test_gaussian_noise_is_white_with_the_drawn_sigma():
  x = _image((4, 128, 128))
  y, aux = noise.gaussian_noise(jax.random.key(2), x, sigma=(0.02, 0.05))
  r = np.asarray(y, np.float64) - x
  s = float(aux["sigma"])
  assert abs(r.mean()) < 3 * s / math.sqrt(r.size)
  assert r.std() == pytest.approx(s, rel=0.02)
  for axis in (-1, -2, 0):                             # independent between neighbours and leading indices
    corr = (r * np.roll(r, 1, axis=axis)).mean() / r.var()
    assert abs(corr) < 0.02


def _pool(v):
  """[samples, 56] -> [7]: means over bins of 8 neighbouring columns."""
  return v.reshape(v.shape[0], 7, 8).mean(axis=(0, 2))


def test_poisson_gaussian_variance_follows_the_dose():
  # A ramp: every column holds one intensity; the variance of y - x must be x / d + r^2 at every x. Columns
  # 8..63 are divided by the model's variance and pooled 8 at a time (32768 samples a bin: ~0.8 % sd).
  w = 64
  ramp = np.broadcast_to(np.linspace(0.0, 1.0, w, dtype=np.float32), (16, 256, w)).copy()
  xcol = ramp[0, 0].astype(np.float64)
  for dose, read in [(20.0, 0.0), (100.0, 0.02), (200.0, 0.01)]:
    y, aux = noise.poisson_gaussian_noise(jax.random.key(int(dose)), ramp, dose=(dose, dose),
                                          read_sigma=(read, read))
    assert float(aux["dose"]) == pytest.approx(dose, rel=1e-5)
    assert float(aux["read_sigma"]) == pytest.approx(read, rel=1e-6, abs=1e-9)
    r = (np.asarray(y, np.float64) - ramp).reshape(-1, w)             # [samples, x]
    if read == 0.0:
      np.testing.assert_array_equal(r[:, 0], 0.0)                     # no counts, no noise at x = 0
    want = (xcol / dose + read ** 2)[8:]
    ours = _pool(r[:, 8:] ** 2 / want)
    np.testing.assert_allclose(ours, 1.0, rtol=0.04)
    np.testing.assert_allclose(_pool(r[:, 8:] / np.sqrt(want)), 0.0, atol=0.03)
    # the same as exact Poisson counts drawn by numpy, plus read noise variance
    counts = np.random.default_rng(0).poisson(dose * ramp.reshape(-1, w)) / dose - xcol
    np.testing.assert_allclose(ours, _pool((counts[:, 8:] ** 2 + read ** 2) / want), rtol=0.04)


def test_poisson_gaussian_drawn_dose_and_negative_intensities():
  x = np.full((8, 64, 64), 0.5, np.float32)
  x[:, :, :32] = -0.1                                  # no shot noise below 0: read noise only
  y, aux = noise.poisson_gaussian_noise(jax.random.key(9), x)
  d, rd = float(aux["dose"]), float(aux["read_sigma"])
  assert 20.0 <= d <= 200.0 and 0.0 <= rd <= 0.02
  r = np.asarray(y, np.float64) - x
  assert r[..., 32:].std() == pytest.approx(math.sqrt(0.5 / d + rd ** 2), rel=0.03)
  assert r[..., :32].std() == pytest.approx(rd, rel=0.03)


def test_poisson_without_dose_is_read_noise_only():
  x = _image((4, 64, 64))
  y, aux = noise.poisson_gaussian_noise(jax.random.key(1), x, dose=None, read_sigma=(0.03, 0.03))
  assert np.isinf(aux["dose"])
  r = np.asarray(y, np.float64) - x
  assert r.std() == pytest.approx(0.03, rel=0.03)
  assert abs(np.corrcoef(x.ravel(), (r ** 2).ravel())[0, 1]) < 0.03   # homoscedastic


def test_poisson_variance_on_real_em_intensities():
  import tifffile
  vol = tifffile.imread(shared_file("flyem_medulla_fibsem_10nm_iso_sample1.tif"))[100:132, :128, :128]
  x = vol.astype(np.float32) / 255.0
  y, aux = noise.poisson_gaussian_noise(jax.random.key(4), x, dose=(50.0, 50.0), read_sigma=(0.01, 0.01))
  r = np.asarray(y, np.float64) - x
  edges = np.quantile(x, np.linspace(0.05, 0.95, 6))
  for lo, hi in zip(edges[:-1], edges[1:]):
    sel = (x >= lo) & (x < hi)
    want = (r[sel] ** 2).mean()
    assert want == pytest.approx(x[sel].mean() / 50.0 + 1e-4, rel=0.05)


def test_scan_line_offsets_are_constant_along_rows():
  x = _image((16, 64, 32))
  y, aux = noise.scan_line_noise(jax.random.key(3), x, sigma=(0.02, 0.03), gain_sigma=(0.0, 0.0))
  r = np.asarray(y, np.float64) - x                    # [16, 64, 32]
  off = r[..., 0]                                      # one offset a row
  np.testing.assert_allclose(r, off[..., None] * np.ones_like(r), atol=2e-7)
  s = float(aux["sigma"])
  assert off.std() == pytest.approx(s, rel=0.1)        # 1024 rows: ~2.2 % sd
  assert len(np.unique(off)) == off.size               # a draw for every row of every leading index
  assert abs(np.corrcoef(off[:8].ravel(), off[8:].ravel())[0, 1]) < 0.15
  assert abs(np.corrcoef(off[:, :-1].ravel(), off[:, 1:].ravel())[0, 1]) < 0.15


def test_scan_line_gains_are_per_row_and_linear_in_x():
  x = _image((16, 64, 32), seed=3) + 0.5
  y, aux = noise.scan_line_noise(jax.random.key(6), x, sigma=(0.01, 0.01), gain_sigma=(0.02, 0.02))
  y = np.asarray(y, np.float64).reshape(-1, 32)
  xs = np.asarray(x, np.float64).reshape(-1, 32)
  gains, offsets = [], []
  for xr, yr in zip(xs, y):                            # y = gain * x + offset, exactly, per row
    a, b = np.polyfit(xr, yr, 1)
    np.testing.assert_allclose(a * xr + b, yr, atol=2e-6)
    gains.append(a - 1.0)
    offsets.append(b)
  assert np.std(gains) == pytest.approx(0.02, rel=0.1)
  assert np.std(offsets) == pytest.approx(0.01, rel=0.1)
  assert abs(np.corrcoef(gains, offsets)[0, 1]) < 0.15


# ---- host (numpy) versions, the benchmark's baseline: the same models ----------------------------------------

def _host():
  root = str(pathlib.Path(__file__).resolve().parents[2])
  if root not in sys.path:
    sys.path.insert(0, root)
  return importlib.import_module("experiments.host.noise")


def test_host_versions_follow_the_same_models():
  host, rng = _host(), np.random.default_rng(0)
  x = _image((4, 64, 64))
  for name, params in ZERO.items():
    y, _ = getattr(host, name)(rng, x, **params)
    np.testing.assert_array_equal(y, x)
  y, aux = host.gaussian_noise(rng, x, sigma=(0.02, 0.05))
  assert y.dtype == np.float32 and 0.02 <= aux["sigma"] <= 0.05
  assert (y - x).std() == pytest.approx(aux["sigma"], rel=0.03)
  for exact in (True, False):
    y, aux = host.poisson_gaussian_noise(rng, x, dose=(50.0, 50.0), read_sigma=(0.01, 0.01), exact=exact)
    z2 = (np.asarray(y, np.float64) - x) ** 2 / (x / 50.0 + 1e-4)
    assert y.dtype == np.float32 and z2.mean() == pytest.approx(1.0, rel=0.05)
  y, aux = host.scan_line_noise(rng, x, sigma=(0.02, 0.02), gain_sigma=(0.0, 0.0))
  r = np.asarray(y, np.float64) - x
  np.testing.assert_allclose(r, np.broadcast_to(r[..., :1], r.shape), atol=2e-7)
  assert r[..., 0].std() == pytest.approx(0.02, rel=0.15)
