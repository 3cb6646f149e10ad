"""The "between" strategy for a model told the factor: a fourth condition channel, log s of the input."""
import math

import numpy as np

from jax_iso import io
from jax_iso.degrade import grid
from jax_iso.infer.between import Conditions, sources


def test_conditions_carry_log_s_after_the_position(tmp_path):
  n, factor = 5, 3.7
  vol = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None] * 10, (n, 8, 8)).copy()
  io.write_volume(tmp_path / "v.tif", vol, (37.0, 10.0, 10.0))
  with io.open_volume(tmp_path / "v.tif") as src:
    intensity = io.intensity_of(src)
    n_out = grid.fine_count(n, factor)
    told = Conditions(src, factor, intensity, factor_channel=True)(0, n_out)
    plain = Conditions(src, factor, intensity)(0, n_out)
  assert told.shape == (n_out, 4, 8, 8) and plain.shape == (n_out, 3, 8, 8)
  np.testing.assert_array_equal(told[:, :3], plain)
  np.testing.assert_allclose(told[:, 3], math.log(factor), atol=1e-6)
  np.testing.assert_allclose(told[:, 2, 0, 0], sources(np.arange(n_out), factor, n)[2])
