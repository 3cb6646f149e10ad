"""Staining precipitates: the op contract, invariants, independent numpy checks, the host version, real data."""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage, stats

from experiments.host import precipitates as host
from jax_iso.degrade import precipitates as sp
from shared_data import shared_file
from jax_iso.degrade.precipitates import precipitates

# Small static configurations shared by the tests, so that each compiles once.
FEW = dict(count=(1, 4))
PLAIN = dict(count=(1, 8), area=(5.0, 3000.0), grain=(0.0, 0.0))



def _image(shape=(48, 48), seed=0):
  return np.random.default_rng(seed).uniform(0.2, 0.9, shape).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _jitted(**params):
  """jit of the op with these static params (one compiled function per configuration for all tests)."""
  return jax.jit(functools.partial(precipitates, **params))


@functools.lru_cache(maxsize=None)
def _vmapped(**params):
  """jit(vmap over keys) of the op with these static params, x shared."""
  return jax.jit(jax.vmap(functools.partial(precipitates, **params), in_axes=(0, None)))


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


def _contrast_only(x, a, pivot=0.725):
  return np.float32(pivot) + np.float32(a) * (x.astype(np.float64) - pivot)


# float32, two compilations (eager / jit / vmap fuse and contract multiply-adds differently): blob centres u * 48 - 0.5
# may differ by 1 ulp (3.8e-6 px) and radii by ~1e-6 relative; the coverage's soft edge (slope 1.5 / edge <= 1.5 /px)
# moves by <= 8e-6, and the core-to-rim ramp (slope 1.5 / ((1 - core_size) r) <= 6 /px for the smallest blob the keys
# below draw, r = 1.3 px) by <= 3e-5 in y = y0 (1 - darkness). Their placements are >= 1.6 px from any threshold.
COMPILED_ATOL = 1e-4
MASK_ATOL = 2e-5


# ---------------------------------------------------------------- contract

@pytest.mark.slow
def test_eager_equals_jit():
  x = _image()
  key = jax.random.key(3)
  y_e, aux_e = precipitates(key, x, **FEW)
  y_j, aux_j = _jitted(**FEW)(key, x)
  np.testing.assert_allclose(y_e, y_j, atol=COMPILED_ATOL)
  np.testing.assert_allclose(aux_e["mask"], aux_j["mask"], atol=MASK_ATOL)
  for k in ("count", "contrast", "grain"):                # an int; u * (hi - lo) + lo: <= 1 ulp
    np.testing.assert_allclose(aux_e[k], aux_j[k], rtol=1e-6)
  # areas (lo^-0.3 + u (hi^-0.3 - lo^-0.3))^(-1 / 0.3): an ulp of the base (>= 0.05) times 3.3, plus pow's ulps
  np.testing.assert_allclose(aux_e["areas"], aux_j["areas"], rtol=1e-5)
  np.testing.assert_allclose(aux_e["centres"], aux_j["centres"], atol=1e-5)   # 1 ulp of 48 px; key 3: no satellite
  assert y_e.shape == x.shape and y_e.dtype == jnp.float32


@pytest.mark.slow
def test_vmap_over_keys_gives_different_draws():
  x = _image()
  y, aux = _vmapped(**FEW)(_keys(4), x)
  assert y.shape == (4,) + x.shape and aux["mask"].shape == (4,) + x.shape
  assert len(set(np.asarray(aux["contrast"]).tolist())) == 4
  for i in range(1, 4):
    assert not np.array_equal(np.asarray(y[0]), np.asarray(y[i]))
    assert not np.array_equal(np.asarray(aux["centres"][0]), np.asarray(aux["centres"][i]))
  y1, aux1 = _jitted(**FEW)(_keys(4)[2], x)               # vmap row == single call with that key
  np.testing.assert_allclose(y[2], y1, atol=COMPILED_ATOL)
  np.testing.assert_allclose(aux["mask"][2], aux1["mask"], atol=MASK_ATOL)


