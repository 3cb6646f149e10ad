"""EMformer and its video window attention: exact output sizes at any factor, the resampling head against numpy,
the start from the interpolated input, frames mixed only where the attention lets them, configuration errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import emformer as emformer_config
from jax_iso.degrade import grid
from jax_iso.degrade.resample import resample
from jax_iso.errors import UserError
from jax_iso.models import build_model
from jax_iso.models.attention import relative_position_index
from jax_iso.models.emformer import row_resampling
from jax_iso.models.video_attention import (VideoWindowAttention, relative_index, video_merge, video_partition,
                                            video_shift_mask)

TINY = {"name": "emformer", "width": 8, "depths": [1, 1, 1], "refine_depths": [1, 1], "refine_width": 8,
        "independent": 1, "heads": 2, "window": [2, 2, 4], "head_width": 8}


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2.5, 3.0, 4.0, 10.0, 12.5])
@pytest.mark.parametrize("upsampler", ["shuffle", "resize"])
def test_output_rows_are_exactly_the_fine_grid(factor, upsampler):
  model = build_model({**TINY, "factor": factor, "upsampler": upsampler})
  x = jax.random.uniform(jax.random.key(0), (2, 3, 7, 10))        # T, N, W off every window multiple
  params = model.init(jax.random.key(1), x)
  out = model.apply(params, x)
  assert out.shape == (2, 3, grid.fine_count(7, factor), 10) and out.dtype == jnp.float32
  assert grid.fine_count(7, factor) == round(7 * factor)


@pytest.mark.slow
@pytest.mark.parametrize("residual", ["linear", "cubic"])
def test_starts_as_the_resampled_input(residual):
  """The zero-initialised head: the untrained network returns its input resampled onto the fine grid exactly as
  `degrade.resample` does (an independent implementation: gathers, not a matrix)."""
  model = build_model({**TINY, "factor": 2.5, "residual": residual})
  x = jax.random.uniform(jax.random.key(0), (1, 4, 9, 12))
  out = model.apply(model.init(jax.random.key(1), x), x)
  want = resample(x, 2.5, residual, axis=-2, n_out=grid.fine_count(9, 2.5))
  np.testing.assert_allclose(np.asarray(out), np.asarray(want), atol=2e-6)


@pytest.mark.slow
def test_lost_frames_start_as_the_interpolation_across_the_gap():
  """A frame that is zero everywhere (a lost section) is bridged by linear interpolation between the nearest kept
  frames before anything else: the untrained network returns that, resampled; with fill_lost off it stays black."""
  x = jax.random.uniform(jax.random.key(0), (2, 5, 6, 8))
  x = x.at[0, 1:3].set(0.0).at[1, 4].set(0.0)
  bridged = x.at[0, 1].set((2 * x[0, 0] + x[0, 3]) / 3).at[0, 2].set((x[0, 0] + 2 * x[0, 3]) / 3)
  bridged = bridged.at[1, 4].set(x[1, 3])
  n_out = grid.fine_count(6, 4.0)
  for fill_lost, source in ((True, bridged), (False, x)):
    model = build_model({**TINY, "factor": 4.0, "fill_lost": fill_lost})
    out = model.apply(model.init(jax.random.key(1), x), x)
    want = resample(source, 4.0, "linear", axis=-2, n_out=n_out)
    np.testing.assert_allclose(np.asarray(out), np.asarray(want), atol=2e-6)


@pytest.mark.parametrize("r, factor", [(1, 2.5), (3, 2.5), (4, 4.0), (13, 12.5)])
def test_row_resampling_is_linear_interpolation_on_the_section_grid(r, factor):
  n_sec = 6
  rows = np.random.default_rng(0).normal(size=n_sec * r)
  n_out = grid.fine_count(n_sec, factor)
  got = row_resampling(n_sec * r, n_out, r, factor) @ rows
  sub_centres = (np.arange(n_sec * r) + 0.5) / r - 0.5                   # in section units
  fine_centres = (np.arange(n_out) + 0.5) / factor - 0.5
  np.testing.assert_allclose(got, np.interp(fine_centres, sub_centres, rows), atol=1e-5)


def test_partition_and_merge_are_inverse_and_windows_are_contiguous():
  x = jnp.arange(2 * 4 * 6 * 8 * 3, dtype=jnp.float32).reshape(2, 4, 6, 8, 3)
  win = (2, 3, 4)
  parts = video_partition(x, win)
  assert parts.shape == (2 * 2 * 2 * 2, 24, 3)
  np.testing.assert_array_equal(np.asarray(parts[0].reshape(2, 3, 4, 3)), np.asarray(x[0, :2, :3, :4]))
  np.testing.assert_array_equal(np.asarray(video_merge(parts, win, (4, 6, 8))), np.asarray(x))


def test_relative_index_of_one_frame_is_the_2d_one():
  np.testing.assert_array_equal(relative_index((1, 4, 4)), relative_position_index(4))
  idx = relative_index((2, 2, 3))
  assert idx.max() == 3 * 3 * 5 - 1 and np.all(np.diag(idx) == idx[0, 0])


def test_shift_mask_separates_tokens_the_roll_brought_together():
  mask = video_shift_mask((4, 4, 4), (2, 2, 2), (1, 1, 1))
  assert mask.shape == (8, 8, 8) and np.all(mask[0] == 0)                # the first window is one region
  last = mask[-1]          # the last window along every axis mixes rolled-in tokens: 2 regions per axis
  assert (last == 0).sum() == 8 and np.all(np.diag(last) == 0)
  assert video_shift_mask((4, 4, 4), (2, 2, 2), (0, 0, 0)) is None


def _frame_reach(mutual: bool, frames: int) -> float:
  """How much frame 0's output of the attention changes when frame 1 changes."""
  attn = VideoWindowAttention(heads=2, window=(frames, 2, 2), mutual=mutual)
  x = jax.random.normal(jax.random.key(0), (1, 2, 4, 4, 4))
  params = attn.init(jax.random.key(1), x)
  y = x.at[:, 1].add(1.0)
  return float(jnp.abs(attn.apply(params, x)[:, 0] - attn.apply(params, y)[:, 0]).max())


