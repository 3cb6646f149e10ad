"""`data.frame_spacing`: clips of an isotropic volume with frames as far apart as an anisotropic volume's sections
(strided views), so a pretrained EMformer learns to fill a lost section from neighbours as far away as it meets
them."""
import numpy as np
import pytest

from jax_iso import io
from jax_iso.data import CropSampler
from jax_iso.data.views import StridedVolume, strided_views
from jax_iso.errors import UserError
from jax_iso.train.inputs import frame_step, open_inputs


def test_a_strided_view_reads_what_numpy_strides_read():
  vol = np.arange(23 * 5 * 6, dtype=np.uint16).reshape(23, 5, 6)
  view = StridedVolume(vol, 4, 3)
  np.testing.assert_array_equal(view[...], vol[3::4])
  assert view.shape == vol[3::4].shape
  for key in (np.s_[1:4, 2:5, 0:3], np.s_[2], np.s_[-1], np.s_[0:5:2, 1], np.s_[3:3], np.s_[:, :, 4]):
    np.testing.assert_array_equal(view[key], vol[3::4][key])
  with pytest.raises(IndexError):
    view[5]                                                       # pylint: disable=pointless-statement


def test_strided_views_hold_every_section_once_and_scale_the_spacing():
  vol = np.arange(10 * 3 * 3, dtype=np.uint8).reshape(10, 3, 3)
  views = strided_views(vol, 4)
  seen = np.concatenate([v[...] for v in views])
  np.testing.assert_array_equal(np.sort(seen[:, 0, 0]), vol[:, 0, 0])
  assert [v.shape[0] for v in views] == [3, 3, 2, 2]
  assert strided_views(vol, 1) == [vol]

  class Src(np.ndarray):
    spacing = (10.0, 10.0, 10.0)
  assert strided_views(vol.view(Src), 4)[0].spacing == (40.0, 10.0, 10.0)


def test_the_step_puts_frames_frame_spacing_lateral_pixels_apart():
  assert frame_step((10.0, 10.0, 10.0), 4.0) == 4              # isotropic FIB-SEM: every 4th plane
  assert frame_step((40.0, 10.0, 10.0), 4.0) == 1              # an x4 volume's sections already are
  assert frame_step((45.0, 4.6, 4.6), 4.0) == 1                # ssTEM: farther apart still, kept
  assert frame_step((8.0, 4.0, 4.0), 4.0) == 2
  assert frame_step(None, 4.0) == 1


def test_clips_of_a_frame_spaced_isotropic_volume_are_its_every_fourth_plane(tmp_path):
  """configs/pretrain/emformer.py's setting: the isotropic volume's views read 4 planes apart (4 offsets each,
  its weight shared), the ssTEM volume as it is; a clip is 4 frames of one view, each 4 source planes apart."""
  from configs.pretrain import emformer  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  iso = rng.integers(0, 255, (40, 40, 40), dtype=np.uint8)
  io.write_volume(tmp_path / "iso.tif", iso, (10.0, 10.0, 10.0))
  io.write_volume(tmp_path / "sstem.tif", iso[:12], (45.0, 4.6, 4.6))
  config = emformer.get_config("tiny")
  assert config.data.frame_spacing == 4.0
  with config.unlocked():
    config.data.path, config.data.weights = f"{tmp_path / 'iso.tif'},{tmp_path / 'sstem.tif'}", (3.0, 1.0)
  inputs = open_inputs(config)
  try:
    assert len(inputs.volumes) == 3 * 4 + 1
    assert inputs.weights == pytest.approx((0.25,) * 12 + (1.0,))
    assert [v.shape[0] for v in inputs.volumes[:4]] == [10, 10, 10, 10]
    sampler = CropSampler(inputs.volumes, kind="clip", size=(4, 16, 16), seed=0, augment=False,
                          weights=inputs.weights)
    for i in range(40):
      crop = sampler.crop(i)
      if crop.volume != 1:                                     # view 0 (XY planes) at offset 1
        continue
      z, ys, xs = crop.key
      np.testing.assert_array_equal(sampler.read(crop), iso[1 + 4 * z.start:1 + 4 * z.stop:4, ys, xs])
      break
    else:
      pytest.fail("no clip of the offset-1 view among 40 crops")
  finally:
    inputs.close()
  with config.unlocked():
    config.data.frame_spacing = -1.0
  with pytest.raises(UserError, match="data.frame_spacing"):
    open_inputs(config)


def test_restoration_triplets_of_a_frame_spaced_isotropic_volume_are_every_fourth_plane(tmp_path):
  """configs/pretrain/sstem_restore.py's setting: the section triplets the restoration pairs are made from
  (`crop_spec`: 3 sections with context) are read from the same strided views, so the three sections of a triplet
  of the isotropic volume lie 4 planes (40 nm) apart, as ssTEM sections do; the ssTEM volume's as they are."""
  from configs.pretrain import sstem_restore  # pylint: disable=g-import-not-at-top
  from jax_iso.train.inputs import crop_spec  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  iso = rng.integers(0, 255, (64, 64, 64), dtype=np.uint8)
  io.write_volume(tmp_path / "iso.tif", iso, (10.0, 10.0, 10.0))
  io.write_volume(tmp_path / "sstem.tif", iso[:12], (45.0, 4.6, 4.6))
  config = sstem_restore.get_config("tiny")
  assert config.data.frame_spacing == 4.0 and config.data.views == "all"
  with config.unlocked():
    config.data.path, config.data.weights = f"{tmp_path / 'iso.tif'},{tmp_path / 'sstem.tif'}", (3.0, 1.0)
  kind, size = crop_spec(config)
  assert kind == "clip" and size[0] == 3
  inputs = open_inputs(config)
  try:
    assert len(inputs.volumes) == 3 * 4 + 1 and inputs.volumes[-1].shape[0] == 12
    sampler = CropSampler(inputs.volumes, kind=kind, size=size, seed=0, augment=False, weights=inputs.weights)
    seen = set()
    for i in range(200):
      crop = sampler.crop(i)
      seen.add(crop.volume)
      if crop.volume == 2:                                     # view 0 (XY planes) at offset 2
        z, ys, xs = crop.key
        np.testing.assert_array_equal(sampler.read(crop), iso[2 + 4 * z.start:2 + 4 * z.stop:4, ys, xs])
      if crop.volume == 12:                                    # the ssTEM volume: consecutive sections
        z, ys, xs = crop.key
        np.testing.assert_array_equal(sampler.read(crop), iso[:12][z, ys, xs])
    assert {2, 12} <= seen
  finally:
    inputs.close()
