"""Blur, intensity jitter and illumination: the op contract, scipy/numpy references and their invariants."""
import functools
import importlib
import math
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.ndimage as ndi

from jax_iso.degrade import intensity
from shared_data import shared_file

OPS = {
    "gaussian_blur": (intensity.gaussian_blur, {}),
    "gaussian_blur_x": (intensity.gaussian_blur, {"axes": (-1,)}),
    "intensity_jitter": (intensity.intensity_jitter, {}),
    "illumination": (intensity.illumination, {}),
}
NEUTRAL = {
    "gaussian_blur": {"sigma": (0.0, 0.0)},
    "gaussian_blur_x": {"sigma": (0.0, 0.0), "axes": (-1,)},
    "intensity_jitter": {"brightness": (0.0, 0.0), "contrast": (1.0, 1.0), "gamma": (1.0, 1.0)},
    "illumination": {"strength": (0.0, 0.0)},
}
# (op, param, range, log-uniform?) for every drawn scalar, with the aux name equal to the param name
DRAWN = [
    ("gaussian_blur", "sigma", (0.0, 1.5), False),
    ("intensity_jitter", "brightness", (-0.05, 0.05), False),
    ("intensity_jitter", "contrast", (0.85, 1.15), False),
    ("intensity_jitter", "gamma", (0.8, 1.25), True),
    ("illumination", "strength", (0.0, 0.2), False),
    ("illumination", "scale", (0.3, 1.0), False),
]



def _image(shape=(2, 16, 24), seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _scalars(aux):
  return {k: v for k, v in aux.items() if np.ndim(v) == 0}


# float32, two compilations of an op (eager / jit / vmap fuse and contract multiply-adds differently): the blur (the
# worst) sums 13 taps of values <= 1.1 along each of two axes with exp-made, normalised weights; each multiply-add
# and the normalising sums may round by 1.2e-7 differently: <= ~5e-6.
COMPILED_ATOL = 1e-5
# The illumination field: each wave's phase 2 pi y nu cos(theta) + phase (<= 13 rad, ulp 9.5e-7) may round
# differently, moving 4 waves of amplitude <= 1 by <= 3.8e-6, and the 8-term matmul by 8 x 2.4e-7; then divided by
# max |f - mean f| (1.8 for key 1), which moves as much: <= 2 x 5.7e-6 / 1.8 = 6.3e-6.
FIELD_ATOL = 2e-5


@pytest.mark.slow
@pytest.mark.parametrize("name", OPS)
def test_eager_matches_jit(name):
  op, params = OPS[name]
  x, key = _image(), jax.random.key(1)
  y, aux = op(key, x, **params)
  yj, auxj = jax.jit(functools.partial(op, **params))(key, x)
  assert y.shape == x.shape and y.dtype == x.dtype
  np.testing.assert_allclose(y, yj, atol=COMPILED_ATOL)
  assert aux.keys() == auxj.keys()
  for k in aux:                             # scalars: u * (hi - lo) + lo, maybe exp'd: a few ulp
    np.testing.assert_allclose(aux[k], auxj[k], rtol=1e-6, atol=FIELD_ATOL if k == "field" else 1e-6)


@pytest.mark.parametrize("name", OPS)
def test_fixed_key_is_deterministic_and_keys_differ(name):
  op, params = OPS[name]
  x = _image()
  y1, _ = op(jax.random.key(3), x, **params)
  y2, _ = op(jax.random.key(3), x, **params)
  y3, _ = op(jax.random.key(4), x, **params)
  np.testing.assert_array_equal(y1, y2)
  assert not np.allclose(y1, y3)


@pytest.mark.slow
@pytest.mark.parametrize("name", OPS)
def test_vmap_over_keys_draws_per_example(name):
  op, params = OPS[name]
  x = _image((4, 8, 8))
  keys = jax.random.split(jax.random.key(5), 4)
  y, aux = jax.jit(jax.vmap(functools.partial(op, **params)))(keys, x)
  assert y.shape == x.shape
  for k, v in _scalars(aux).items():
    assert v.shape == (4,) and len(np.unique(np.asarray(v))) == 4, k
  y0, _ = op(keys[0], x[0], **params)
  np.testing.assert_allclose(y[0], y0, atol=COMPILED_ATOL)              # vmap and a single call: two compilations


@pytest.mark.parametrize("name", OPS)
def test_neutral_ranges_are_identity(name):
  op, _ = OPS[name]
  x = _image()
  x[0, 0, :3] = [-0.2, 0.0, 1.3]                       # also outside [0, 1]
  y, _ = jax.jit(functools.partial(op, **NEUTRAL[name]))(jax.random.key(0), x)
  np.testing.assert_array_equal(y, x)
  xb = jnp.asarray(x, jnp.bfloat16)
  y, _ = op(jax.random.key(0), xb, **NEUTRAL[name])
  assert y.dtype == jnp.bfloat16
  np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(xb, np.float32))


