"""Training-pair makers: shapes, alignment, what each returns, and building them from config."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax_iso.degrade import config, pairs
from jax_iso.degrade.axial import simulate_axial
from jax_iso.degrade.resample import resample
from jax_iso.samples import FIBSEM_10NM
from jax_iso import io


@pytest.fixture(scope="module")
def em():
  """Real isotropic FIB-SEM (the shipped 160^3 sample) in [0, 1]."""
  return jnp.asarray(io.read_volume(FIBSEM_10NM)[0][:, :128, :128], jnp.float32) / 255.0


def test_axial_pair_without_acquisition_is_aligned(em):
  ramp = jnp.broadcast_to((0.2 + 0.004 * jnp.arange(128.0))[:, None], (128, 64))
  inp, target, aux = jax.jit(lambda k, x: pairs.axial_pair(k, x, factor=4.0))(jax.random.key(0), ramp)
  assert inp.shape == target.shape == ramp.shape
  np.testing.assert_allclose(inp[10:-10], ramp[10:-10], atol=1e-5)    # box sections of a ramp, cubic back
  assert 0.0 <= float(aux["phase"]) <= 4.0


@pytest.mark.slow
def test_axial_pair_on_real_em_degrades_along_axis_minus_2_only(em):
  pair = jax.jit(jax.vmap(pairs.make_pair_fn(config.axial_pair(4.0))))
  inp, target, aux = pair(jax.random.split(jax.random.key(1), 8), em[:8])
  np.testing.assert_array_equal(target, em[:8])
  assert inp.shape == target.shape and -0.1 < float(inp.min()) and float(inp.max()) < 1.1   # cubic overshoot
  # detail along axis -2 (the simulated Z) is lost much more than along axis -1
  d_rows = float(jnp.abs(jnp.diff(inp, axis=-2)).mean() / jnp.abs(jnp.diff(target, axis=-2)).mean())
  d_cols = float(jnp.abs(jnp.diff(inp, axis=-1)).mean() / jnp.abs(jnp.diff(target, axis=-1)).mean())
  assert d_rows < 0.7 * d_cols
  assert aux["acquisition"]["poisson_gaussian_noise"]["dose"].shape == (8,)


@pytest.mark.slow
def test_clip_pair_shapes_and_dropped_frame(em):
  clip = em[:16, :, :96]                                             # [D, H, W]
  make = lambda k: pairs.clip_pair(k, clip, factor=2.5, drop_prob=1.0)  # noqa: E731
  inp, target, aux = jax.jit(make)(jax.random.key(2))
  assert inp.shape == (16, 51, 96) and target.shape == (16, 128, 96)  # 51 sections -> round(127.5) = 128
  dropped = np.asarray(aux["dropped"])
  assert dropped.sum() == 1 and float(jnp.abs(inp[dropped.argmax()]).max()) == 0.0
  interp, target2, _ = pairs.clip_pair(jax.random.key(2), clip, factor=2.5, interpolate=True)
  assert interp.shape == target2.shape == (16, 128, 96)
  never, _, aux = pairs.clip_pair(jax.random.key(3), clip, factor=4.0, drop_prob=0.0)
  assert float(aux["dropped"].sum()) == 0 and never.shape == (16, 32, 96)


@pytest.mark.slow
def test_clip_pair_baseline_bridges_the_lost_frames_and_support_thins_the_sections(em):
  """The held-out baseline: the dropped frame linearly interpolated from its kept neighbours, then resampled;
  `support` (validate's thin sections) reaches the section integration as in `axial.simulate_axial`."""
  clip = em[:6, :64, :48]
  inp, _, aux = pairs.clip_pair(jax.random.key(5), clip, factor=4.0, drop_prob=1.0, drop_run=1)
  t = int(np.asarray(aux["dropped"]).argmax())
  lo, hi = max(t - 1, 0), min(t + 1, 5)
  bridged = np.array(inp)
  bridged[t] = (bridged[lo] + bridged[hi]) / 2 if 0 < t < 5 else bridged[lo if t else hi]
  want = resample(jnp.asarray(bridged), 4.0, "linear", axis=-2, n_out=64)
  np.testing.assert_allclose(np.asarray(aux["baseline"]), np.asarray(want), atol=1e-6)
  thin, _, _ = pairs.clip_pair(jax.random.key(5), clip, factor=4.0, support=0.5)
  np.testing.assert_allclose(np.asarray(thin), np.asarray(simulate_axial(clip, 4.0, axis=-2, support=0.5)),
                             atol=1e-6)
  assert float(jnp.abs(thin - inp).max()) > 0.01


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fold", "precipitates", "missing"])
def test_section_pair_damages_only_the_middle_section(em, kind):
  triplet = em[40:43]
  ctx = 16
  inp, target, aux = jax.jit(lambda k: pairs.section_pair(k, triplet, kinds=(kind,), context=ctx))(
      jax.random.key(4))
  inner = (slice(ctx, 128 - ctx), slice(ctx, 128 - ctx))
  assert inp.shape == (3, 96, 96) and target.shape == (96, 96) and aux["flow"].shape == (2, 96, 96)
  np.testing.assert_array_equal(target, triplet[1][inner])
  np.testing.assert_array_equal(inp[0], triplet[0][inner])
  np.testing.assert_array_equal(inp[2], triplet[2][inner])
  changed = np.abs(np.asarray(inp[1] - target)) > 1e-6
  mask = np.asarray(aux["mask"])
  assert changed.any() and mask.max() > 0
  if kind == "fold":
    assert float(jnp.abs(aux["flow"]).max()) > 1.0
  else:
    assert float(jnp.abs(aux["flow"]).max()) == 0.0
  if kind == "missing":
    assert mask.min() == 1.0


def test_section_pair_kind_frequencies(em):
  triplet = em[40:43, :64, :64]
  pair = jax.jit(jax.vmap(lambda k: pairs.section_pair(k, triplet, kind_probs=(0.5, 0.25, 0.25))[2]["kind"]))
  kinds = np.asarray(pair(jax.random.split(jax.random.key(5), 800)))
  assert abs((kinds == 0).mean() - 0.5) < 0.06 and abs((kinds == 2).mean() - 0.25) < 0.06


def test_noise_pair(em):
  inp, target, _ = pairs.make_pair_fn(config.noise_pair())(jax.random.key(6), em[0])
  np.testing.assert_array_equal(target, em[0])
  assert 0.005 < float(jnp.std(inp - target)) < 0.2


@pytest.mark.slow
def test_lateral2d_pair_is_what_inference_sees_of_a_coarse_acquisition(em):
  """At phase 0 the input is the image's 2 x 2 block means (an acquisition at 2x larger pixels) read on the fine
  grid exactly as `superres` reads a low-resolution input (`UpsampledVolume`); a constant image is unchanged."""
  from jax_iso.data.upsampled import UpsampledVolume  # pylint: disable=g-import-not-at-top
  image = em[5, :64, :48]
  inp, target, aux = pairs.lateral2d_pair(jax.random.key(3), image, scale=2, phase=(0.0, 0.0))
  np.testing.assert_array_equal(target, image)
  blocks = np.asarray(image, np.float64).reshape(32, 2, 24, 2).mean(axis=(1, 3))
  want = UpsampledVolume(blocks[None].astype(np.float32), 2)[0]
  np.testing.assert_allclose(np.asarray(inp), want, atol=2e-6)          # float32 box sums vs float64 means
  assert float(aux["phase_y"]) == float(aux["phase_x"]) == 0.0
  flat = jnp.full((32, 32), 0.4)
  np.testing.assert_allclose(pairs.lateral2d_pair(jax.random.key(4), flat)[0], flat, atol=1e-6)
  # a random phase shifts the coarse pixels but keeps the image: the input stays close to the target
  inp, _, aux = pairs.lateral2d_pair(jax.random.key(5), image)
  assert 0 < float(aux["phase_y"]) < 2 and float(jnp.abs(inp - image).mean()) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["axial_pair", "clip_pair", "section_pair", "noise_pair", "lateral2d_pair"])