def test_same_key_same_output_different_keys_differ():
  x = _image()
  f = _jitted(**FEW)
  y1, _ = f(jax.random.key(7), x)
  y2, _ = f(jax.random.key(7), x)
  y3, _ = f(jax.random.key(8), x)
  np.testing.assert_array_equal(y1, y2)
  assert not np.array_equal(np.asarray(y1), np.asarray(y3))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_neutral_parameters_are_exactly_the_identity(dtype):
  x = jnp.asarray(_image((2, 24, 24)), dtype)
  for f in (functools.partial(precipitates, count=(0, 0), global_contrast=(1.0, 1.0)),
            jax.jit(functools.partial(precipitates, count=(0, 0), global_contrast=(1.0, 1.0)))):
    y, aux = f(jax.random.key(0), x)
    assert y.dtype == dtype
    np.testing.assert_array_equal(np.asarray(y.astype(jnp.float32)), np.asarray(x.astype(jnp.float32)))
    assert int(aux["count"]) == 0 and float(np.max(aux["mask"])) == 0.0
  # blobs drawn but transparent (transmission 1) and no contrast change: still bitwise x
  y, aux = _jitted(count=(3, 3), area=(5.0, 10.0), core_value=(1.0, 1.0), rim_value=(1.0, 1.0),
                   global_contrast=(1.0, 1.0))(jax.random.key(1), x)
  assert int(aux["count"]) == 3
  np.testing.assert_array_equal(np.asarray(y.astype(jnp.float32)), np.asarray(x.astype(jnp.float32)))


def test_bfloat16_and_leading_axes():
  x = jnp.asarray(_image((3, 32, 32)), jnp.bfloat16)
  y, aux = _jitted(count=(2, 2), area=(60.0, 200.0), grain=(0.3, 0.3))(jax.random.key(2), x)
  assert y.shape == x.shape and y.dtype == jnp.bfloat16 and aux["mask"].shape == x.shape
  mask = np.asarray(aux["mask"])
  np.testing.assert_array_equal(mask[0], mask[1])        # one blob layout for the leading axes ...
  xf = np.asarray(x.astype(jnp.float32))
  ratio = np.asarray(y.astype(jnp.float32)) / _contrast_only(xf, float(aux["contrast"]))
  inside = mask[0] > 0.9
  assert not np.allclose(ratio[0][inside], ratio[1][inside], atol=0.02)   # ... grain drawn per slice


# ---------------------------------------------------------------- drawn parameters

@pytest.mark.slow
def test_drawn_scalars_lie_in_and_cover_their_ranges():
  x = np.full((48, 48), 0.5, np.float32)                  # room for every blob: count == drawn count
  _, aux = _vmapped(count=(2, 5), area=(5.0, 10.0), grain=(0.1, 0.4), tries=64)(_keys(2000, 1), x)
  for name, (lo, hi) in (("contrast", (0.3, 0.5)), ("grain", (0.1, 0.4))):
    v = np.asarray(aux[name])
    assert v.min() >= lo and v.max() <= hi
    assert v.min() < lo + 0.01 * (hi - lo) and v.max() > hi - 0.01 * (hi - lo)
    assert abs(v.mean() - 0.5 * (lo + hi)) < 0.02 * (hi - lo)
  counts = np.asarray(aux["count"])
  values, freq = np.unique(counts, return_counts=True)
  assert values.tolist() == [2, 3, 4, 5]                 # count range respected and covered, uniformly
  np.testing.assert_allclose(freq / counts.size, 0.25, atol=0.04)
  areas = np.asarray(aux["areas"])
  assert np.all((areas == 0) | ((areas >= 5.0) & (areas <= 10.0)))
  np.testing.assert_array_equal((areas > 0).sum(axis=1), counts)


def test_areas_follow_the_truncated_power_law():
  lo, hi, alpha = 5.0, 20000.0, 1.3
  cdf = lambda a: (lo ** (1 - alpha) - np.asarray(a) ** (1 - alpha)) / (lo ** (1 - alpha) - hi ** (1 - alpha))
  a = np.asarray(sp._power_law(jax.random.key(0), 5000, (lo, hi), alpha))
  assert stats.kstest(a, cdf).pvalue > 1e-3
  log_uniform = np.asarray(sp._power_law(jax.random.key(1), 5000, (lo, hi), 1.0))
  assert stats.kstest(log_uniform, lambda v: np.log(v / lo) / np.log(hi / lo)).pvalue > 1e-3
  h = host.power_law_areas(np.random.default_rng(0), 5000, (lo, hi), alpha)
  assert stats.kstest(h, cdf).pvalue > 1e-3