@pytest.mark.parametrize("name", OPS)
def test_bfloat16_keeps_dtype(name):
  op, params = OPS[name]
  xb = jnp.asarray(_image(), jnp.bfloat16)
  y, _ = op(jax.random.key(0), xb, **params)
  y32, _ = op(jax.random.key(0), np.asarray(xb, np.float32), **params)
  assert y.dtype == jnp.bfloat16 and y.shape == (2, 16, 24)
  np.testing.assert_allclose(np.asarray(y, np.float32), y32, atol=1e-2)


@pytest.mark.parametrize("name,param,value_range,log", DRAWN)
def test_drawn_parameters_cover_their_range(name, param, value_range, log):
  op, _ = OPS[name]
  keys = jax.random.split(jax.random.key(7), 2000)
  _, aux = jax.jit(jax.vmap(lambda k: op(k, jnp.zeros((2, 4)), **{param: value_range})))(keys)
  v = np.asarray(aux[param], np.float64)
  lo, hi = value_range
  assert v.min() >= lo - 1e-6 * abs(lo) and v.max() <= hi + 1e-6 * abs(hi)
  if log:
    v, lo, hi = np.log(v), math.log(lo), math.log(hi)
  width = hi - lo
  assert v.min() < lo + 0.01 * width and v.max() > hi - 0.01 * width
  assert abs(v.mean() - (lo + hi) / 2) < 0.03 * width
  assert abs(v.std() - width / math.sqrt(12)) < 0.03 * width


@pytest.mark.parametrize("name", OPS)
def test_bad_inputs_raise(name):
  op, params = OPS[name]
  with pytest.raises(ValueError, match="x must be a float"):
    op(jax.random.key(0), np.zeros((4, 4), np.int32), **params)
  with pytest.raises(ValueError, match="at least 2 axes"):
    op(jax.random.key(0), np.zeros(4, np.float32), **params)


@pytest.mark.parametrize("name,params,match", [
    ("gaussian_blur", {"sigma": (-0.5, 1.0)}, "sigma"),
    ("gaussian_blur", {"sigma": (1.0, 0.5)}, "sigma"),
    ("gaussian_blur", {"axes": (-3,)}, "axes"),
    ("gaussian_blur", {"axes": (2,)}, "axes"),
    ("gaussian_blur", {"axes": (-1, 1)}, "axes"),
    ("gaussian_blur", {"axes": ()}, "axes"),
    ("gaussian_blur", {"axes": "xy"}, "axes"),
    ("intensity_jitter", {"gamma": (0.0, 1.0)}, "gamma"),
    ("intensity_jitter", {"gamma": (1.2, 0.8)}, "gamma"),
    ("intensity_jitter", {"contrast": (-1.0, 1.0)}, "contrast"),
    ("intensity_jitter", {"brightness": (0.1,)}, "brightness"),
    ("intensity_jitter", {"brightness": (float("nan"), 0.1)}, "brightness"),
    ("illumination", {"strength": (0.0, 1.5)}, "strength"),
    ("illumination", {"strength": (-0.1, 0.1)}, "strength"),
    ("illumination", {"scale": (0.0, 1.0)}, "scale"),
    ("illumination", {"waves": 0}, "waves"),
])
def test_bad_parameters_raise(name, params, match):
  op, _ = OPS[name]
  with pytest.raises(ValueError, match=match):
    op(jax.random.key(0), np.zeros((4, 4), np.float32), **params)


