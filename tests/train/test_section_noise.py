"""section_noise: synthetic sections get back the noise that averaging rows took away."""
import math

import jax
import numpy as np
import pytest

from jax_iso import io
from jax_iso.degrade import axial, config as degrade_config
from jax_iso.degrade.pipeline import Pipeline
from jax_iso.errors import UserError
from jax_iso.metrics.noise_level import noise_sigma
from jax_iso.train import section_noise


class _Volume:   # the part of io.VolumeSource that volume_sigma reads
  def __init__(self, array):
    self.array, self.shape = array, array.shape

  def __getitem__(self, key):
    return self.array[key]


SIGMA = 0.04


@pytest.fixture
def noisy():
  """Flat grey with white noise of SIGMA (on [0, 1]), as uint16 [16, 128, 128]."""
  vol = 0.5 + np.random.default_rng(0).normal(0, SIGMA, (16, 128, 128))
  return np.rint(vol * 65535).astype(np.uint16)


@pytest.mark.slow
def test_match_restores_the_noise_of_real_sections(noisy):
  intensity = io.Intensity(0, 65535, np.uint16)
  pairs = degrade_config.axial_pair(4.0).to_dict()
  pairs["acquisition"]["order"] = ()
  resolved, info = section_noise.resolve("match", pairs, 4.0, [_Volume(noisy)], intensity)
  assert info["mode"] == "match" and info["volume_sigma"] == pytest.approx(SIGMA, rel=0.05)
  assert info["added_sigma"] == pytest.approx(info["volume_sigma"] * math.sqrt(0.75), rel=1e-4)
  assert resolved["acquisition"]["order"] == ["gaussian_noise"] and pairs["acquisition"]["order"] == ()
  patches = jax.numpy.asarray(intensity.to_unit(noisy[:8]))                 # xy planes [8, 128(Y), 128]
  sections, _ = axial.axial_sections(jax.random.key(0), patches, factor=4.0, phase=(0.0, 0.0))
  assert noise_sigma(np.asarray(sections)) == pytest.approx(SIGMA / 2, rel=0.1)    # averaging 4 rows
  degraded, _ = Pipeline.from_config(resolved["acquisition"])(jax.random.key(1), sections)
  assert noise_sigma(np.asarray(degraded)) == pytest.approx(SIGMA, rel=0.1)        # a real section's noise


def test_off_fixed_and_bad_values(noisy):
  intensity = io.Intensity(0, 65535, np.uint16)
  pairs = degrade_config.axial_pair(4.0).to_dict()
  same, info = section_noise.resolve("off", pairs, 4.0, [_Volume(noisy)], intensity)
  assert same is pairs and info == {"mode": "off"}
  fixed, info = section_noise.resolve("0.02", pairs, 4.0, [_Volume(noisy)], intensity)   # text from a flag
  assert info == {"mode": "fixed", "added_sigma": 0.02}
  assert fixed["acquisition"]["ops"]["gaussian_noise"]["sigma"] == [0.02, 0.02]
  for bad in ("loud", 1.5, -0.1, True):
    with pytest.raises(UserError, match="section_noise"):
      section_noise.check(bad)