def test_size_distribution_is_heavy_tailed():
  # One blob per image is always placed, so aux areas are the draws themselves.
  x = np.full((8, 8), 0.5, np.float32)
  _, aux = _vmapped(count=(1, 1))(_keys(2000, 2), x)
  a = np.asarray(aux["areas"])[:, 0]
  assert np.all(a > 0) and a.min() >= 5.0 and a.max() <= 20000.0
  assert np.log10(a.max() / a.min()) >= 3.0               # spans >= 3 decades
  assert np.median(a) < 0.2 * a.mean()                    # many small, few large
  hist, _ = np.histogram(np.log10(a), bins=np.arange(0.5, 4.6, 0.5))
  assert np.all(np.diff(hist[1:]) <= 0)                   # fewer blobs in every larger half-decade


# ---------------------------------------------------------------- model invariants

def test_outside_the_mask_y_is_exactly_the_contrast_changed_x():
  x = _image()
  y, aux = _vmapped(**FEW)(_keys(4, 4), x)
  y0, aux0 = _vmapped(count=(0, 0))(_keys(4, 4), x)     # same keys: same contrast, no blobs
  # Two compiled programs: a = u * 0.2 + 0.3 may be contracted in one only (<= 1 ulp, 6e-8), and so may
  # y0 = x + (a - 1) (x - pivot) (<= 1 ulp of y0 < 1, plus a's 6e-8 x 0.725): <= 1.2e-7 apart.
  np.testing.assert_allclose(aux["contrast"], aux0["contrast"], rtol=0, atol=6e-8)
  for i in range(4):
    out = np.asarray(aux["mask"][i]) == 0
    assert out.mean() > 0.1
    np.testing.assert_allclose(np.asarray(y[i])[out], np.asarray(y0[i])[out], rtol=0, atol=2.5e-7)
    np.testing.assert_allclose(y0[i], _contrast_only(x, float(aux0["contrast"][i])), atol=1e-6)
    assert np.all(np.asarray(y[i]) <= np.asarray(y0[i]) + 2.5e-7)   # deposits only darken


def test_contrast_change_reproduces_the_reference():
  # Reference on 0-255: a*v + (170 - 147*a); ours on [0, 1]: pivot + a*(x - pivot), pivot 0.725.
  x = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(16, 16)
  for key in _keys(20, 5):
    y, aux = _jitted(count=(0, 0))(key, x)
    a = float(aux["contrast"])
    ref = (a * x * 255.0 + 170.0 - 147.0 * a) / 255.0
    assert np.abs(np.asarray(y) - ref).max() <= 4.1 / 255.0
  a = np.linspace(0.3, 0.5, 10001)                        # least-squares pivot over a ~ U[0.3, 0.5]
  best = np.mean((1 - a) * (170 - 147 * a) / 255) / np.mean((1 - a) ** 2)
  assert best == pytest.approx(0.7254, abs=1e-4) and 0.725 == pytest.approx(best, abs=5e-4)


@pytest.mark.slow
def test_blobs_do_not_overlap_and_have_their_drawn_areas():
  x = np.full((128, 128), 0.6, np.float32)
  for cluster_prob in (0.0, 1.0):
    _, aux = _vmapped(**PLAIN, cluster_prob=cluster_prob)(_keys(40, 6), x)
    mask, count = np.asarray(aux["mask"]), np.asarray(aux["count"])
    areas, centres = np.asarray(aux["areas"]), np.asarray(aux["centres"])
    checked = 0
    for k in range(mask.shape[0]):
      lab, n = ndimage.label(mask[k] > 0, structure=np.ones((3, 3)))
      assert n == count[k]                                # one component per placed blob: no overlap
      seen = set()
      for a, (cy, cx) in zip(areas[k], centres[k]):
        if a == 0:
          continue
        comp = lab == lab[int(np.clip(round(cy), 0, 127)), int(np.clip(round(cx), 0, 127))]
        seen.add(lab[int(np.clip(round(cy), 0, 127)), int(np.clip(round(cx), 0, 127))])
        ys, xs = np.nonzero(comp)
        if ys.min() == 0 or xs.min() == 0 or ys.max() == 127 or xs.max() == 127:
          continue                                        # cut by the border
        inside = int((mask[k][comp] >= 0.5).sum())        # the outline is the mask's 1/2 level
        assert abs(inside - a) <= 1.5 * math.sqrt(a) + 1.0, (a, inside)
        checked += 1
      assert len(seen) == count[k] and 0 not in seen
    assert checked > 50