# ---- gaussian_blur -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma,shape", [(0.3, (3, 17, 19)), (0.5, (2, 16, 16)), (1.0, (2, 16, 16)),
                                         (1.37, (2, 20, 12)), (1.5, (1, 32, 32)), (2.9, (2, 7, 9)),
                                         (4.2, (1, 5, 6))])
def test_blur_matches_scipy_reflect(sigma, shape):
  # includes kernels longer than the axis (4.2 on 5 pixels), where 'reflect' repeats
  x = _image(shape, seed=int(10 * sigma))
  y, aux = jax.jit(functools.partial(intensity.gaussian_blur, sigma=(sigma, sigma)))(jax.random.key(0), x)
  s = float(aux["sigma"])
  assert s == pytest.approx(sigma, rel=1e-6)
  want = ndi.gaussian_filter(x.astype(np.float64), (0.0, s, s), mode="reflect", truncate=4.0)
  np.testing.assert_allclose(y, want, atol=1e-5)


@pytest.mark.slow
def test_blur_drawn_sigma_matches_scipy_along_chosen_axes():
  x = _image((2, 3, 12, 14), seed=4)
  for axes, sig in [((-2, -1), lambda s: (0, 0, s, s)), ((-1,), lambda s: (0, 0, 0, s)),
                    ((-2,), lambda s: (0, 0, s, 0)), ((1, 2, 3), lambda s: (0, s, s, s))]:
    for seed in range(3):
      y, aux = jax.jit(functools.partial(intensity.gaussian_blur, sigma=(0.2, 2.0), axes=axes))(
          jax.random.key(seed), x)
      want = ndi.gaussian_filter(x.astype(np.float64), sig(float(aux["sigma"])), mode="reflect", truncate=4.0)
      np.testing.assert_allclose(y, want, atol=1e-5)


@pytest.mark.slow
def test_blur_kernel_is_scipys_and_zero_sigma_is_the_unit_tap():
  for s in (0.25, 0.8, 1.49, 1.5, 2.2):
    radius = int(4 * s + 0.5)
    w = np.asarray(intensity.gaussian_kernel(jnp.float32(s), radius + 3))
    delta = np.zeros(2 * radius + 1)
    delta[radius] = 1.0
    want = ndi.gaussian_filter1d(delta, s, mode="constant", truncate=4.0)     # scipy's taps, via its impulse
    # float32 taps <= 1: exp within a few ulp (XLA's polynomial; FMA-dependent), the normalising sum of <= 19
    # taps and the division, against float64: <= 3.5e-7
    np.testing.assert_allclose(w[3:-3], want, atol=1e-6)
    np.testing.assert_array_equal(w[:3], 0.0)
  w0 = intensity.gaussian_kernel(jnp.float32(0.0), 5)
  np.testing.assert_array_equal(w0, np.eye(11)[5])
  x = _image((2, 9, 9), seed=1)
  np.testing.assert_array_equal(intensity.filter_axis(jnp.asarray(x), w0, 2), x)


@pytest.mark.slow
def test_blur_keeps_constants_and_smooths_real_em():
  c = np.full((2, 16, 16), 0.37, np.float32)
  y, _ = intensity.gaussian_blur(jax.random.key(0), c, sigma=(1.5, 1.5))
  # float32: two passes of 13 multiply-adds on 0.37 (ulp 3e-8) with taps normalised by a 13-term sum: <= 1.2e-6
  np.testing.assert_allclose(y, c, atol=2e-6)
  import tifffile
  vol = tifffile.imread(shared_file("flyem_medulla_fibsem_10nm_iso_sample1.tif"))[120:124, :160, :192]
  x = vol.astype(np.float32) / 255.0
  y, aux = jax.jit(functools.partial(intensity.gaussian_blur, sigma=(0.8, 1.5)))(jax.random.key(2), x)
  s = float(aux["sigma"])
  np.testing.assert_allclose(y, ndi.gaussian_filter(x.astype(np.float64), (0, s, s), mode="reflect"),
                             atol=1e-5)
  grad = lambda a: np.abs(np.diff(np.asarray(a, np.float64), axis=-1)).mean()
  assert grad(y) < 0.8 * grad(x)
  assert np.asarray(y).mean() == pytest.approx(x.mean(), abs=1e-3)


