"""Missing sections and misalignment: the op contract, independent numpy/scipy values, invariants."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile
from scipy import ndimage

from experiments.host import sections as host
from jax_iso.degrade import sections
from shared_data import shared_file



def _stack(shape=(12, 6, 7), seed=0):
  return np.random.default_rng(seed).random(shape).astype(np.float32)


def _keys(n, seed=0):
  return jax.random.split(jax.random.key(seed), n)


# ---------------------------------------------------------------- missing_sections

@pytest.mark.slow
def test_missing_eager_equals_jit():
  x = _stack()
  op = functools.partial(sections.missing_sections, runs=(1, 3), run_length=(1, 4),
                         fills=("blank", "mean", "duplicate", "interpolate"))
  for seed in range(6):
    key = jax.random.key(seed)
    eager, aux_e = op(key, x)
    jitted, aux_j = jax.jit(op)(key, x)
    # float32, two compilations: a 'mean' fill averages 6 x 7 values <= 1, which may be summed in another order
    # (<= 2 x 41 x 6e-8 = 4.9e-6); 'interpolate' is one multiply-add (1.2e-7); the rest are copies
    np.testing.assert_allclose(eager, jitted, atol=1e-5)
    np.testing.assert_array_equal(aux_e["mask"], aux_j["mask"])
    assert int(aux_e["fill"]) == int(aux_j["fill"])


def test_missing_zero_runs_is_identity():
  x = _stack()
  y, aux = sections.missing_sections(jax.random.key(0), x, runs=(0, 0))
  assert y is x or np.array_equal(np.asarray(y), x)
  assert float(jnp.sum(aux["mask"])) == 0.0
  y, aux = jax.jit(functools.partial(sections.missing_sections, runs=(0, 0)))(jax.random.key(1), x)
  np.testing.assert_array_equal(y, x)


def test_missing_mask_matches_changed_sections_and_runs():
  x = _stack((16, 5, 6))
  op = jax.jit(functools.partial(sections.missing_sections, runs=(1, 3), run_length=(2, 4), fills=("blank",),
                                 blank_value=-1.0))
  for seed in range(20):
    y, aux = op(jax.random.key(seed), x)
    y, mask = np.asarray(y), np.asarray(aux["mask"])
    np.testing.assert_array_equal(y[mask == 0], x[mask == 0])          # intact sections bitwise unchanged
    assert np.all(y[mask == 1] == -1.0)                                  # lost ones all blank
    starts, lengths, n = np.asarray(aux["starts"]), np.asarray(aux["lengths"]), int(aux["n_runs"])
    want = np.zeros(16, bool)
    for s, length in zip(starts[:n], lengths[:n]):
      assert 2 <= length <= 4 and 0 <= s <= 16 - length
      want[s:s + length] = True
    assert np.all(lengths[n:] == 0)
    np.testing.assert_array_equal(mask, want.astype(np.float32))


def test_missing_duplicate_copies_nearest_intact_neighbour():
  x = _stack((10, 4, 5), seed=3)
  op = jax.jit(functools.partial(sections.missing_sections, runs=(1, 3), run_length=(1, 3), fills=("duplicate",)))
  for seed in range(30):
    y, aux = op(jax.random.key(seed), x)
    y, mask, source = np.asarray(y), np.asarray(aux["mask"]).astype(bool), np.asarray(aux["source"])
    intact = np.flatnonzero(~mask)
    for z in np.flatnonzero(mask):
      src = source[z]
      assert not mask[src]                                               # copied from an intact section
      assert abs(src - z) == np.min(np.abs(intact - z))                  # ... the nearest one
      np.testing.assert_array_equal(y[z], x[src])


def test_missing_mean_and_interpolate_fills_against_numpy():
  x = _stack((9, 4, 5), seed=4)
  for fill in ("mean", "interpolate"):
    op = jax.jit(functools.partial(sections.missing_sections, runs=(1, 2), run_length=(1, 3), fills=(fill,)))
    for seed in range(10):
      y, aux = op(jax.random.key(seed), x)
      y, mask = np.asarray(y), np.asarray(aux["mask"]).astype(bool)
      intact = np.flatnonzero(~mask)
      for z in np.flatnonzero(mask):
        if fill == "mean":
          want = np.full_like(x[z], x[z].mean(dtype=np.float64))
        else:
          below, above = intact[intact < z], intact[intact > z]
          if below.size and above.size:
            t = (z - below[-1]) / (above[0] - below[-1])
            want = (1 - t) * x[below[-1]] + t * x[above[0]]
          else:
            want = x[below[-1]] if below.size else x[above[0]]
        # float32 against float64: a mean of 4 x 5 values <= 1 rounds 20 times (<= 1.2e-6); interpolation twice
        np.testing.assert_allclose(y[z], want, atol=2e-6)


@pytest.mark.slow
def test_missing_all_sections_lost_falls_back_to_blank():
  x = _stack((3, 4, 4))
  y, aux = sections.missing_sections(jax.random.key(0), x, runs=(1, 1), run_length=(3, 3),
                                     fills=("duplicate",), blank_value=0.25)
  assert np.all(np.asarray(aux["mask"]) == 1) and np.all(np.asarray(y) == 0.25)
  assert np.all(np.asarray(aux["source"]) == -1)


def test_missing_drawn_parameters_cover_their_ranges():
  x = _stack((16, 2, 2))
  op = functools.partial(sections.missing_sections, runs=(0, 3), run_length=(1, 4),
                         fills=("blank", "mean", "duplicate"))
  _, aux = jax.jit(jax.vmap(op, in_axes=(0, None)))(_keys(2000), x)
  n, lengths, fill = np.asarray(aux["n_runs"]), np.asarray(aux["lengths"]), np.asarray(aux["fill"])
  assert set(np.unique(n)) == {0, 1, 2, 3} and abs(n.mean() - 1.5) < 0.1
  active = lengths[np.arange(3)[None, :] < n[:, None]]
  assert set(np.unique(active)) == {1, 2, 3, 4} and abs(active.mean() - 2.5) < 0.1
  assert set(np.unique(fill)) == {0, 1, 2} and abs(fill.mean() - 1.0) < 0.1
  starts = np.asarray(aux["starts"])[np.arange(3)[None, :] < n[:, None]]
  assert starts.min() == 0 and starts.max() == 15 and np.all(starts + active <= 16)
  # every section position gets hit (uniform placement, no edge starved)
  hit = np.asarray(aux["mask"]).mean(0)
  assert hit.min() > 0.05


@pytest.mark.slow
def test_missing_vmap_and_keys():
  x = np.stack([_stack((12, 3, 3), seed=s) for s in range(8)])
  op = functools.partial(sections.missing_sections, runs=(1, 2), run_length=(1, 3))
  y, aux = jax.vmap(op)(_keys(8), x)
  masks = np.asarray(aux["mask"])
  assert masks.shape == (8, 12) and len({m.tobytes() for m in masks}) > 1   # per-example draws
  y0, aux0 = op(_keys(8)[3], x[3])
  intact = np.asarray(aux0["mask"]) == 0
  np.testing.assert_array_equal(np.asarray(y[3])[intact], np.asarray(y0)[intact])   # copied bitwise
  # a 'mean' fill averages 3 x 3 values <= 1, which vmap may sum in another order: <= 2 x 8 x 6e-8 = 1e-6
  np.testing.assert_allclose(y[3], y0, atol=2e-6)
  a, _ = op(jax.random.key(5), x[0])
  b, _ = op(jax.random.key(5), x[0])
  np.testing.assert_array_equal(a, b)
  outs = {np.asarray(op(jax.random.key(s), x[0])[1]["mask"]).tobytes() for s in range(10)}
  assert len(outs) > 1


@pytest.mark.slow
def test_missing_leading_axes_share_the_draw_and_keep_dtype():
  x = jnp.asarray(_stack((2, 8, 3, 3)), jnp.bfloat16)
  y, aux = sections.missing_sections(jax.random.key(2), x, runs=(2, 2), fills=("blank",), blank_value=0.5)
  assert y.dtype == jnp.bfloat16 and y.shape == x.shape
  mask = np.asarray(aux["mask"])
  assert mask.shape == (2, 8) and np.array_equal(mask[0], mask[1]) and mask.sum() > 0


def test_missing_bad_arguments_raise():
  x = _stack((6, 3, 3))
  with pytest.raises(ValueError, match="x must be a float"):
    sections.missing_sections(jax.random.key(0), x.astype(np.uint8))
  with pytest.raises(ValueError, match="at least 3 axes"):
    sections.missing_sections(jax.random.key(0), x[0])
  with pytest.raises(ValueError, match="runs"):
    sections.missing_sections(jax.random.key(0), x, runs=(1.5, 2))
  with pytest.raises(ValueError, match="runs"):
    sections.missing_sections(jax.random.key(0), x, runs=(-1, 2))
  with pytest.raises(ValueError, match="runs"):
    sections.missing_sections(jax.random.key(0), x, runs=(3, 1))
  with pytest.raises(ValueError, match="run_length"):
    sections.missing_sections(jax.random.key(0), x, run_length=(0, 2))
  with pytest.raises(ValueError, match="run_length"):
    sections.missing_sections(jax.random.key(0), x, run_length=(1, 7))
  with pytest.raises(ValueError, match="fills"):
    sections.missing_sections(jax.random.key(0), x, fills=("blank", "noise"))
  with pytest.raises(ValueError, match="fills"):
    sections.missing_sections(jax.random.key(0), x, fills=())


def test_host_missing_sections_keeps_the_model():
  x = _stack((12, 4, 4))
  rng = np.random.default_rng(0)
  for _ in range(20):
    y, aux = host.missing_sections(rng, x, runs=(1, 2), run_length=(1, 3),
                                   fills=("blank", "mean", "duplicate", "interpolate"), blank_value=-1.0)
    mask = aux["mask"].astype(bool)
    np.testing.assert_array_equal(y[~mask], x[~mask])
    assert 1 <= mask.sum() <= 6
    if aux["fill"] == 0:
      assert np.all(y[mask] == -1.0)
    if aux["fill"] == 2:
      assert all(any(np.array_equal(y[z], x[j]) for j in np.flatnonzero(~mask)) for z in np.flatnonzero(mask))


# ---------------------------------------------------------------- misalignment

@pytest.mark.slow
def test_misalignment_matches_scipy_shift():
  x = _stack((6, 17, 23), seed=1)
  for seed in range(4):
    y, aux = sections.misalignment(jax.random.key(seed), x, max_shift=(0.0, 4.0))
    shifts = np.asarray(aux["shifts"])
    want = np.stack([ndimage.shift(x[z].astype(np.float64), shifts[z], order=1, mode="nearest")
                     for z in range(6)])
    np.testing.assert_allclose(y, want, atol=1e-5)


@pytest.mark.slow
def test_misalignment_matches_scipy_on_real_sstem():
  v = tifffile.imread(shared_file("isbi2012_sstem_train.tif"))[:4, :96, :128].astype(np.float32) / 255
  y, aux = sections.misalignment(jax.random.key(7), v, max_shift=(2.0, 2.0))
  shifts = np.asarray(aux["shifts"])
  assert np.all(np.abs(shifts) <= 2.0) and np.abs(shifts).max() > 0.5
  want = np.stack([ndimage.shift(v[z], shifts[z], order=1, mode="nearest") for z in range(4)])
  np.testing.assert_allclose(y, want, atol=1e-5)
  assert np.abs(np.asarray(y) - v).mean() > 0.02                         # clearly moved


def test_misalignment_integer_shift_is_exact_roll_with_edges():
  x = _stack((1, 8, 9), seed=2)
  a = sections.linear_shift_matrix(8, jnp.asarray(2.0))
  got = np.asarray(a) @ x[0]
  want = x[0][np.clip(np.arange(8) - 2, 0, 7)]
  np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_misalignment_eager_equals_jit_and_zero_is_identity():
  x = _stack((5, 9, 11))
  op = functools.partial(sections.misalignment, max_shift=(0.5, 3.0))
  for seed in range(3):
    e, ae = op(jax.random.key(seed), x)
    j, aj = jax.jit(op)(jax.random.key(seed), x)
    # float32, two compilations: the shifts (<= 3 px) are u * m with m = u' * 2.5 + 0.5, each maybe contracted: <=
    # 2 ulp (4.8e-7 px); x in [0, 1] moves by <= 1 per px of shift, on each of 2 passes of 2-tap multiply-adds that
    # may round differently (1.2e-7 each): <= 1.5e-6
    np.testing.assert_allclose(e, j, atol=5e-6)
    np.testing.assert_allclose(ae["shifts"], aj["shifts"], atol=1e-6)
  y, aux = sections.misalignment(jax.random.key(0), x, max_shift=(0.0, 0.0))
  np.testing.assert_array_equal(y, x)
  assert not np.any(np.asarray(aux["shifts"]))


def test_misalignment_drawn_shifts_cover_their_ranges():
  x = _stack((4, 3, 3))
  _, aux = jax.jit(jax.vmap(functools.partial(sections.misalignment, max_shift=(0.5, 2.5)),
                            in_axes=(0, None)))(_keys(2000), x)
  m, shifts = np.asarray(aux["max_shift"]), np.asarray(aux["shifts"])
  assert m.min() >= 0.5 and m.max() <= 2.5 and m.min() < 0.52 and m.max() > 2.48
  assert abs(m.mean() - 1.5) < 0.04
  assert np.all(np.abs(shifts) <= m[:, None, None] + 1e-6)
  assert shifts.min() < -2.3 and shifts.max() > 2.3 and abs(shifts.mean()) < 0.03
  assert shifts.shape == (2000, 4, 2)


@pytest.mark.slow
def test_misalignment_vmap_keys_and_leading_axes():
  x = _stack((3, 4, 10, 10))
  op = functools.partial(sections.misalignment, max_shift=(1.0, 2.0))
  y, aux = jax.vmap(op)(_keys(3), x)
  s = np.asarray(aux["shifts"])
  assert s.shape == (3, 4, 2) and not np.allclose(s[0], s[1])
  y1, _ = op(_keys(3)[1], x[1])
  np.testing.assert_allclose(y[1], y1, atol=5e-6)                       # two compilations: as in the eager / jit test
  yb, auxb = op(jax.random.key(0), jnp.asarray(x, jnp.bfloat16))     # leading axis shares the shifts
  assert yb.dtype == jnp.bfloat16 and auxb["shifts"].shape == (3, 4, 2)
  np.testing.assert_array_equal(auxb["shifts"][0], auxb["shifts"][2])
  a, _ = op(jax.random.key(9), x[0])
  b, _ = op(jax.random.key(9), x[0])
  c, _ = op(jax.random.key(10), x[0])
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c)


def test_misalignment_bad_arguments_raise():
  x = _stack((3, 4, 4))
  with pytest.raises(ValueError, match="max_shift"):
    sections.misalignment(jax.random.key(0), x, max_shift=(-1.0, 2.0))
  with pytest.raises(ValueError, match="max_shift"):
    sections.misalignment(jax.random.key(0), x, max_shift=(2.0, 1.0))
  with pytest.raises(ValueError, match="max_shift"):
    sections.misalignment(jax.random.key(0), x, max_shift=2.0)
  with pytest.raises(ValueError, match="at least 3 axes"):
    sections.misalignment(jax.random.key(0), x[0])
  with pytest.raises(ValueError, match="float"):
    sections.misalignment(jax.random.key(0), x.astype(np.int32))


def test_host_misalignment_matches_device_values_for_the_same_shifts():
  x = _stack((4, 12, 12))
  y, aux = host.misalignment(np.random.default_rng(0), x, max_shift=(1.0, 3.0))
  assert 1.0 <= aux["max_shift"] <= 3.0 and np.all(np.abs(aux["shifts"]) <= aux["max_shift"])
  a_y = sections.linear_shift_matrix(12, jnp.asarray(aux["shifts"][:, 0], jnp.float32))
  a_x = sections.linear_shift_matrix(12, jnp.asarray(aux["shifts"][:, 1], jnp.float32))
  got = np.einsum("dgh,dhw,dvw->dgv", a_y, x, a_x)
  np.testing.assert_allclose(y, got, atol=1e-5)


@pytest.mark.slow
def test_interpolate_missing_each_stack_its_own_flags_against_numpy():
  """Every flagged section becomes the distance-weighted mean of its nearest intact neighbours below and above
  (np.interp along D per pixel, which repeats the end values as the nearest one alone does); intact sections
  keep their bits; a stack with no intact section is left alone."""
  rng = np.random.default_rng(3)
  x = rng.random((3, 7, 4, 5)).astype(np.float32)
  missing = np.zeros((3, 7), bool)
  missing[0, [2, 3, 4]] = True                       # a run inside
  missing[1, [0, 6]] = True                          # both ends
  missing[2] = True                                  # nothing intact
  y = np.asarray(sections.interpolate_missing(jnp.asarray(x), jnp.asarray(missing)))
  for b in range(2):
    kept = np.flatnonzero(~missing[b])
    for z in np.flatnonzero(missing[b]):
      want = np.apply_along_axis(lambda v: np.interp(z, kept, v[kept]), 0, x[b])
      np.testing.assert_allclose(y[b, z], want, atol=1e-6)
    np.testing.assert_array_equal(y[b, kept], x[b, kept])
  np.testing.assert_array_equal(y[2], x[2])
  with pytest.raises(ValueError, match="leading shape"):
    sections.interpolate_missing(jnp.asarray(x), jnp.asarray(missing[:, :6]))
