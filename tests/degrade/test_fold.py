"""Support-film folds: the op contract, an independent numpy/scipy rendering, the inverse flow on real ssTEM.

Realism (see the `jax_iso.degrade.fold` docstring): no real fold exists in ../shared/data (ISBI 2012, L3 VNC and
CREMI crops are curated); the band's darkness was set from the real sections' intensity statistics (membranes
at 0.23-0.40 of the median brightness; a fold is darker still) and compared by eye on real crops.
"""
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile
from scipy import ndimage

from experiments.host import fold as host
from jax_iso.degrade import fold as fold_mod
from shared_data import shared_file
from jax_iso.degrade.fold import fold

ZERO = dict(line_width=(0.0, 0.0), fold_width=(0.0, 0.0), box_contrast=(1.0, 1.0))
# float32, two compilations of the fold (eager / jit / vmap fuse and contract multiply-adds differently): the signed
# distance d (|d| < 64 px, ulp 3.8e-6) may differ by a few ulp (<= 1.5e-5 px); inside the band the source distance
# is d * fold / line (<= 80 / 5 = 16 d), so sample points move by <= 2.4e-4 px, and x in [0, 1] by <= 1 per px: 5e-4.
FOLD_ATOL = 5e-4



def _image(shape=(40, 48), seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


def _geometry(aux, h, w):
  e = np.asarray(aux["endpoints"], np.float64)
  t = (e[1] - e[0]) / np.hypot(*(e[1] - e[0]))
  n = np.array([-t[1], t[0]])
  yy, xx = np.mgrid[:h, :w].astype(np.float64)
  return yy, xx, n, (yy - e[0, 0]) * n[0] + (xx - e[0, 1]) * n[1]


def _render_numpy(x, aux, band_edge=3.0):
  """Independent rendering from the drawn parameters: scipy map_coordinates (order 1, mirror) of the reference's
  flow, box contrast about the box's weighted mean, then the smoothstep-darkened band."""
  h, w = x.shape
  yy, xx, n, d = _geometry(aux, h, w)
  lw, fw, k = (float(aux[name]) for name in ("line_width", "fold_width", "slope"))
  fe, a = max(fw, lw), np.abs(d)
  src = np.where(a >= lw, a + np.maximum(0, (fe - lw) - k * (a - lw)), a * fe / max(lw, 1e-12))
  s = np.sign(d) * (src - a)
  warped = ndimage.map_coordinates(x.astype(np.float64), [yy + s * n[0], xx + s * n[1]], order=1, mode="mirror")
  box = np.asarray(aux["box"], np.float64)
  mean = (warped * box).sum() / box.sum()
  warped = warped + (float(aux["box_contrast"]) - 1) * box * (warped - mean)
  r = np.clip((lw - a) / min(band_edge, lw), 0, 1)
  return warped * (1 - float(aux["darkness"]) * r * r * (3 - 2 * r))


@pytest.mark.slow
def test_fold_matches_independent_numpy_rendering():
  x = _image((64, 80), seed=1)
  for seed in range(4):
    y, aux = fold(jax.random.key(seed), x, line_width=(3.0, 8.0), fold_width=(5.0, 30.0), slope=(0.0, 0.2),
                  contrast_box=(20.0, 50.0), margin=10.0)
    # float32 against float64: d (|d| <= 100 px) is off by ~3 ulp (2.3e-5 px), times the band's squeeze fold / line
    # <= 30 / 3 and x's slopes <= 1 per px: 2.3e-4
    np.testing.assert_allclose(y, _render_numpy(x, aux), atol=5e-4)


@pytest.mark.slow
def test_fold_eager_equals_jit():
  x = _image()
  for seed in range(3):
    e, ae = fold(jax.random.key(seed), x)
    j, aj = jax.jit(fold)(jax.random.key(seed), x)
    np.testing.assert_allclose(e, j, atol=FOLD_ATOL)
    # the flow (|flow| <= 80 px, ulp 7.6e-6) moves with d (slope <= 1) and the normal (80 x 1.2e-7): <= 3.3e-5
    np.testing.assert_allclose(ae["flow"], aj["flow"], atol=1e-4)
    # endpoints (<= 47 px) are one multiply-add of the uniform draws: <= 1 ulp (3.8e-6 px); the candidates' distance
    # test (>= 20 px) picks the same pair: for keys 0-2 every candidate is >= 2.7 px away from 20
    np.testing.assert_allclose(ae["endpoints"], aj["endpoints"], atol=1e-5)


@pytest.mark.slow
def test_fold_zero_strength_is_identity():
  x = _image((2, 40, 48))
  for seed in range(3):
    y, aux = fold(jax.random.key(seed), x, **ZERO)
    np.testing.assert_array_equal(y, x)
    assert not np.any(np.asarray(aux["flow"])) and not np.any(np.asarray(aux["mask"]))
    assert not np.any(np.asarray(aux["lost"]))
  y, _ = jax.jit(functools.partial(fold, **ZERO))(jax.random.key(4), jnp.asarray(x, jnp.bfloat16))
  assert y.dtype == jnp.bfloat16
  np.testing.assert_array_equal(np.asarray(y, np.float32), np.asarray(jnp.asarray(x, jnp.bfloat16), np.float32))


def test_fold_unfolds_real_sstem_with_the_inverse_flow():
  """Key test: warping y by aux['flow'] gives x back outside the band, the lost strip and the box."""
  v = tifffile.imread(shared_file("isbi2012_sstem_train.tif"))
  x = v[5, 100:356, 100:356].astype(np.float32) / 255
  yy, xx = np.mgrid[:256, :256].astype(np.float32)
  op = jax.jit(functools.partial(fold, fold_width=(20.0, 60.0)))
  for seed in range(4):
    y, aux = op(jax.random.key(seed), x)
    flow = np.asarray(aux["flow"])
    coords = jnp.stack([yy + flow[0], xx + flow[1]])
    unfolded = np.asarray(jax.scipy.ndimage.map_coordinates(y, list(coords), order=1, mode="nearest"))
    box_seen = ndimage.map_coordinates(np.asarray(aux["box"]), list(np.asarray(coords)), order=1)
    keep = ndimage.binary_erosion((np.asarray(aux["lost"]) == 0) & (box_seen == 0), iterations=2)
    keep &= (coords[0] >= 0) & (coords[0] <= 255) & (coords[1] >= 0) & (coords[1] <= 255)  # shown in y
    assert keep.mean() > 0.2
    err = np.abs(unfolded - x)[keep].mean()
    moved = np.abs(np.asarray(y) - x)[keep].mean()
    assert moved > 0.08                     # y itself differs clearly from x there ...
    assert err < 0.025 and err < 0.15 * moved   # ... the unfolded image does not (bilinear twice on noisy EM)


@pytest.mark.slow
def test_fold_unfolds_linear_images_exactly():
  """Bilinear interpolation is exact on a linear ramp, so there the round trip is exact to float precision."""
  yy, xx = np.mgrid[:96, :96].astype(np.float32)
  x = 0.2 + 0.004 * yy + 0.003 * xx
  for seed in range(3):
    y, aux = fold(jax.random.key(seed), x, line_width=(3.0, 6.0), fold_width=(8.0, 20.0), box_contrast=(1, 1))
    flow = np.asarray(aux["flow"])
    cy, cx = yy + flow[0], xx + flow[1]
    unfolded = ndimage.map_coordinates(np.asarray(y), [cy, cx], order=1, mode="nearest")
    keep = ndimage.binary_erosion(np.asarray(aux["lost"]) == 0, iterations=2)
    keep &= (cy >= 0) & (cy <= 95) & (cx >= 0) & (cx <= 95)
    assert keep.mean() > 0.3
    np.testing.assert_allclose(unfolded[keep], x[keep], atol=1e-4)
    assert np.abs(np.asarray(y) - x)[keep].mean() > 0.01


@pytest.mark.slow
def test_fold_masks_follow_the_geometry():
  x = _image((60, 70), seed=4)
  for seed in range(5):
    y, aux = fold(jax.random.key(seed), x, margin=10.0)
    _, _, _, d = _geometry(aux, 60, 70)
    a = np.abs(d)
    lw, fw = float(aux["line_width"]), float(aux["fold_width"])
    band, lost = np.asarray(aux["mask"]), np.asarray(aux["lost"])
    assert np.all(band[a >= lw + 1e-3] == 0) and np.all(band[a <= lw - 3.0 - 1e-3] == 1)
    np.testing.assert_array_equal(lost, (a < max(lw, fw)).astype(np.float32)[...])
    core = a <= lw - 3.0 - 1e-3
    if core.any():                          # the band keeps (1 - darkness) of the warped tissue
      clean, _ = fold(jax.random.key(seed), x, margin=10.0, band_darkness=(0.0, 0.0))
      ratio = np.asarray(y)[core] / np.maximum(np.asarray(clean)[core], 1e-6)
      np.testing.assert_allclose(ratio[np.asarray(clean)[core] > 0.05], 1 - float(aux["darkness"]), atol=1e-4)


@pytest.mark.slow
def test_fold_endpoints_obey_margin_and_distance_rules():
  for shape, margin in (((256, 256), 50.0), ((40, 64), 50.0), ((300, 200), 20.0)):
    h, w = shape
    _, aux = jax.jit(jax.vmap(functools.partial(fold, margin=margin), in_axes=(0, None)))(
        _keys(500), jnp.zeros(shape, jnp.float32))
    e = np.asarray(aux["endpoints"])                                     # [N, 2, 2] (y, x)
    mh, mw = min(margin, 0.2 * (h - 1)), min(margin, 0.2 * (w - 1))
    sides = []
    for p in (e[:, 0], e[:, 1]):
      top, bottom = np.isclose(p[:, 0], 0), np.isclose(p[:, 0], h - 1)
      left, right = np.isclose(p[:, 1], 0), np.isclose(p[:, 1], w - 1)
      on_h = top | bottom
      assert np.all(on_h ^ (left | right))                               # on exactly one border, not a corner
      assert np.all(np.where(on_h, (p[:, 1] >= mw - 1e-3) & (p[:, 1] <= w - 1 - mw + 1e-3),
                             (p[:, 0] >= mh - 1e-3) & (p[:, 0] <= h - 1 - mh + 1e-3)))
      sides.append(np.select([top, right, bottom], [0, 1, 2], 3))
    assert np.all(sides[0] != sides[1])
    assert np.all(np.hypot(*(e[:, 1] - e[:, 0]).T) >= 0.5 * min(h, w) - 1e-3)
    assert len(np.unique(sides[0])) == 4
    direction = np.arctan2(e[:, 1, 0] - e[:, 0, 0], e[:, 1, 1] - e[:, 0, 1]) % np.pi
    np.testing.assert_allclose(np.cos(2 * direction), np.cos(2 * np.asarray(aux["angle"])), atol=1e-4)


def test_fold_drawn_parameters_cover_their_ranges():
  params = dict(line_width=(5.0, 20.0), fold_width=(10.0, 80.0), slope=(1e-5, 0.1), band_darkness=(0.75, 1.0),
                box_contrast=(0.4, 1.0))
  _, aux = jax.jit(jax.vmap(functools.partial(fold, **params), in_axes=(0, None)))(
      _keys(2000), jnp.zeros((24, 24), jnp.float32))
  names = dict(line_width="line_width", fold_width="fold_width", slope="slope", band_darkness="darkness",
               box_contrast="box_contrast")
  for param, name in names.items():
    lo, hi = params[param]
    v = np.asarray(aux[name])
    span = hi - lo
    assert v.min() >= lo and v.max() <= hi, name
    assert v.min() < lo + 0.01 * span and v.max() > hi - 0.01 * span, name
    assert abs(v.mean() - (lo + hi) / 2) < 0.03 * span, name
  angle = np.asarray(aux["angle"])
  assert angle.min() >= 0 and angle.max() < math.pi


@pytest.mark.slow
def test_fold_vmap_keys_and_leading_axes():
  x = np.stack([_image(seed=s) for s in range(4)])
  y, aux = jax.vmap(fold)(_keys(4), x)
  assert aux["flow"].shape == (4, 2, 40, 48) and aux["mask"].shape == (4, 40, 48)
  ends = np.asarray(aux["endpoints"])
  assert len({e.tobytes() for e in ends}) == 4                          # per-example draws
  y2, _ = fold(_keys(4)[2], x[2])
  np.testing.assert_allclose(y[2], y2, atol=FOLD_ATOL)                   # vmap and a single call: two compilations
  yb, auxb = fold(jax.random.key(0), x)                                 # leading axis shares the fold
  assert auxb["mask"].shape == (4, 40, 48) and auxb["flow"].shape == (4, 2, 40, 48)
  np.testing.assert_array_equal(auxb["mask"][0], auxb["mask"][3])
  a, _ = fold(jax.random.key(1), x[0])
  b, _ = fold(jax.random.key(1), x[0])
  c, _ = fold(jax.random.key(2), x[0])
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


def test_fold_bad_arguments_raise():
  x = _image()
  key = jax.random.key(0)
  with pytest.raises(ValueError, match="x must be a float"):
    fold(key, (x * 255).astype(np.uint8))
  with pytest.raises(ValueError, match="at least 2 axes"):
    fold(key, x[0])
  with pytest.raises(ValueError, match="line_width"):
    fold(key, x, line_width=(-1.0, 2.0))
  with pytest.raises(ValueError, match="fold_width"):
    fold(key, x, fold_width=(5.0, 1.0))
  with pytest.raises(ValueError, match="slope"):
    fold(key, x, slope=(0.0, 1.0))
  with pytest.raises(ValueError, match="band_darkness"):
    fold(key, x, band_darkness=(0.5, 1.5))
  with pytest.raises(ValueError, match="contrast_box"):
    fold(key, x, contrast_box=(-5.0, 10.0))
  with pytest.raises(ValueError, match="box_contrast"):
    fold(key, x, box_contrast=(0.5,))
  with pytest.raises(ValueError, match="margin"):
    fold(key, x, margin=-1.0)
  with pytest.raises(ValueError, match="band_edge"):
    fold(key, x, band_edge=-1.0)
  with pytest.raises(ValueError, match="2 x 2"):
    fold(key, np.zeros((1, 5), np.float32))


def test_host_fold_matches_device_for_the_same_draw():
  x = _image((64, 72), seed=5)
  y, aux = host.fold(np.random.default_rng(0), x, contrast_box=(20.0, 40.0), margin=10.0)
  assert aux["line_width"] <= 20 and 10 <= aux["fold_width"] <= 80 and aux["darkness"] >= 0.75
  np.testing.assert_allclose(y, _render_numpy(x, aux), atol=2e-4)
  assert fold_mod.BOX_FEATHER == host.BOX_FEATHER