def test_every_preset_builds_a_jittable_batched_pair_fn(em, preset):
  cfg = getattr(config, preset)()
  if preset == "section_pair":
    cfg.context = 16                                                   # the preset's 64 needs > 128 px crops
  x = {"axial_pair": em[:2], "clip_pair": jnp.stack([em[:8, :64, :64], em[8:16, :64, :64]]),
       "section_pair": jnp.stack([em[:3], em[3:6]]), "noise_pair": em[:2], "lateral2d_pair": em[:2]}[preset]
  fn = jax.jit(jax.vmap(pairs.make_pair_fn(cfg)))
  inp, target, _ = fn(jax.random.split(jax.random.key(7), 2), x)
  assert inp.shape[0] == target.shape[0] == 2
  assert bool(jnp.isfinite(inp).all())


def test_bad_pair_arguments():
  with pytest.raises(ValueError, match="3 consecutive sections"):
    pairs.section_pair(jax.random.key(0), jnp.ones((4, 32, 32)))
  with pytest.raises(ValueError, match="kinds"):
    pairs.section_pair(jax.random.key(0), jnp.ones((3, 32, 32)), kinds=("flood",))
  with pytest.raises(ValueError, match="fewer than 2 sections"):
    pairs.clip_pair(jax.random.key(0), jnp.ones((4, 6, 8)), factor=4.0)
  with pytest.raises(ValueError, match="pair kind"):
    pairs.make_pair_fn({"kind": "triple"})
  with pytest.raises(ValueError, match="context"):
    pairs.section_pair(jax.random.key(0), jnp.ones((3, 32, 32)), context=16)


@pytest.mark.slow
def test_section_pairs_split_the_batch_between_kinds_and_keep_order(em):
  triplets = jnp.stack([em[i:i + 3, :64, :64] for i in range(0, 30, 3)])     # [10, 3, 64, 64]
  fn = jax.jit(lambda k, x: pairs.section_pairs(k, x, kind_probs=(0.5, 0.3, 0.2), context=8))
  inp, target, aux = fn(jax.random.key(8), triplets)
  np.testing.assert_array_equal(target, triplets[:, 1, 8:56, 8:56])          # outputs follow the inputs
  np.testing.assert_array_equal(inp[:, 0], triplets[:, 0, 8:56, 8:56])
  kinds = np.asarray(aux["kind"])
  assert [int((kinds == k).sum()) for k in range(3)] == [5, 3, 2]
  flow = np.abs(np.asarray(aux["flow"])).reshape(10, -1).max(axis=1)
  assert np.all(flow[kinds != 0] == 0) and np.all(flow[kinds == 0] > 0)
  other = np.asarray(fn(jax.random.key(9), triplets)[2]["kind"])
  assert not np.array_equal(kinds, other)                                    # a new key, a new assignment


@pytest.mark.slow
def test_batch_fn_of_axial_pairs_is_the_vmapped_pair_fn(em):
  cfg = config.axial_pair(4.0)
  key, x = jax.random.key(10), em[:4]
  batch = pairs.make_batch_fn(cfg)(key, x)[0]
  single = jax.vmap(pairs.make_pair_fn(cfg))(jax.random.split(key, 4), x)[0]
  np.testing.assert_allclose(batch, single, atol=1e-6)
