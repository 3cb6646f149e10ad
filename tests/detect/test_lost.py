"""The lost-section detector (`inpaint=auto`) on real EM, clean and with blank and foreign sections; the
indices a user gives."""
import numpy as np
import pytest

from jax_iso import io
from jax_iso.detect.lost import detect_bad_sections, find_missing, parse_inpaint
from jax_iso.errors import UserError


def _x4(fibsem_iso, size=96):
  vol = io.read_volume(fibsem_iso)[0][:, :size, :size]
  return vol[: vol.shape[0] // 4 * 4].reshape(-1, 4, size, size).mean(axis=1).astype(np.uint8)


def test_detector_flags_nothing_in_clean_real_fibsem(fibsem_iso):
  assert detect_bad_sections(_x4(fibsem_iso)) == []


def test_detector_flags_nothing_in_clean_real_sstem(sstem_aniso):
  assert detect_bad_sections(io.read_volume(sstem_aniso)[0]) == []


def test_detector_finds_blank_and_outlier_sections(fibsem_iso):
  vol = _x4(fibsem_iso).copy()
  vol[7] = 0                                                     # lost, written blank
  vol[20] = 255                                                  # saturated
  vol[30] = vol[3, ::-1, ::-1]                                   # a section from elsewhere
  found = detect_bad_sections(vol)
  assert [(f.index, f.reason) for f in found] == [(7, "blank"), (20, "blank"), (30, "outlier")]


def test_inpaint_spec_parsing():
  assert parse_inpaint("auto", 10) == "auto"
  assert parse_inpaint(" 5, 2,5 ", 10) == [2, 5]
  with pytest.raises(UserError, match="section 10 is out of range: the input has sections 0 to 9"):
    parse_inpaint("3,10", 10)
  with pytest.raises(UserError, match="'x' is not a section index"):
    parse_inpaint("3,x", 10)


def test_find_missing_takes_the_detected_or_the_given_sections(fibsem_iso):
  vol = _x4(fibsem_iso).copy()
  vol[7] = 0
  assert find_missing(vol, "auto", log=False) == [7]
  assert find_missing(vol, "9,3", log=False) == [3, 9]
  with pytest.raises(UserError, match="nothing is left to inpaint from"):
    find_missing(vol, ",".join(str(k) for k in range(vol.shape[0])), log=False)
