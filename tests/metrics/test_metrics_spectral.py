"""The reference-free spectral resolution: known cut-offs, interpolated sections, isotropy, normalisation."""
from __future__ import annotations

import numpy as np
import pytest

from jax_iso import metrics
from jax_iso.degrade.axial import simulate_axial
from jax_iso.degrade.resample import resample
from jax_iso.errors import UserError
from jax_iso.metrics import spectral

# A shell of the 30-degree Z cone at frequency f holds |fz| in [f cos 30, f], and the shells are 1/N wide: a
# cut-off at fz = c is crossed between f = c and f = (c + 1/N) / cos 30, plus the two frequency bins of the Hann
# window's main lobe, so the resolution lies in [cos 30 / (c + 3/N), 1 / c].
COS30 = np.cos(np.radians(30))


def _lowpassed_along_z(rng, shape, cutoff, noise):
  """An isotropic random signal whose power falls as exp(-(f / 0.15)^2) (like EM: the lateral Nyquist band holds
  only noise), with every |fz| > cutoff (cycles / voxel) removed, plus white noise of std `noise`."""
  fz, fy, fx = np.meshgrid(*(np.fft.fftfreq(n) for n in shape), indexing="ij")
  power = np.exp(-(fz**2 + fy**2 + fx**2) / 0.15**2) * (np.abs(fz) <= cutoff)
  signal = np.fft.ifftn(np.fft.fftn(rng.standard_normal(shape)) * np.sqrt(power)).real
  return (signal + noise * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("cutoff", [1 / 6, 1 / 12])
def test_recovers_a_known_cut_off_along_z(rng, cutoff):
  n = 96
  vol = _lowpassed_along_z(rng, (n, n, n), cutoff, noise=0.05)
  res = metrics.spectral_resolution(vol)
  z = res.resolution("z")
  assert not z.limited and COS30 / (cutoff + 3 / n) <= z.resolution <= 1 / cutoff
  x = res.resolution("x")
  # X: the signal's power exp(-(f / 0.15)^2) meets the crossing, 3 x the noise's 0.05^2 above the floor, at
  # f = 0.15 sqrt(ln(1 / 0.0075)) = 0.33 (3.0 voxels); the X cone's |fz| > cut-off parts make it a little coarser
  assert 2.9 <= x.resolution < 3.5


def test_white_noise_power_is_its_variance_in_every_direction(rng):
  vol = 0.3 * rng.standard_normal((96, 104, 88)).astype(np.float32)
  res = metrics.spectral_resolution(vol)
  for d in spectral.DIRECTIONS:
    used = (res.counts[d] > 0) & (res.freq <= res.nyquist[d])
    mean = np.sum(res.power[d][used] * res.counts[d][used]) / np.sum(res.counts[d][used])
    # ~100,000 voxels per cone, of which the Hann window leaves ~0.375^3 independent: sampling error ~1.4 %
    assert mean == pytest.approx(0.09, rel=0.07)
    assert res.plateau[d] == pytest.approx(0.09, rel=0.15)
  assert metrics.spectral_resolution(vol, (2.0, 1.0, 1.0)).nyquist == {"z": 0.25, "y": 0.5, "x": 0.5}


def test_isotropic_em_reports_z_equal_to_x(em_uint8):
  vol = em_uint8[:160, :160, :160].astype(np.float32) / 255
  res = metrics.spectral_resolution(vol, (10, 10, 10))
  z, x = res.resolution("z"), res.resolution("x")
  assert not z.limited and not x.limited
  assert z.resolution == pytest.approx(x.resolution, rel=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("thickness", [3, 4, 6])
def test_cubic_interpolation_of_sections_is_no_finer_than_the_sections(em_uint8, thickness):
  """Real FIB-SEM cut into sections `thickness` voxels (10 nm each) thick and interpolated back: the spectral Z
  resolution stays at or above the section thickness, where the odd/even self-FSC is fooled (Nyquist-limited)."""
  vol = em_uint8[:160, :160, :160].astype(np.float32) / 255
  sections = simulate_axial(vol, float(thickness), axis=0)
  fine = np.asarray(resample(sections, float(thickness), "cubic", axis=0))
  z = metrics.spectral_resolution(fine, (10, 10, 10)).resolution("z")
  assert z.resolution >= 0.9 * 10 * thickness
  assert metrics.self_fsc(fine, (10, 10, 10)).resolution("z").resolution < 0.6 * z.resolution


def test_z_floor_is_bounded_by_the_lateral_noise(rng):
  """A Z spectrum that falls below the lateral noise (interpolation) is measured against the lateral plateau."""
  vol = _lowpassed_along_z(rng, (64, 48, 48), 1 / 8, noise=0.03)
  res = metrics.spectral_resolution(vol)
  low, high = sorted((res.plateau["y"], res.plateau["x"]))
  assert res.floor["z"] == pytest.approx(max(res.plateau["z"], low))
  assert res.floor["z"] <= spectral.NOISE_SPREAD * high and res.floor["x"] == res.plateau["x"]


def test_bad_input_raises_one_line_user_errors(rng):
  vol = rng.random((16, 16, 16), dtype=np.float32)
  for match, call in [("too small", lambda: metrics.spectral_resolution(vol[:4])),
                      ("cone_deg", lambda: metrics.spectral_resolution(vol, cone_deg=50)),
                      ("taper", lambda: metrics.spectral_resolution(vol, taper=2)),
                      ("direction", lambda: metrics.spectral_resolution(vol).resolution("all"))]:
    with pytest.raises(UserError, match=match) as info:
      call()
    assert "\n" not in str(info.value)


def test_section_images_of_interpolation_are_removed(em_uint8):
  """Cubic interpolation of sections copies the sections' spectrum one section frequency away: with the factor
  given, that fraction is near 1 in the band between half and the whole section frequency (near 0 for the
  isotropic original), and the Z resolution falls to about the sections' Nyquist (2 sections), while the true
  volume is unchanged."""
  vol = em_uint8[:160, :160, :160].astype(np.float32) / 255
  fine = np.asarray(resample(simulate_axial(vol, 4.0, axis=0), 4.0, "cubic", axis=0))
  res = metrics.spectral_resolution(fine, (10, 10, 10), section_factor=4)
  band = (res.freq > 1 / 80) & (res.freq < 0.8 / 40)
  assert np.nanmean(res.section_images[band]) > 0.8
  truth = metrics.spectral_resolution(vol, (10, 10, 10), section_factor=4)
  assert np.nanmean(truth.section_images[band]) < 0.05
  plain = metrics.spectral_resolution(vol, (10, 10, 10))
  assert truth.resolution("z").resolution == pytest.approx(plain.resolution("z").resolution, rel=0.05)
  assert res.resolution("z").resolution >= 50 > 0.8 * plain.resolution("z").resolution


@pytest.mark.parametrize("n,factor,expected", [(160, 4.0, 160), (375, 12.5, 375), (217, 10.8696, 217),
                                               (100, 12.5, 100), (101, 2.5, 100), (64, 3.3, 63)])
def test_whole_sections_trims_to_a_whole_number_of_sections(n, factor, expected):
  assert spectral.whole_sections(n, factor) == expected
  with pytest.raises(UserError, match="section factor"):
    metrics.spectral_resolution(np.zeros((16, 16, 16), np.float32), section_factor=9)
