"""The ssTEM restoration network: shapes, the untrained network against its closed form, the separable kernels
and the warp against independent numpy/scipy computations, the fold undone by warping with its inverse flow."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile
from scipy import ndimage

from jax_iso.degrade.fold import fold
from jax_iso.errors import UserError
from jax_iso.models import build_model
from jax_iso.models.restore import SectionRestorer, separable, warp
from shared_data import shared_file


def _net(**kw):
  return SectionRestorer(**{"width": 4, "depth": 2, "taps": 3, **kw})


@pytest.mark.slow
@pytest.mark.parametrize("interp", ["kernel", "flow"])
def test_shapes(interp):
  net = _net(interp=interp)
  x = jnp.asarray(np.random.default_rng(0).random((2, 4, 32, 24)), jnp.float32)
  params = net.init(jax.random.key(0), x)
  out = net.apply(params, x)
  assert {k: v.shape for k, v in out.items()} == {"interp": (2, 32, 24), "corrected": (2, 32, 24),
                                                  "flow": (2, 2, 32, 24), "fused": (2, 32, 24)}
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in out.values())


@pytest.mark.slow
def test_untrained_network_is_its_closed_form():
  """Zero heads: uniform kernels (a box mean over taps^2, mirrored borders), zero flow and residuals, the fusion's
  gate alone: fused = w box_mean(below, above) + (1 - w) damaged, w = sigmoid(gate (2 mask - 1))."""
  rng = np.random.default_rng(1)
  x = rng.random((1, 4, 16, 16)).astype(np.float32)
  x[0, 3] = (rng.random((16, 16)) > 0.5)
  net = _net(taps=5, gate=3.0)
  out = net.apply(net.init(jax.random.key(1), jnp.asarray(x)), jnp.asarray(x))
  box = lambda im: ndimage.uniform_filter(im, size=5, mode="mirror")
  interp = 0.5 * (box(x[0, 0]) + box(x[0, 2]))
  w = 1.0 / (1.0 + np.exp(-3.0 * (2.0 * x[0, 3] - 1.0)))
  np.testing.assert_allclose(np.asarray(out["interp"][0]), interp, atol=1e-5)
  np.testing.assert_allclose(np.asarray(out["corrected"][0]), x[0, 1], atol=1e-6)
  np.testing.assert_allclose(np.asarray(out["fused"][0]), w * interp + (1 - w) * x[0, 1], atol=1e-5)


def test_separable_kernels_match_a_direct_sum():
  rng = np.random.default_rng(2)
  img = rng.random((2, 9, 11)).astype(np.float32)
  v, h = (rng.random((2, 9, 11, 5)).astype(np.float32) for _ in range(2))
  pad = np.pad(img, ((0, 0), (2, 2), (2, 2)), mode="reflect")
  want = np.zeros_like(img)
  for b in range(2):
    for y in range(9):
      for x in range(11):
        want[b, y, x] = np.einsum("i,j,ij->", v[b, y, x], h[b, y, x], pad[b, y:y + 5, x:x + 5])
  np.testing.assert_allclose(np.asarray(separable(jnp.asarray(img), jnp.asarray(v), jnp.asarray(h))), want,
                             rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_warp_matches_scipy_and_unfolds_a_fold():
  """warp = scipy map_coordinates(order=1, mode='mirror') per example; warping a folded real ssTEM section by the
  fold's inverse flow (degrade.fold) gives the tissue back outside the band, the lost strip and the box."""
  v = tifffile.imread(shared_file("isbi2012_sstem_train.tif"))
  x = v[5, 100:356, 100:356].astype(np.float32) / 255
  rng = np.random.default_rng(3)
  flow = rng.normal(0.0, 3.0, (1, 2, 256, 256)).astype(np.float32)
  yy, xx = np.mgrid[:256, :256].astype(np.float32)
  got = np.asarray(warp(jnp.asarray(x)[None], jnp.asarray(flow)))[0]
  want = ndimage.map_coordinates(x, [yy + flow[0, 0], xx + flow[0, 1]], order=1, mode="mirror")
  np.testing.assert_allclose(got, want, atol=2e-5)   # float32 bilinear weights (coordinates < 300, ulp 3e-5)
  y, aux = fold(jax.random.key(4), x, fold_width=(30.0, 60.0))
  unfolded = np.asarray(warp(y[None], aux["flow"][None]))[0]
  flow = np.asarray(aux["flow"])
  cy, cx = yy + flow[0], xx + flow[1]
  box_seen = ndimage.map_coordinates(np.asarray(aux["box"]), [cy, cx], order=1)
  keep = ndimage.binary_erosion((np.asarray(aux["lost"]) == 0) & (box_seen == 0), iterations=2)
  keep &= (cy >= 0) & (cy <= 255) & (cx >= 0) & (cx <= 255)
  assert keep.mean() > 0.2
  moved = np.abs(np.asarray(y) - x)[keep].mean()
  assert moved > 0.08 and np.abs(unfolded - x)[keep].mean() < 0.15 * moved


def test_bad_fields_are_one_line_errors():
  with pytest.raises(UserError, match="interp='sepconv' must be one of kernel, flow"):
    build_model({"name": "restore", "interp": "sepconv"})
  with pytest.raises(UserError, match="taps=4 must be an odd"):
    build_model({"name": "restore", "taps": 4})
  with pytest.raises(ValueError, match="divisible by 4"):
    _net().init(jax.random.key(0), jnp.zeros((1, 4, 18, 16)))