@pytest.mark.slow
def test_frames_interact_only_through_windows_that_span_them():
  assert _frame_reach(mutual=False, frames=1) == 0.0
  assert _frame_reach(mutual=False, frames=2) > 1e-3
  assert _frame_reach(mutual=True, frames=2) > 1e-3


def test_mutual_attention_needs_two_frame_windows():
  attn = VideoWindowAttention(heads=1, window=(1, 2, 2), mutual=True)
  with pytest.raises(ValueError, match="2 frames"):
    attn.init(jax.random.key(0), jnp.zeros((1, 2, 2, 2, 2)))


@pytest.mark.parametrize("field, value, match", [
    ("factor", 0.5, "factor=0.5 must be in"),
    ("depths", [1, 1], "depths=.* must be an odd"),
    ("heads", 3, "heads=3 must divide"),
    ("window", [3, 2, 4], "must span 2 frames"),
    ("upsampler", "bicubic", "upsampler='bicubic' must be one of"),
    ("independent", 5, "independent=5 must be in"),
])
def test_impossible_settings_are_user_errors(field, value, match):
  with pytest.raises(UserError, match=match):
    build_model({**TINY, field: value})


@pytest.mark.slow
def test_same_key_same_output_and_dropout_needs_train():
  model = build_model({**TINY, "factor": 3.0, "drop_path": 0.5})
  x = jax.random.uniform(jax.random.key(0), (4, 2, 6, 8))
  params = model.init(jax.random.key(2), x)
  params = jax.tree.map(lambda p: p + 0.01, params)                      # a non-zero head
  a = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(5)})
  b = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(5)})
  c = model.apply(params, x, train=True, rngs={"dropout": jax.random.key(6)})
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert float(jnp.abs(a - c).max()) > 0
  np.testing.assert_array_equal(np.asarray(model.apply(params, x)), np.asarray(model.apply(params, x)))


@pytest.mark.parametrize("variant", [None, "cpu", "tiny"])
def test_every_variant_builds(variant):
  config = emformer_config.get_config(variant)
  model = build_model(config.model)
  assert model.problems() == [] and config.pairs.kind == "clip" and config.loss == "mae_ssim"


@pytest.mark.slow
def test_default_is_isovem_x8_sized():
  config = emformer_config.get_config()
  model = build_model({**config.model.to_dict(), "factor": 8.0})
  x = jnp.zeros((1, 16, 16, 128))
  params = jax.eval_shape(model.init, jax.random.key(0), x)
  n = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
  assert 1.0e6 < n < 1.6e6                                 # IsoVEM x8: 1.44 M
  assert jax.eval_shape(model.apply, params, x).shape == (1, 16, 128, 128)
