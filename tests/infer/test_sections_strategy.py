"""The 'sections' strategy's choice of neighbours for a damaged section, and its option checks."""
import pytest

from jax_iso.errors import UserError
from jax_iso.infer.sections import check, neighbours


def test_neighbours_skip_damaged_sections_and_mirror_at_the_ends():
  assert neighbours(5, {5}, 10) == (4, 6)
  assert neighbours(5, {4, 5, 6, 7}, 10) == (3, 8)          # a run of damage is bridged
  assert neighbours(0, {0, 1}, 10) == (2, 2)                # an end: the one side twice
  assert neighbours(9, {9}, 10) == (8, 8)
  with pytest.raises(UserError, match="all 3 sections are damaged"):
    neighbours(1, {0, 1, 2}, 3)


def test_check_options():
  check({"tile": 64, "overlap": 8, "margin": 8, "batch_size": 2})
  with pytest.raises(UserError, match="must be >= 0 with 2 \\* overlap < tile"):
    check({"tile": 16, "overlap": 8, "margin": 8, "batch_size": 2})
  with pytest.raises(UserError, match="infer.batch_size=0 must be >= 1"):
    check({"tile": 64, "overlap": 8, "margin": 8, "batch_size": 0})