# ---- intensity_jitter ----------------------------------------------------------------------------------------

def _jitter_numpy(x, b, c, g):
  y = np.maximum(x.astype(np.float64), 0.0) ** g
  m = y.mean(axis=(-2, -1), keepdims=True)
  return m + c * (y - m) + b


def test_jitter_matches_numpy():
  x = _image((3, 12, 10), seed=2)
  x[0, 0, 0] = -0.3
  x[1] *= 0.3                                          # per-leading-index means differ
  for seed in range(4):
    y, aux = intensity.intensity_jitter(jax.random.key(seed), x)
    b, c, g = (float(aux[k]) for k in ("brightness", "contrast", "gamma"))
    np.testing.assert_allclose(y, _jitter_numpy(x, b, c, g), atol=2e-6)


def test_jitter_steps_and_their_invariants():
  x = _image((2, 16, 16), seed=3)
  # contrast alone keeps each image's mean and scales its deviations
  y, aux = intensity.intensity_jitter(jax.random.key(1), x, brightness=(0.0, 0.0), gamma=(1.0, 1.0),
                                      contrast=(0.5, 2.0))
  y = np.asarray(y, np.float64)
  np.testing.assert_allclose(y.mean(axis=(1, 2)), x.mean(axis=(1, 2)), atol=1e-6)
  np.testing.assert_allclose(y.std(axis=(1, 2)), float(aux["contrast"]) * x.std(axis=(1, 2)), rtol=1e-5)
  # brightness alone is a shift
  y, aux = intensity.intensity_jitter(jax.random.key(2), x, contrast=(1.0, 1.0), gamma=(1.0, 1.0))
  np.testing.assert_allclose(np.asarray(y) - x, float(aux["brightness"]), atol=1e-7)
  # gamma alone is monotone and keeps 0 and 1
  z = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
  for seed in range(3):
    y, aux = intensity.intensity_jitter(jax.random.key(seed), z, brightness=(0.0, 0.0), contrast=(1.0, 1.0))
    y = np.asarray(y).ravel()
    assert np.all(np.diff(y) > 0) and y[0] == 0.0 and y[-1] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(y, z.ravel().astype(np.float64) ** float(aux["gamma"]), atol=1e-6)


# ---- illumination --------------------------------------------------------------------------------------------

def test_illumination_field_is_zero_mean_unit_max_and_multiplies():
  x = _image((3, 40, 56), seed=5)
  for seed in range(4):
    y, aux = intensity.illumination(jax.random.key(seed), x, strength=(0.1, 0.3))
    f = np.asarray(aux["field"], np.float64)
    assert f.shape == (40, 56)
    assert abs(f.mean()) < 1e-6 and np.abs(f).max() == pytest.approx(1.0, abs=1e-6)
    s = float(aux["strength"])
    np.testing.assert_allclose(y, x * (1.0 + s * f), atol=1e-6)
    ratio = np.asarray(y, np.float64) / x                 # one field shared by the leading axes
    np.testing.assert_allclose(ratio, np.broadcast_to(ratio[0], ratio.shape), rtol=1e-5)


def test_illumination_zero_strength_still_reports_the_field():
  x = _image((1, 16, 16))
  y, aux = intensity.illumination(jax.random.key(0), x, strength=(0.0, 0.0))
  assert y is x or np.array_equal(y, x)
  assert aux["field"].shape == (16, 16) and float(aux["strength"]) == 0.0