@pytest.mark.slow
def test_satellites_form_clusters():
  x = np.full((128, 128), 0.6, np.float32)

  def nearest(cluster_prob):
    _, aux = _vmapped(**PLAIN, cluster_prob=cluster_prob)(_keys(40, 7), x)
    d = []
    for c, a in zip(np.asarray(aux["centres"]), np.asarray(aux["areas"])):
      c = c[a > 0]
      if len(c) > 1:
        dist = np.hypot(*(c[:, None] - c[None]).transpose(2, 0, 1)) + np.eye(len(c)) * 1e9
        d.extend(dist.min(axis=1))
    return np.median(d)

  assert nearest(1.0) < 0.6 * nearest(0.0)


@pytest.mark.slow
def test_cores_are_dark():
  x = np.full((96, 96), 0.8, np.float32)
  f = _vmapped(count=(1, 3), area=(300.0, 1500.0), irregularity=(0.0, 0.2), grain=(0.0, 0.0))
  y, aux = f(_keys(30, 8), x)
  y, mask = np.asarray(y), np.asarray(aux["mask"])
  for k in range(y.shape[0]):
    y0 = _contrast_only(x, float(aux["contrast"][k]))
    for a, (cy, cx) in zip(np.asarray(aux["areas"][k]), np.asarray(aux["centres"][k])):
      if a > 0:
        iy, ix = int(round(cy)), int(round(cx))
        m = mask[k, iy, ix]
        assert m > 0.95                                        # the centre is inside the core ...
        assert y[k, iy, ix] <= (1.0 - 0.8 * m) * y0[iy, ix] + 1e-6   # ... transmission <= core_value[1] = 0.2


def test_single_round_blob_matches_an_independent_profile():
  x = _image((64, 64), 9)
  core, rim, size, edge, area = 0.1, 0.6, 0.4, 2.0, 400.0
  y, aux = _jitted(count=(1, 1), area=(area, area), irregularity=(0.0, 0.0), core_value=(core, core),
                   rim_value=(rim, rim), core_size=(size, size), edge=(edge, edge), edge_fraction=0.0,
                   grain=(0.0, 0.0))(jax.random.key(9), x)
  cy, cx = np.asarray(aux["centres"][0], np.float64)
  yy, xx = np.mgrid[:64, :64]
  d = np.hypot(yy - cy, xx - cx)
  r = math.sqrt(area / math.pi)
  step = lambda t: np.clip(t, 0, 1) ** 2 * (3 - 2 * np.clip(t, 0, 1))
  m = step(0.5 + (r - d) / edge)
  t = core + (rim - core) * step((d / r - size) / (1 - size))
  want = _contrast_only(x, float(aux["contrast"])) * (1 - m * (1 - t))
  np.testing.assert_allclose(y, want, atol=2e-5)
  np.testing.assert_allclose(aux["mask"], m, atol=2e-5)


def test_device_blob_render_matches_the_host_render():
  rng = np.random.default_rng(10)
  amp = rng.uniform(0, 0.15, sp.HARMONICS).astype(np.float32)
  phase = rng.uniform(0, 2 * np.pi, sp.HARMONICS).astype(np.float32)
  args = (12.0, amp, phase, 2.5, 0.1, 0.7, 0.5)          # radius, amp, phase, edge, core, rim, core_size
  m_d, dark_d = sp._render(40, 50, jnp.array([17.3, 24.8]), *args)
  yy, xx = np.mgrid[:40, :50].astype(np.float32)
  m_h, dark_h = host._blob(yy, xx, 17.3, 24.8, *args)
  np.testing.assert_allclose(m_d, m_h, atol=2e-5)
  np.testing.assert_allclose(dark_d, dark_h, atol=2e-5)


