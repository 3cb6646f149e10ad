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