@pytest.mark.parametrize("scale,shape", [((0.3, 0.3), (96, 96)), ((0.5, 1.0), (64, 128)), ((1.0, 1.0), (128, 80))])
def test_illumination_field_has_no_energy_above_the_allowed_frequency(scale, shape):
  # Every wave has a wavelength >= scale * max(H, W): with a Blackman window against leakage (main lobe 3 bins,
  # side lobes -58 dB), the field's spectrum must vanish beyond 1 / (scale * L) cycles a pixel plus 4 bins.
  h, w = shape
  size = max(h, w)
  win = np.outer(np.blackman(h), np.blackman(w))
  fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
  for seed in range(5):
    _, aux = intensity.illumination(jax.random.key(seed), np.zeros(shape, np.float32), scale=scale)
    f = np.asarray(aux["field"], np.float64)
    nu_max = 1.0 / (float(aux["scale"]) * size)
    power = np.abs(np.fft.fft2(f * win)) ** 2
    beyond = (np.abs(fy) > nu_max + 4.0 / h) | (np.abs(fx) > nu_max + 4.0 / w)
    assert power[beyond].sum() < 1e-4 * power.sum()


@pytest.mark.slow
def test_illumination_fields_differ_per_example_under_vmap():
  keys = jax.random.split(jax.random.key(3), 8)
  _, aux = jax.vmap(lambda k: intensity.illumination(k, jnp.ones((2, 32, 32))))(keys)
  f = np.asarray(aux["field"]).reshape(8, -1)
  assert aux["field"].shape == (8, 32, 32)
  c = np.corrcoef(f)
  assert np.all(np.abs(c[np.triu_indices(8, 1)]) < 0.999)


def test_illumination_on_real_em_keeps_structure():
  import tifffile
  x = tifffile.imread(shared_file("isbi2012_sstem_train.tif"))[:2, :256, :256].astype(np.float32) / 255.0
  y, aux = intensity.illumination(jax.random.key(11), x, strength=(0.2, 0.2), scale=(0.5, 0.5))
  y = np.asarray(y, np.float64)
  f = np.asarray(aux["field"], np.float64)
  # the structure is untouched up to the smooth gain, and local means follow the field
  np.testing.assert_allclose(y / (1.0 + 0.2 * f), x, atol=1e-6)
  blocks = lambda a: a.reshape(-1, 8, 32, 8, 32).mean(axis=(2, 4))
  rel = (blocks(y) / blocks(x) - 1.0).ravel()
  assert np.corrcoef(rel, np.broadcast_to(blocks(f), (2, 8, 8)).ravel())[0, 1] > 0.95
  assert np.abs(rel).max() <= 0.2 + 1e-6


# ---- host (numpy/scipy) versions, the benchmark's baseline: the same models ----------------------------------

def _host():
  root = str(pathlib.Path(__file__).resolve().parents[2])
  if root not in sys.path:
    sys.path.insert(0, root)
  return importlib.import_module("experiments.host.intensity")


@pytest.mark.slow
def test_host_versions_match_the_device_ops_for_the_same_draws():
  host, rng = _host(), np.random.default_rng(0)
  x = _image((3, 24, 20), seed=6)
  for name, params in NEUTRAL.items():
    y, _ = getattr(host, OPS[name][0].__name__)(rng, x, **params)
    np.testing.assert_array_equal(y, x)
  for axes in ((-2, -1), (-1,)):
    y, aux = host.gaussian_blur(rng, x, sigma=(0.5, 1.5), axes=axes)
    s = aux["sigma"]
    yd, _ = intensity.gaussian_blur(jax.random.key(0), x, sigma=(s, s), axes=axes)
    np.testing.assert_allclose(y, yd, atol=1e-5)
  y, aux = host.intensity_jitter(rng, x)
  fixed = {k: (aux[k], aux[k]) for k in ("brightness", "contrast", "gamma")}
  yd, _ = intensity.intensity_jitter(jax.random.key(0), x, **fixed)
  np.testing.assert_allclose(y, yd, atol=1e-5)
  y, aux = host.illumination(rng, x, strength=(0.1, 0.3))
  f = aux["field"]
  assert f.shape == (24, 20) and abs(f.mean()) < 1e-6 and np.abs(f).max() == pytest.approx(1.0, abs=1e-6)
  np.testing.assert_allclose(y, x * (1.0 + aux["strength"] * f), atol=1e-6)
