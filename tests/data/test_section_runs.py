"""Runs of sections between excluded ones: indexing against the source, the runs kept, `data.exclude` in the
training inputs, bad section lists."""
import numpy as np
import pytest

from jax_iso.data.sections import SectionRun, clean_runs, parse_sections
from jax_iso.errors import UserError


class _Src:
  def __init__(self, arr):
    self.arr, self.shape, self.dtype, self.path, self.closed = arr, arr.shape, arr.dtype, "vol.tif", 0

  def __getitem__(self, key):
    return self.arr[key]

  def close(self):
    self.closed += 1


def test_run_indexing_matches_the_source():
  arr = np.arange(10 * 6 * 5).reshape(10, 6, 5)
  run = SectionRun(_Src(arr), 3, 8)
  assert run.shape == (5, 6, 5) and run.dtype == arr.dtype and "sections 3-7" in run.path
  np.testing.assert_array_equal(run[0], arr[3])
  np.testing.assert_array_equal(run[-1, 1:3], arr[7, 1:3])
  np.testing.assert_array_equal(run[1:4, :, 2:4], arr[4:7, :, 2:4])
  np.testing.assert_array_equal(run[::2], arr[3:8:2])
  with pytest.raises(IndexError):
    run[5]


def test_clean_runs_skip_excluded_sections_and_short_runs():
  src = _Src(np.zeros((20, 4, 4)))
  runs = clean_runs(src, [3, 4, 10, 12], min_len=3)
  assert [(r.start, r.stop) for r in runs] == [(0, 3), (5, 10), (13, 20)]     # 11 alone is too short
  for r in runs:
    r.close()
  assert src.closed == 1                                                        # the first run owns the source


def test_parse_sections():
  assert parse_sections("5, 2,5", 10, flag="sections") == [2, 5]
  with pytest.raises(UserError, match="sections=3,x: 'x' is not a section index"):
    parse_sections("3,x", 10, flag="sections")
  with pytest.raises(UserError, match="section 10 is out of range: the volume has sections 0 to 9"):
    parse_sections("10", 10, flag="sections")


def test_training_inputs_exclude_sections(tmp_path):
  """`data.exclude`: the training volumes are the runs between the excluded sections, long enough for a triplet
  and its held-out band."""
  from configs import sstem_restore  # pylint: disable=g-import-not-at-top
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.train.inputs import open_inputs  # pylint: disable=g-import-not-at-top
  path = tmp_path / "v.tif"
  arr = np.random.default_rng(0).integers(0, 255, (24, 48, 48), dtype=np.uint8)
  io.write_volume(path, arr, (50.0, 4.0, 4.0))
  config = sstem_restore.get_config("tiny")
  with config.unlocked():
    config.data.path, config.data.exclude = str(path), "5,6,20"
  inputs = open_inputs(config)
  try:
    assert [(v.start, v.stop) for v in inputs.volumes] == [(0, 5), (7, 20)]    # 21-23: 3 < 3 + 1 held out
    np.testing.assert_array_equal(inputs.volumes[1][2], arr[9])
    assert inputs.factor is None
  finally:
    inputs.close()
  with config.unlocked():
    config.data.exclude = ",".join(str(k) for k in range(1, 24, 3))
  with pytest.raises(UserError, match="no 4 consecutive sections are left between the 8 excluded ones"):
    open_inputs(config)
