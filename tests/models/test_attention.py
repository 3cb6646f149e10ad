"""Window attention against a naive full-image attention with an explicit who-sees-whom rule."""
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.models import attention


def test_partition_and_merge_round_trip_and_window_contents():
  x = np.arange(2 * 8 * 12 * 3, dtype=np.float32).reshape(2, 8, 12, 3)
  windows = np.asarray(attention.window_partition(jnp.asarray(x), 4))
  assert windows.shape == (2 * 2 * 3, 16, 3)
  # window 4 is image 0, window row 1, window column 1; token 5 is its row 1, column 1
  np.testing.assert_array_equal(windows[4, 5], x[0, 4 + 1, 4 + 1])
  np.testing.assert_array_equal(np.asarray(attention.window_merge(jnp.asarray(windows), 4, 8, 12)), x)


def test_relative_position_index_names_each_offset_once():
  m = 3
  index = attention.relative_position_index(m)
  for (i, (yi, xi)), (j, (yj, xj)) in itertools.product(enumerate(itertools.product(range(m), repeat=2)),
                                                        repeat=2):
    assert index[i, j] == (yi - yj + m - 1) * (2 * m - 1) + (xi - xj + m - 1)
  assert index.min() == 0 and index.max() == (2 * m - 1) ** 2 - 1


def _groups(size: int, window: int, shift: int) -> np.ndarray:
  """Shifted-window group of each position in original coordinates: windows start at shift + k * window and
  the first `shift` positions form their own group (what the roll put into the last window, masked apart)."""
  p = np.arange(size)
  return np.where(p < shift, -1, (p - shift) // window)


@pytest.mark.parametrize("shift", [0, 2])
def test_shift_mask_allows_exactly_the_pairs_of_one_shifted_window(shift):
  h, w, m = 8, 12, 4
  mask = attention.shift_mask(h, w, m, shift)
  if shift == 0:
    assert mask is None
    return
  ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  rolled = lambda a: np.roll(a, (-shift, -shift), axis=(0, 1))   # noqa: E731 - position of each rolled token
  pos_y = np.asarray(attention.window_partition(jnp.asarray(rolled(ys))[None, :, :, None], m))[..., 0]
  pos_x = np.asarray(attention.window_partition(jnp.asarray(rolled(xs))[None, :, :, None], m))[..., 0]
  gy, gx = _groups(h, m, shift)[pos_y], _groups(w, m, shift)[pos_x]
  allowed = (gy[:, :, None] == gy[:, None, :]) & (gx[:, :, None] == gx[:, None, :])
  np.testing.assert_array_equal(mask == 0, allowed)


def _naive(params, x, heads, window, shift):
  """Attention over all tokens of the image, each allowed pair (same shifted window) with its offset's bias."""
  p = params["params"]
  b, h, w, c = x.shape
  d = c // heads
  tokens = x.reshape(b, h * w, c)
  qkv = tokens @ p["qkv"]["kernel"] + p["qkv"]["bias"]
  q, k, v = (qkv[..., i * c:(i + 1) * c].reshape(b, h * w, heads, d) for i in range(3))
  logits = np.einsum("bnhd,bmhd->bhnm", q, k) / np.sqrt(d)
  ys, xs = np.divmod(np.arange(h * w), w)
  gy, gx = _groups(h, window, shift)[ys], _groups(w, window, shift)[xs]
  allowed = (gy[:, None] == gy[None, :]) & (gx[:, None] == gx[None, :])
  dy = ys[:, None] - ys[None, :] + window - 1
  dx = xs[:, None] - xs[None, :] + window - 1
  table = np.asarray(p["relative_position_bias"])
  bias = np.where(allowed[..., None], table[np.clip(dy, 0, 2 * window - 2) * (2 * window - 1)
                                            + np.clip(dx, 0, 2 * window - 2)], 0.0)   # [n, m, heads]
  logits = np.where(allowed, logits + bias.transpose(2, 0, 1)[None], -np.inf)
  weights = np.exp(logits - logits.max(-1, keepdims=True))
  weights /= weights.sum(-1, keepdims=True)
  out = np.einsum("bhnm,bmhd->bnhd", weights, v).reshape(b, h * w, c)
  return (out @ p["proj"]["kernel"] + p["proj"]["bias"]).reshape(b, h, w, c)


@pytest.mark.slow
@pytest.mark.parametrize("shift", [0, 2])
def test_window_attention_equals_naive_masked_attention(shift):
  module = attention.WindowAttention(heads=2, window=4, shift=shift)
  x = jax.random.normal(jax.random.key(0), (2, 8, 12, 6))
  params = module.init(jax.random.key(1), x)
  params = jax.tree.map(np.asarray, params)
  params["params"]["relative_position_bias"] = np.asarray(
      jax.random.normal(jax.random.key(2), params["params"]["relative_position_bias"].shape))   # not ~0
  got = np.asarray(module.apply(params, x))
  np.testing.assert_allclose(got, _naive(params, np.asarray(x), 2, 4, shift), rtol=2e-5, atol=2e-5)


@pytest.mark.slow
def test_tokens_see_only_their_window():
  module = attention.WindowAttention(heads=1, window=4)
  x = jax.random.normal(jax.random.key(0), (1, 8, 8, 4))
  params = module.init(jax.random.key(1), x)
  changed = x.at[0, 7, 7].add(10.0)                 # bottom-right window only
  diff = np.abs(np.asarray(module.apply(params, changed) - module.apply(params, x))).sum(-1)[0]
  assert diff[4:, 4:].min() > 0
  assert diff[:4].max() == 0 and diff[:, :4].max() == 0


def test_sizes_that_do_not_fit_the_window_are_refused():
  module = attention.WindowAttention(heads=1, window=4)
  with pytest.raises(ValueError, match="divisible by 4"):
    module.init(jax.random.key(0), jnp.zeros((1, 6, 8, 4)))
