"""Whole-volume reconstruction over planes: identity = interpolation baseline, orientations, fusion, slabs."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso import infer, io
from jax_iso.degrade import grid, simulate_axial
from jax_iso.errors import UserError
from jax_iso.infer import budget
from jax_iso.samples import FIBSEM_10NM

_IDENTITY = jax.jit(lambda x: x)
_TILING = infer.Tiling(tile=32, overlap=8, margin=8, batch_size=8, multiple=4)
_UNIT = io.Intensity(0.0, 1.0, np.dtype(np.float32))


@pytest.fixture(scope="module")
def sample_sections():
  """Box-profile sections (x4) of a 96 x 72 x 80 crop of the shipped FIB-SEM sample, uint8."""
  vol = io.read_volume(FIBSEM_10NM)[0][:96, 20:92, 40:120]
  sec = simulate_axial(vol.astype(np.float32) / 255.0, 4.0, profile="box")
  return np.asarray(np.rint(np.clip(np.asarray(sec), 0, 1) * 255), np.uint8)


def _baseline(src, factor, intensity, dtype):
  out = np.zeros((grid.fine_count(src.shape[0], factor),) + src.shape[1:], dtype)
  infer.interpolate_volume(src, out, factor=factor, method="cubic", intensity=intensity)
  return out


def _run(src, factor, fn, intensity, dtype, *, slabs=None, temp_dtype=None, budget_bytes=budget.DEFAULT_BUDGET_BYTES,
         tile=None, **kw):
  out = np.zeros((grid.fine_count(src.shape[0], factor),) + src.shape[1:], dtype)
  memory = infer.Memory(budget_bytes=budget_bytes, slabs=slabs, temp_dtype=temp_dtype)
  tiling = _TILING if tile is None else dataclasses.replace(_TILING, tile=tile)
  summary = infer.reconstruct_planes(src, out, fn, tiling, factor=factor, intensity=intensity, memory=memory,
                                     progress=False, **kw)
  return out, summary


@pytest.mark.parametrize("fuse", ["mean", "geometric", "xz", "yz"])
def test_identity_model_equals_cubic_baseline_on_float_volume(fuse):
  src = np.random.default_rng(0).uniform(0.1, 0.9, (9, 37, 45)).astype(np.float32)
  want = _baseline(src, 2.5, _UNIT, np.float32)
  if fuse == "geometric":
    want = np.maximum(want, 0.0)          # cubic overshoot below 0 is clipped by the geometric mean
  got, _ = _run(src, 2.5, _IDENTITY, _UNIT, np.float32, fuse=fuse, slabs=16)
  # float32, two compilations of the 4-tap cubic sum (values < 1, sum of |weights| <= 1.25: 4 roundings of
  # <= 6e-8 each, so <= 5e-7 apart) plus the blend and fusion (a few roundings of values < 1): < 1e-6
  np.testing.assert_allclose(got, want, atol=2e-6)


@pytest.mark.parametrize("fuse", ["mean", "geometric"])
def test_identity_model_equals_cubic_baseline_on_real_em(sample_sections, fuse):
  intensity = io.Intensity(0.0, 255.0, np.dtype(np.uint8))
  want = _baseline(sample_sections, 4.0, intensity, np.uint8).astype(int)
  exact, _ = _run(sample_sections, 4.0, _IDENTITY, intensity, np.uint8, fuse=fuse, temp_dtype=np.float32)
  assert exact.shape == (96, 72, 80)
  diff = np.abs(exact.astype(int) - want)
  assert diff.max() <= 1 and (diff > 0).mean() < 1e-3      # float rounding at .5 only
  # The default float16 store for uint8 output: off by one level at most, on a few percent of voxels.
  half, _ = _run(sample_sections, 4.0, _IDENTITY, intensity, np.uint8, fuse=fuse)
  diff = np.abs(half.astype(int) - want)
  assert diff.max() <= 1 and (diff > 0).mean() < 0.05


def _orientation_marker():
  """+1 on XZ planes, +3 on YZ planes: the volume is 32 wide in Y and 56 in X, so their windows differ."""
  def fn(x):
    return x + (1.0 if x.shape[-1] == 56 + 16 else 3.0)
  return fn


@pytest.mark.parametrize("fuse,expect", [("mean", 2.0), ("xz", 1.0), ("yz", 3.0)])
def test_each_orientation_contributes_per_voxel(fuse, expect):
  src = np.random.default_rng(1).uniform(0.2, 0.8, (6, 32, 56)).astype(np.float32)
  base = _baseline(src, 3.0, _UNIT, np.float32)
  got, summary = _run(src, 3.0, _orientation_marker(), _UNIT, np.float32, fuse=fuse, tile=64)
  np.testing.assert_allclose(got - base, expect, atol=1e-5)
  assert summary["orientations"] == ([fuse] if fuse != "mean" else ["xz", "yz"])


def test_geometric_fusion_of_orientations():
  src = np.random.default_rng(1).uniform(0.2, 0.8, (6, 32, 56)).astype(np.float32)
  base = _baseline(src, 3.0, _UNIT, np.float32)
  got, _ = _run(src, 3.0, _orientation_marker(), _UNIT, np.float32, fuse="geometric", tile=64)
  np.testing.assert_allclose(got, np.sqrt(np.maximum(base + 1, 0) * np.maximum(base + 3, 0)), atol=1e-5)


def _lateral_gradient(x):
  """|x[h, w + 1] - x[h, w]| along the plane's second axis (its rows' direction); pixelwise up to 1 px."""
  return jnp.abs(jnp.roll(x, -1, axis=-1) - x)


@pytest.mark.parametrize("axis", ["z", "y", "x"])
def test_planes_are_y_const_for_xz_and_x_const_for_yz(axis):
  """A volume that varies along one axis only: an XZ plane ([Zf, X]) sees a slope along its rows only when the
  volume varies in X, a YZ plane ([Zf, Y]) only when it varies in Y; neither when it varies in Z."""
  zz, yy, xx = np.meshgrid(np.arange(8), np.arange(40), np.arange(48), indexing="ij")
  ramp = {"z": zz, "y": yy, "x": xx}[axis]
  src = (0.2 + 0.01 * ramp).astype(np.float32)
  fn = jax.jit(_lateral_gradient)
  xz, _ = _run(src, 2.0, fn, _UNIT, np.float32, fuse="xz")
  yz, _ = _run(src, 2.0, fn, _UNIT, np.float32, fuse="yz")
  # float32: each value (< 0.7) is a 4-tap cubic sum with <= 4 roundings of 3e-8, and the same weights for
  # neighbours, so their difference is off by <= 3e-7 (a one-pixel shift or a swapped orientation: by 0.01)
  np.testing.assert_allclose(xz, 0.01 if axis == "x" else 0.0, atol=1e-6)
  np.testing.assert_allclose(yz, 0.01 if axis == "y" else 0.0, atol=1e-6)


def test_slab_sizes_do_not_change_the_result():
  src = np.random.default_rng(2).uniform(0.0, 1.0, (7, 29, 35)).astype(np.float32)
  fn = jax.jit(lambda x: jnp.tanh(2.0 * x) + 0.05 * jnp.roll(x, 1, axis=-2))
  ref, summary = _run(src, 3.5, fn, _UNIT, np.float32)
  assert summary["slabs"] == {"xz": 29, "yz": 35}                 # the whole volume fits the budget
  for slabs in (1, 6, {"xz": 4, "yz": 11}):
    got, summary = _run(src, 3.5, fn, _UNIT, np.float32, slabs=slabs)
    # float32: each slab shape is its own compilation of the cubic resampling (<= 5e-7 apart, see above),
    # through tanh(2x) (slope <= 2) and XLA's tanh (a few ulp): < 2e-6; a misplaced slab differs by ~0.1
    np.testing.assert_allclose(got, ref, atol=5e-6)
  assert summary["slabs_run"] == {"yz": 4, "xz": 8}               # ceil(35 / 11), ceil(29 / 4)


def test_file_output_has_the_fine_grid_shape_and_spacing(tmp_path, sample_sections):
  src_path = tmp_path / "sections.tif"
  io.write_volume(src_path, sample_sections[:, :40, :48], (40.0, 10.0, 10.0))
  out_path = tmp_path / "iso.ome.zarr"
  with io.open_volume(src_path) as src:
    n_out = grid.fine_count(src.shape[0], 4.0)
    with io.create_volume(out_path, (n_out, 40, 48), src.dtype, (10.0, 10.0, 10.0)) as sink:
      infer.reconstruct_planes(src, sink, _IDENTITY, _TILING, factor=4.0, intensity=io.intensity_of(src),
                               progress=False)
  out, spacing = io.read_volume(out_path)
  assert out.shape == (round(24 * 4.0), 40, 48) and out.dtype == np.uint8 and spacing == (10.0, 10.0, 10.0)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["iso.ome.zarr", "sections.tif"]   # no temp left


@pytest.mark.parametrize("budget_mb", [4, 16, 64, 1024])
def test_slab_planner_follows_the_memory_budget(budget_mb):
  kw = dict(tile=256, overlap=32, margin=48, multiple=4, batch_size=8)
  n_sections, plane = 500, (2000, 3000)            # planes [Zf, L] of a 500-section volume at x4
  slab = budget.plan_slab(3000, n_sections, plane, budget_bytes=budget_mb << 20, **kw)
  used = budget.slab_bytes(slab, n_sections, plane, **kw)
  more = budget.slab_bytes(slab + 64 if slab >= 64 else slab + 1, n_sections, plane, **kw)
  assert slab >= 1
  assert used <= budget_mb << 20 or slab == 1
  assert more > budget_mb << 20
  assert slab < 64 or slab % 64 == 0
  per_plane = budget.plane_bytes(n_sections, plane, **{k: v for k, v in kw.items() if k != "batch_size"})
  assert per_plane >= 8 * 4 * 2000 * 3000          # at least the float copies of the plane


def test_slab_planner_balances_small_slabs_and_takes_everything_that_fits():
  kw = dict(tile=64, overlap=8, margin=8, multiple=4, batch_size=4)
  per_plane = budget.plane_bytes(10, (40, 100), **{k: v for k, v in kw.items() if k != "batch_size"})
  fixed = budget.fixed_bytes((40, 100), **kw)
  assert budget.plan_slab(100, 10, (40, 100), budget_bytes=fixed + 60 * per_plane, **kw) == 50   # not 60 + 40
  assert budget.plan_slab(100, 10, (40, 100), budget_bytes=1 << 30, **kw) == 100


def test_reconstruction_uses_the_planner(monkeypatch):
  src = np.random.default_rng(3).uniform(0.0, 1.0, (5, 24, 30)).astype(np.float32)
  kw = _TILING.geometry
  budget_bytes = budget.fixed_bytes((15, 30), batch_size=8, **kw) + 7 * budget.plane_bytes(5, (15, 30), **kw)
  _, summary = _run(src, 3.0, _IDENTITY, _UNIT, np.float32, fuse="xz", budget_bytes=budget_bytes)
  assert summary["slabs"] == {"xz": 6}             # 7 fit; 24 rows in 4 balanced slabs of 6


def test_bad_settings_raise_user_errors():
  src = np.zeros((4, 8, 8), np.float32)
  with pytest.raises(UserError, match="fuse"):
    _run(src, 2.0, _IDENTITY, _UNIT, np.float32, fuse="max")
  with pytest.raises(UserError, match="orientations"):
    _run(src, 2.0, _IDENTITY, _UNIT, np.float32, fuse="xz", orientations=("yz",))
  with pytest.raises(ValueError, match="sink shape"):
    infer.reconstruct_planes(src, np.zeros((9, 8, 8), np.float32), _IDENTITY, _TILING, factor=2.0,
                             intensity=_UNIT, progress=False)
