"""Reference-free directional resolution: where a direction's power spectrum sinks into the volume's noise floor.

A volume's power spectrum is averaged over shells of physical frequency within double cones of `cone_deg`
around the Z, Y and X frequency axes. It is mean-subtracted and apodised by a separable Hann window, |F|^2 /
sum(window^2), so white noise of variance v has power v (the FSC's 25 % Tukey taper leaks a sharp drop of
power, such as a band limit along Z, several shells past the drop; the Hann window two). At its highest
frequencies each direction of a raw EM volume holds only noise: the mean power over the shells in [0.8, 1] x
that direction's Nyquist frequency is its noise plateau. The **resolution** in a direction is 1 / f at the first
shell where the power falls below SNR_FACTOR (4) x the direction's noise floor (signal power 3x the noise's),
interpolated in log power between shells.

A volume reconstructed from sections every s slices holds, between half and the whole section frequency, images
of the sections' spectrum one section frequency away: interpolation copies the spectrum there. Given
`section_factor` s, the fraction of each Z shell's power that is coherent with the power one section frequency
(N / s DFT bins along Z) away is removed: for F = A + B, with B a copy of the partner and A independent of it,
|<F conj(partner)>|^2 / (<|F|^2> <|partner|^2>) = |B|^2 / |F|^2, and P (1 - that) = |A|^2. An isotropic volume
keeps its power (the fraction is ~0); a cubic interpolation loses nearly all of it past half the section
frequency.

The floor of Z is its own plateau, but never below the lateral one (the smaller of the Y and X plateaus).
Noise enters every voxel when it is imaged; nothing after acquisition can make Z noise weaker than the lateral
noise of the same voxels, except smoothing along Z. So an interpolated or blurred volume, whose Z spectrum
falls far below its lateral noise past the sections' frequency, is measured against the lateral noise and
reports a Z resolution no finer than its sections, while the odd/even self-FSC (`fourier_shells.self_fsc`),
which sees signal and noise scaled alike, is fooled by it. A reconstruction that restores Z detail raises the
Z power above that floor at finer scales and is credited for it; as for any reference-free measure, detail
that a method invents counts as well, so rank methods on real sections with `jax-iso validate`. SNR_FACTOR 4
rather than 2 (signal = noise) is a measured choice: on FlyEM with simulated sections it ranks cubic, U-Net
and A2I-3DEM as the reference-based FSC does, where 2 ranks A2I below cubic (docs/metrics.md, "Trust on real data").

Nor is the Z floor above NOISE_SPREAD x the noisier lateral plateau: raw sections sample Z so coarsely that
their Z band still holds signal. Within those bounds each direction keeps its own plateau, because EM noise is
not the same in every direction (the isotropic FlyEM FIB-SEM's Z, Y and X plateaus are 9.0, 7.4 and 2.7 x 1e-4:
its scan smooths X, signal and noise alike).
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso.errors import UserError
from jax_iso.metrics import checks
from jax_iso.metrics import fourier_shells as shells_lib
from jax_iso.metrics import resolution as resolution_lib
from jax_iso.metrics.resolution import ResolutionValue

DIRECTIONS = ("z", "y", "x")
PLATEAU_BAND = 0.8    # a direction's noise plateau: its shells in [0.8, 1] x its Nyquist frequency
NOISE_SPREAD = 2.0    # a Z plateau above 2x the noisier lateral one is signal (raw sections), not noise
SNR_FACTOR = 4.0      # the crossing: power = 4 x floor (signal 3x the noise); see docs/metrics.md for the choice
MIN_SIZE = 8          # voxels per axis: fewer leave no shells between the lowest and the plateau
_TINY = 1e-30         # power floor before taking logs (an all-zero shell)


@dataclasses.dataclass(frozen=True)
class SpectralResult:
  """Mean power per shell in cones around Z, Y and X, with each direction's noise plateau and floor."""
  freq: np.ndarray                  # [S] shell centres, 1/nm (1/voxel without spacing)
  power: dict[str, np.ndarray]      # [S] mean power per voxel in the cone (Z: section images removed); NaN: empty
  counts: dict[str, np.ndarray]     # [S] voxels per shell and cone (full complex spectrum)
  plateau: dict[str, float]         # mean power over [PLATEAU_BAND, 1] x Nyquist of each direction
  floor: dict[str, float]           # the noise floor each direction is measured against
  nyquist: dict[str, float]
  spacing: tuple[float, float, float]
  cone_deg: float
  section_images: np.ndarray | None = None  # [S] fraction of the Z power that is an image of the section grid
  section_factor: float | None = None

  def resolution(self, direction: str, snr_factor: float = SNR_FACTOR) -> ResolutionValue:
    """Where `direction`'s power first falls below `snr_factor` x its floor; `limited` if it never does."""
    if direction not in DIRECTIONS:
      raise UserError(f"unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
    if not snr_factor > 1:
      raise UserError(f"snr_factor={snr_factor} must be > 1 (the power of signal plus noise over the noise's)")
    log_power = np.log(np.maximum(self.power[direction], _TINY))
    threshold = math.log(max(snr_factor * self.floor[direction], _TINY))
    return resolution_lib.crossing(self.freq, log_power, threshold, self.nyquist[direction])


@functools.partial(jax.jit, static_argnames=("spacing", "n_shells", "width", "cos_cone", "taper", "shift"))
def _cone_power(vol_zyx: jax.Array, *, spacing: tuple[float, float, float], n_shells: int, width: float,
                cos_cone: float, taper: float, shift: int) -> tuple[jax.Array, jax.Array]:
  """Per (cone, shell) sums of [|F|^2, count] -> [4 * n_shells + 1, 2]; row shell + n_shells * cone with cone
  0 = none, 1 = Z, 2 = Y, 3 = X (cones of half-angle < 45 deg are disjoint); the last row: beyond the shells.

  With `shift` m > 0 also, per Z-cone shell, [Re, Im] of sum F(k) conj F(k -+ m along Z) (- for fz > 0, + for
  fz < 0, conjugated so a section grid's images add in phase), sum |F(k)|^2 and sum |F(k -+ m)|^2 over the
  stored half-spectrum -> [n_shells + 1, 4].
  """
  f = shells_lib.windowed_rfft(vol_zyx, taper)
  fz, fy, fx = shells_lib.frequency_grid(vol_zyx.shape, spacing)
  r2 = fz * fz + fy * fy + fx * fx
  shell = jnp.floor(jnp.sqrt(r2) / width + 0.5).astype(jnp.int32)
  in_z = fz * fz >= cos_cone**2 * r2
  cone = (in_z.astype(jnp.int32) + 2 * (fy * fy >= cos_cone**2 * r2).astype(jnp.int32)
          + 3 * (fx * fx >= cos_cone**2 * r2).astype(jnp.int32))
  cone = jnp.where(r2 > 0, cone, 0)  # DC lies in every cone; it is in none
  label = jnp.where(shell < n_shells, shell + n_shells * cone, 4 * n_shells)
  weight = shells_lib.rfft_weights(vol_zyx.shape[2])
  values = jnp.stack([jnp.abs(f)**2, jnp.ones(f.shape, jnp.float32)], axis=-1) * weight[:, None]
  power = jax.ops.segment_sum(values.reshape(-1, 2), label.reshape(-1), num_segments=4 * n_shells + 1)
  if not shift:
    return power, jnp.zeros((n_shells + 1, 4), jnp.float32)
  partner = jnp.where(fz > 0, jnp.roll(f, shift, axis=0), jnp.roll(f, -shift, axis=0))  # F(k - m) / F(k + m)
  cross = f * jnp.conj(partner)
  cross = jnp.where(fz > 0, cross, jnp.conj(cross))
  z_label = jnp.where(in_z & (r2 > 0) & (shell < n_shells), shell, n_shells)
  z_values = jnp.stack([cross.real, cross.imag, jnp.abs(f)**2, jnp.abs(partner)**2], axis=-1)
  return power, jax.ops.segment_sum(z_values.reshape(-1, 4), z_label.reshape(-1), num_segments=n_shells + 1)


def _plateau(freq: np.ndarray, power: np.ndarray, nyquist: float) -> float:
  """Mean power over the shells in [PLATEAU_BAND, 1] x nyquist (the last non-empty shell if none is there)."""
  usable = np.isfinite(power) & (freq <= nyquist * (1 + 1e-9))
  band = usable & (freq >= PLATEAU_BAND * nyquist)
  if band.any():
    return float(power[band].mean())
  return float(power[np.flatnonzero(usable)[-1]])


def whole_sections(n_z: int, section_factor: float) -> int:
  """The longest Z length <= n_z, at most 2 sections shorter, that holds a whole number of sections to within a
  tenth (so the section frequency falls within a tenth of a DFT bin), else the most nearly whole one."""
  def offset(n: int) -> float:
    return abs(n / section_factor - round(n / section_factor))

  lengths = range(n_z, max(MIN_SIZE, n_z - int(math.ceil(2 * section_factor))) - 1, -1)
  return next((n for n in lengths if offset(n) <= 0.1), min(lengths, key=offset))


def spectral_resolution(vol: Any, spacing: Sequence[float] = (1.0, 1.0, 1.0), *, cone_deg: float = 30.0,
                        taper: float = 1.0, section_factor: float | None = None) -> SpectralResult:
  """Directional power spectra and noise floors of a (Z, Y, X) volume with voxel `spacing` (z, y, x) nm.

  `section_factor` s: the volume was reconstructed from sections every s slices; the part of the Z power that is
  an image of the sections' spectrum one section frequency away is removed (`SpectralResult.section_images`),
  and Z is first trimmed (by < 2 s slices) to a near-whole number of sections. `cone_deg` must be below 45 (the
  three cones must not overlap); `taper` is the Tukey window's (1 = Hann). Call `.resolution('z')` / `('x')`.
  """
  shape = checks.shape_of(vol, "volume")
  if min(shape) < MIN_SIZE:
    raise UserError(f"volume shape {shape} is too small for a spectral resolution; every axis needs at least "
                    f"{MIN_SIZE} voxels.")
  if not 0 < cone_deg < 45:
    raise UserError(f"cone_deg={cone_deg} must be in (0, 45) degrees so the Z, Y and X cones stay apart; 30 is "
                    "usual.")
  if not 0 <= taper <= 1:
    raise UserError(f"taper={taper} must be a fraction in [0, 1]; 0.25 is usual.")
  shift = 0
  if section_factor is not None:
    if not (math.isfinite(section_factor) and 1 < section_factor <= shape[0] / 2):
      raise UserError(f"section factor {section_factor} must be > 1 and leave at least 2 sections in the "
                      f"{shape[0]} Z slices; it is the anisotropy the volume was reconstructed from")
    shape = (whole_sections(shape[0], section_factor),) + shape[1:]
    shift = int(round(shape[0] / section_factor))
  spacing = checks.spacing_of(spacing)
  width = max(1.0 / (n * s) for n, s in zip(shape, spacing))
  nyquist = {d: 1.0 / (2.0 * s) for d, s in zip(DIRECTIONS, spacing)}
  n_shells = int(math.floor(max(nyquist.values()) / width + 0.5)) + 1
  arr = jnp.asarray(vol[:shape[0]], jnp.float32)
  sums, z_sums = (np.asarray(a, np.float64) for a in _cone_power(
      arr, spacing=spacing, n_shells=n_shells, width=width, cos_cone=math.cos(math.radians(cone_deg)),
      taper=float(taper), shift=shift))
  # sum of the separable window's squares = product of each axis's (no full-size host copy of the window)
  window_energy = math.prod(float(np.sum(np.square(shells_lib.tukey_window(n, taper), dtype=np.float64)))
                            for n in shape)
  by_cone = sums[:-1].reshape(4, n_shells, 2)
  freq = np.arange(n_shells) * width
  power, counts = {}, {}
  for i, d in enumerate(DIRECTIONS, start=1):
    total, count = by_cone[i].T
    with np.errstate(divide="ignore", invalid="ignore"):
      power[d] = np.where(count > 0, total / count / window_energy, np.nan)
    counts[d] = np.rint(count).astype(np.int64)
  images = None
  if shift:
    re, im, own, partner = z_sums[:-1].T
    with np.errstate(divide="ignore", invalid="ignore"):
      images = np.where(own * partner > 0, (re * re + im * im) / (own * partner), np.nan)
    power["z"] = power["z"] * (1.0 - np.nan_to_num(images))
  plateau = {d: _plateau(freq, power[d], nyquist[d]) for d in DIRECTIONS}
  low, high = sorted((plateau["y"], plateau["x"]))
  floor = {"z": min(max(plateau["z"], low), NOISE_SPREAD * high), "y": plateau["y"], "x": plateau["x"]}
  return SpectralResult(freq=freq, power=power, counts=counts, plateau=plateau, floor=floor, nyquist=nyquist,
                        spacing=spacing, cone_deg=float(cone_deg), section_images=images,
                        section_factor=None if section_factor is None else float(section_factor))
