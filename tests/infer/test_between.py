"""The "between" strategy (vEMDiffuse): which sections and position generate each fine slice."""
import numpy as np
import pytest

from jax_iso import io
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.infer import between
from jax_iso.infer.between import Conditions, sources


@pytest.mark.parametrize("factor, n_sections", [(2.5, 7), (4.0, 6), (10.0, 3)])
def test_every_fine_slice_lies_between_its_two_sections(factor, n_sections):
  n_out = grid.fine_count(n_sections, factor)
  below, above, position = sources(np.arange(n_out), factor, n_sections)
  assert below.shape == above.shape == position.shape == (n_out,)
  assert below.min() >= 0 and above.max() < n_sections and np.all(np.abs(below - above) == 1)
  assert np.all((position >= 0) & (position < 1))
  for j in range(n_out):
    centre = lambda k: grid.section_centre(k, factor)   # noqa: E731
    k = int(np.floor((j + 0.5) / factor - 0.5 + 1e-9))
    if 0 <= k < n_sections - 1:          # inside the sections: the two whose centres bracket the slice
      assert (below[j], above[j]) == (k, k + 1) and centre(k) <= j < centre(k + 1)
      assert position[j] == pytest.approx((j - centre(k)) / factor, abs=1e-6)
    elif k < 0:                          # before the first centre: mirrored (section -1 is section 1)
      assert (below[j], above[j]) == (1, 0)
    else:                                # after the last centre: mirrored
      assert (below[j], above[j]) == (n_sections - 1, n_sections - 2)


def test_conditions_are_the_neighbouring_sections_of_a_volume_that_encodes_its_index(tmp_path):
  """Sections whose every voxel holds the section's index: channel 0 / 1 read back the right indices."""
  n, factor = 6, 4.0
  vol = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None] * 10, (n, 8, 8)).copy()
  io.write_volume(tmp_path / "v.tif", vol, (40.0, 10.0, 10.0))
  with io.open_volume(tmp_path / "v.tif") as src:
    intensity = io.intensity_of(src)
    cond = Conditions(src, factor, intensity)
    n_out = grid.fine_count(n, factor)
    got = np.concatenate([cond(z0, min(n_out, z0 + 5)) for z0 in range(0, n_out, 5)])
  below, above, position = sources(np.arange(n_out), factor, n)
  assert got.shape == (n_out, 3, 8, 8)
  np.testing.assert_allclose(got[:, 0, 0, 0] * 255 / 10, below, atol=1e-4)
  np.testing.assert_allclose(got[:, 1, 0, 0] * 255 / 10, above, atol=1e-4)
  np.testing.assert_allclose(got[:, 2], np.broadcast_to(position[:, None, None], (n_out, 8, 8)))
  assert len(cond.cache) <= 3            # sections no later slice needs were let go


def test_one_section_is_refused_and_noise_setting_checked():
  with pytest.raises(ValueError, match="at least 2 sections"):
    sources(np.arange(3), 4.0, 1)
  options = {"tile": 32, "overlap": 8, "margin": 8, "batch_size": 2, "samples": 2, "threshold": 0.12}
  between.check(options)
  with pytest.raises(UserError, match="infer.noise='flat' is unknown"):
    between.check({**options, "noise": "flat"})


@pytest.mark.slow
def test_slice_noise_blends_the_fields_of_the_sections_around_it():
  """`tile_noise(between=s)`: at s = 5, slice 2 sits on section 0's centre (p = 0), slice 7 on section 1's and
  slice 6 at p = 0.8 between them, so its noise is cos(0.4 pi) n_0 + sin(0.4 pi) n_1 exactly; neighbouring
  slices correlate by cos(pi / 10), slices two sections apart not at all, and the variance stays 1."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from jax_iso.infer.diffusion_tiles import tile_noise  # pylint: disable=g-import-not-at-top
  planes = jnp.asarray([2, 6, 7, 3, 17], jnp.int32)
  origins = jnp.stack([planes, jnp.full(5, -8), jnp.full(5, 3)], axis=1).astype(jnp.int32)
  n = np.asarray(tile_noise(jax.random.key(4), origins, jnp.zeros(5, jnp.int32), (96, 96), -1, between=5.0))
  angle = 0.4 * np.pi
  np.testing.assert_allclose(n[1], np.cos(angle) * n[0] + np.sin(angle) * n[2], atol=1e-5)
  corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])   # noqa: E731
  # 9216 pixels: the sample correlation's standard error is about 0.01
  assert abs(corr(n[0], n[3]) - np.cos(np.pi / 10)) < 0.03 and abs(corr(n[0], n[4])) < 0.05
  assert abs(float((n[1] ** 2).mean()) - 1.0) < 0.06
  plain = np.asarray(tile_noise(jax.random.key(4), origins, jnp.zeros(5, jnp.int32), (96, 96), -1))
  assert abs(corr(plain[0], plain[3])) < 0.05             # without `between`: every plane its own noise
