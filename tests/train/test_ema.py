"""The moving average's warm-up: a short run's average follows the training instead of the initial parameters."""
import numpy as np

from jax_iso.train.step import ema_decay


def test_decay_warms_up_to_the_configured_value():
  steps = np.arange(0, 20000, 7)
  got = np.asarray([float(ema_decay(0.999, s)) for s in steps])
  np.testing.assert_allclose(got, np.minimum(0.999, (1.0 + steps) / (10.0 + steps)), rtol=1e-6)
  assert float(ema_decay(0.999, 0)) == np.float32(0.1) and float(ema_decay(0.999, 10**6)) == np.float32(0.999)
  assert np.all(np.diff(got) >= 0)
  # the initial parameters' share of the average after n steps: prod of the decays; 0.999^2000 = 0.135 without
  share = np.prod([float(ema_decay(0.999, s)) for s in range(2000)])
  assert share < 1e-3
