"""Bad input: one-line UserErrors that name the problem and the fix; programming errors stay ValueErrors."""
import numpy as np
import pytest

from jax_iso import data
from jax_iso.errors import UserError

VOL = np.zeros((10, 40, 48), np.uint8)


def _build(volumes=(VOL,), **kw):
  kw = {"kind": "lateral", "size": (16, 16), "batch_size": 4, **kw}
  return data.crop_dataset(list(volumes), **kw)


@pytest.mark.parametrize("kw, words", [
    ({"size": (64, 64)}, ["along Y", "Y=40", "data.crop=40"]),      # square crops: one edge
    ({"size": (64, 16)}, ["along Y", "Y=40", "data.crop='(40, 16)'"]),
    ({"size": (16, 50), "augment": False}, ["along X", "X=48", "data.crop='(16, 48)'"]),
    ({"size": (8, 45)}, ["turned by 90 degrees", "data.crop=40", "augmentation off"]),
    ({"kind": "clip", "size": (4, 64, 64)}, ["along Y", "data.crop=40"]),
    ({"kind": "clip", "size": (12, 8, 8)}, ["span 12 Z sections", "only 10", "data.frames=10"]),
    ({"kind": "clip", "size": (9, 8, 8), "holdout": 0.2}, ["keeps only 8", "data.frames=8", "holdout"]),
    ({"kind": "axial", "size": (16, 16)}, ["span 16 Z sections", "data.crop=10"]),
    ({"kind": "axial", "size": (8, 64)}, ["64 pixels wide", "data.crop='(8, 48)'"]),
    ({"kind": "volumetric"}, ["'volumetric' is unknown", "lateral, axial, clip"]),
    ({"kind": "clip", "size": (16, 16)}, ["(d, h, w)", "data.crop"]),
    ({"size": (0, 16)}, ["positive integers"]),
    ({"batch_size": 0}, ["batch size 0", "data.batch_size=16"]),
    ({"batch_size": 2.5}, ["batch size 2.5"]),
    ({"holdout": 1.0}, ["holdout 1.0", "[0, 1)", "data.holdout=0.1"]),
    ({"seed": -1}, ["seed -1", "seed=0"]),
])
def test_bad_config_raises_one_line_user_error(kw, words):
  with pytest.raises(UserError) as err:
    _build(**kw)
  message = str(err.value)
  assert "\n" not in message
  for word in words:
    assert word in message


@pytest.mark.parametrize("volumes, words", [
    ([], ["no volumes"]),
    ([np.zeros((40, 48), np.uint8)], ["not 3D", "(40, 48)"]),
    ([np.zeros((0, 40, 48), np.uint8)], ["empty"]),
    ([VOL, VOL.astype(np.uint16)], ["different dtypes", "uint16, uint8"]),
    ([np.zeros((1, 40, 48), np.uint8)], ["reserves all 1 Z sections", "data.holdout=0"]),
])
def test_bad_volumes_raise_one_line_user_error(volumes, words):
  with pytest.raises(UserError) as err:
    _build(volumes)
  assert "\n" not in str(err.value)
  for word in words:
    assert word in str(err.value)


def test_the_failing_volume_is_named():
  with pytest.raises(UserError, match="volume 1 has Y=20"):
    _build([VOL, np.zeros((10, 20, 48), np.uint8)], size=(32, 32))


def test_eval_crop_count_must_be_positive():
  with pytest.raises(UserError, match="count 0"):
    data.eval_crops([VOL], count=0)


@pytest.mark.parametrize("kw", [{"split": "test"}, {"shard": (2, 2)}, {"shard": (0, 0)}, {"shard": 1}])
def test_programming_errors_are_plain_value_errors(kw):
  with pytest.raises(ValueError) as err:
    _build(**kw)
  assert not isinstance(err.value, UserError)


def test_zero_holdout_allows_a_single_section():
  batch = next(iter(_build([np.ones((1, 40, 48), np.uint8)], holdout=0.0)))
  assert batch.shape == (4, 16, 16) and (batch == 1).all()