# ---------------------------------------------------------------- host version

def test_host_version_keeps_the_same_invariants():
  rng = np.random.default_rng(11)
  x = _image((96, 96), 11)
  for _ in range(10):
    y, aux = host.precipitates(rng, x, area=(5.0, 3000.0), cluster_prob=0.5)
    assert y.shape == x.shape and y.dtype == np.float32
    out = aux["mask"] == 0
    np.testing.assert_allclose(y[out], _contrast_only(x, aux["contrast"])[out], atol=1e-6)
    _, n = ndimage.label(aux["mask"] > 0, structure=np.ones((3, 3)))
    assert n == aux["count"] == int((aux["areas"] > 0).sum())
    assert 0.3 <= aux["contrast"] <= 0.5
  stack = np.stack([x, x])
  y, aux = host.precipitates(rng, stack, count=(0, 0), global_contrast=(1.0, 1.0))
  np.testing.assert_array_equal(y, stack)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs,match", [
    (dict(count=(1.5, 3)), "count"), (dict(count=(-1, 3)), "count"), (dict(count=(4, 2)), "count"),
    (dict(area=(0.0, 10.0)), "area"), (dict(area=(5.0,)), "area"), (dict(area_exponent=-1.0), "area_exponent"),
    (dict(core_value=(0.1, 1.5)), "core_value"), (dict(rim_value=(-0.1, 0.5)), "rim_value"),
    (dict(core_size=(0.2, 1.2)), "core_size"), (dict(edge=(-1.0, 2.0)), "edge"),
    (dict(edge_fraction=-0.1), "edge_fraction"), (dict(irregularity=(0.0, 0.7)), "irregularity"),
    (dict(grain=(0.0, 2.0)), "grain"), (dict(cluster_prob=1.5), "cluster_prob"),
    (dict(global_contrast=(-0.2, 0.5)), "global_contrast"), (dict(pivot=1.5), "pivot"), (dict(gap=-1.0), "gap"),
    (dict(tries=0), "tries"), (dict(tries=2.5), "tries"),
])
def test_bad_parameters_raise_value_errors(kwargs, match):
  with pytest.raises(ValueError, match=match):
    precipitates(jax.random.key(0), _image((8, 8)), **kwargs)


def test_bad_inputs_raise_value_errors():
  with pytest.raises(ValueError, match="float"):
    precipitates(jax.random.key(0), np.zeros((8, 8), np.uint8))
  with pytest.raises(ValueError, match="axes"):
    precipitates(jax.random.key(0), np.zeros((8,), np.float32))


# ---------------------------------------------------------------- real data

# Clear precipitates of the real ISBI 2012 ssTEM volumes (file, slice, y, x): black, compact, on one section only.
REAL_PRECIPITATES = [("isbi2012_sstem_train.tif", 20, 119, 372), ("isbi2012_sstem_train.tif", 20, 126, 430),
                     ("isbi2012_sstem_train.tif", 4, 257, 80), ("isbi2012_sstem_test.tif", 13, 412, 409)]


def test_real_precipitates_lie_inside_the_default_ranges():
  tifffile = pytest.importorskip("tifffile")
  vols = {}
  for name, z, y, x in REAL_PRECIPITATES:
    if name not in vols:
      vols[name] = tifffile.imread(shared_file(name)).astype(np.float32)
    vol = vols[name]
    win = lambda zz: ndimage.gaussian_filter(vol[zz], 1.0)[y - 4:y + 5, x - 4:x + 5].min()
    background = np.median(vol[z, y - 25:y + 26, x - 25:x + 26])
    transmission = win(z) / background                     # core darkness relative to its surroundings
    assert transmission <= 0.2                             # inside the default core_value range (0, 0.2)
    assert min(win(z - 1), win(z + 1)) > 3 * win(z)        # absent from the neighbouring sections: an artifact
    dark = ndimage.gaussian_filter(vol[z], 1.0)[y - 15:y + 16, x - 15:x + 16] < 0.5 * background
    lab, _ = ndimage.label(dark)
    area = (lab == lab[15, 15]).sum()
    assert 5 <= area <= 600                                # within the simulated size range, its small end
