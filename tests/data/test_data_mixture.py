"""A mixture of training volumes: given weights, and an isotropic volume's XZ and YZ planes as lateral planes."""
import numpy as np
import pytest

from jax_iso.data import CropSampler
from jax_iso.data.views import TransposedVolume, isotropic_views
from jax_iso.errors import UserError


def test_transposed_views_read_the_planes_they_name():
  vol = np.arange(5 * 6 * 7, dtype=np.uint16).reshape(5, 6, 7)
  xz, yz = isotropic_views(vol)[1:]
  assert xz.shape == (6, 5, 7) and yz.shape == (7, 5, 6)
  np.testing.assert_array_equal(xz[2], vol[:, 2, :])                   # lateral plane y = XZ plane of vol
  np.testing.assert_array_equal(yz[3, 1:4, 2:5], vol[1:4, 2:5, 3])     # lateral plane x = YZ plane of vol
  np.testing.assert_array_equal(xz[1:3, 0:2, 4], vol[0:2, 1:3, 4].T)
  np.testing.assert_array_equal(TransposedVolume(vol, (0, 1, 2))[...], vol)


def test_weights_mix_volumes_in_their_proportions_whatever_their_size():
  big, small = np.zeros((10, 200, 200), np.uint8), np.ones((10, 40, 40), np.uint8)
  plain = CropSampler([big, small], kind="lateral", size=(32, 32), seed=0)
  mixed = CropSampler([big, small], kind="lateral", size=(32, 32), seed=0, weights=(1.0, 3.0))
  n = 2000
  plain_small = np.mean([plain.crop(i).volume for i in range(n)])
  mixed_small = np.mean([mixed.crop(i).volume for i in range(n)])
  assert plain_small < 0.05                         # by positions: the small volume is rarely drawn
  assert mixed_small == pytest.approx(0.75, abs=0.04)
  assert [mixed.crop(i) for i in range(20)] == [mixed.crop(i) for i in range(20)]   # a pure function of i


def test_bad_weights_name_the_setting():
  vol = np.zeros((10, 64, 64), np.uint8)
  for weights in ((1.0,), (1.0, -1.0), (0.0, 0.0), ("a", 1)):
    with pytest.raises(UserError, match="data.weights"):
      CropSampler([vol, vol], kind="lateral", size=(32, 32), weights=weights)


def test_a_mixture_teaches_one_factor_whatever_the_volumes_voxel_sizes(tmp_path):
  """configs/pretrain/emformer.py: volumes of different voxel sizes (FIB-SEM, ssTEM) mixed by data.weights, every
  one taught data.factor; without it, one line naming the setting."""
  from configs.pretrain import emformer  # pylint: disable=g-import-not-at-top
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.train.inputs import open_inputs  # pylint: disable=g-import-not-at-top
  vol = np.random.default_rng(0).integers(0, 255, (12, 40, 40), dtype=np.uint8)
  io.write_volume(tmp_path / "iso.tif", vol, (10.0, 10.0, 10.0))
  io.write_volume(tmp_path / "sstem.tif", vol, (45.0, 4.6, 4.6))
  config = emformer.get_config("tiny")
  with config.unlocked():
    config.data.path, config.data.weights = f"{tmp_path / 'iso.tif'},{tmp_path / 'sstem.tif'}", (3.0, 1.0)
    config.data.frame_spacing = 0.0                                   # tests/data/test_frame_spacing.py
  inputs = open_inputs(config)
  try:
    assert inputs.factor == 4.0 and len(inputs.volumes) == 4          # the isotropic one as its 3 views
    assert inputs.weights == pytest.approx((1.0, 1.0, 1.0, 1.0))
  finally:
    inputs.close()
  with config.unlocked():
    config.data.factor = None
  with pytest.raises(UserError, match="pass data.factor=F"):
    open_inputs(config)
