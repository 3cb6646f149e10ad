"""Fourier shell correlation (FSC) between two volumes, overall and in double cones around Z and X.

Each volume has its mean subtracted and is multiplied by a separable Tukey window (so the volume edges do not
leak into the spectrum), then transformed with a real FFT. Shells are `width = max_a 1 / (N_a * spacing_a)`
wide, centred at `i * width` (shell i holds |f| in [(i - 1/2) width, (i + 1/2) width)), up to the largest axis
Nyquist frequency. rFFT entries with 0 < kx < Nyquist count twice, so every sum equals that over the full
complex spectrum. Frequencies are physical (1/nm), so anisotropic spacing is handled.

`self_fsc` needs no reference: it correlates the odd and even Y rows of one volume.
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
from jax_iso.metrics import resolution as resolution_lib
from jax_iso.metrics.resolution import ResolutionValue

DIRECTIONS = ("all", "z", "x")


@dataclasses.dataclass(frozen=True)
class FSCResult:
  """FSC curves on common shells; per-direction dicts are keyed 'all', 'z' (cone around Z), 'x' (around X)."""
  freq: np.ndarray  # [S] shell centres, 1/nm (1/voxel without spacing)
  curves: dict[str, np.ndarray]  # [S] FSC; NaN where a shell is empty or has no energy
  counts: dict[str, np.ndarray]  # [S] voxels per shell in the full complex spectrum
  halfbit: dict[str, np.ndarray]  # [S] half-bit threshold for those counts
  nyquist: dict[str, float]  # last frequency a direction's resolution may use (z: 1/(2 z_spacing), ...)
  spacing: tuple[float, float, float]  # (z, y, x) of the volumes that were correlated
  cone_deg: float

  def resolution(self, direction: str = "all", criterion: str = "1/7") -> ResolutionValue:
    """Resolution where `direction`'s curve first falls below `criterion` ('1/7' or 'halfbit')."""
    if direction not in DIRECTIONS:
      raise UserError(f"unknown FSC direction {direction!r}; use one of {', '.join(DIRECTIONS)}.")
    resolution_lib.check_criterion(criterion)
    threshold = resolution_lib.ONE_SEVENTH if criterion == "1/7" else self.halfbit[direction]
    return resolution_lib.crossing(self.freq, self.curves[direction], threshold, self.nyquist[direction])


def tukey_window(n: int, taper: float) -> np.ndarray:
  """Tukey (cosine-taper) window [n]: cosine ramps over a `taper` fraction of the length, flat in between."""
  if n == 1 or taper <= 0:
    return np.ones(n, np.float32)
  u = np.arange(n, dtype=np.float64) / (n - 1)
  edge = np.minimum(u, 1.0 - u)  # distance to the nearer end, in [0, 1/2]
  w = np.where(edge < taper / 2, 0.5 * (1.0 - np.cos(2.0 * np.pi * edge / taper)), 1.0)
  return w.astype(np.float32)


def window_3d(shape: Sequence[int], taper: float) -> jax.Array:
  """The separable Tukey window of a (Z, Y, X) volume."""
  return functools.reduce(jnp.multiply, (jnp.asarray(tukey_window(n, taper)).reshape(
      [n if i == axis else 1 for i in range(3)]) for axis, n in enumerate(shape)))


def windowed_rfft(vol_zyx: jax.Array, taper: float) -> jax.Array:
  """rFFT [Z, Y, X // 2 + 1] of the mean-subtracted volume times its Tukey window."""
  return jnp.fft.rfftn((vol_zyx - vol_zyx.mean()) * window_3d(vol_zyx.shape, taper))


def frequency_grid(shape: Sequence[int], spacing: Sequence[float]) -> tuple[jax.Array, jax.Array, jax.Array]:
  """Physical frequencies (fz [Z, 1, 1], fy [1, Y, 1], fx [1, 1, X // 2 + 1]) of an rFFT of `shape`."""
  fz = jnp.asarray(np.fft.fftfreq(shape[0], spacing[0]), jnp.float32)[:, None, None]
  fy = jnp.asarray(np.fft.fftfreq(shape[1], spacing[1]), jnp.float32)[None, :, None]
  fx = jnp.asarray(np.arange(shape[2] // 2 + 1) / (shape[2] * spacing[2]), jnp.float32)[None, None, :]
  return fz, fy, fx


def rfft_weights(n_x: int) -> jax.Array:
  """[X // 2 + 1] multiplicity of each rFFT column in the full spectrum (2 for 0 < kx < Nyquist)."""
  kx = np.arange(n_x // 2 + 1)
  return jnp.asarray(np.where((kx > 0) & (2 * kx < n_x), 2.0, 1.0), jnp.float32)


def _check_options(cone_deg: float, taper: float) -> None:
  if not 0 < cone_deg <= 90:
    raise UserError(f"cone_deg={cone_deg} must be in (0, 90] degrees; 30 is usual.")
  if not 0 <= taper <= 1:
    raise UserError(f"taper={taper} must be a fraction in [0, 1]; 0.25 is usual.")


@functools.partial(jax.jit, static_argnames=("spacing", "n_shells", "width", "cos_cone", "taper", "y_shift"))
def _shell_sums(a_zyx: jax.Array, b_zyx: jax.Array, *, spacing: tuple[float, float, float], n_shells: int,
                width: float, cos_cone: float, taper: float, y_shift: float) -> jax.Array:
  """Per (cone code, shell) sums of [Re(Fa conj Fb), |Fa|^2, |Fb|^2, count] -> [4 * n_shells + 1, 4].

  Row `shell + n_shells * code`, code = 1 (in the Z cone) + 2 (in the X cone); the last row collects the
  corners beyond the last shell. `y_shift` (nm): b is sampled that far after a along Y; it is undone by a
  phase ramp on Fb.
  """
  shape = a_zyx.shape
  fa, fb = windowed_rfft(a_zyx, taper), windowed_rfft(b_zyx, taper)  # [Z, Y, X // 2 + 1]
  fz, fy, fx = frequency_grid(shape, spacing)
  if y_shift:
    fb = fb * jnp.exp(-2j * np.pi * y_shift * fy)
  r2 = fz * fz + fy * fy + fx * fx
  shell = jnp.floor(jnp.sqrt(r2) / width + 0.5).astype(jnp.int32)
  code = ((fz * fz >= cos_cone**2 * r2).astype(jnp.int32)
          + 2 * (fx * fx >= cos_cone**2 * r2).astype(jnp.int32))
  label = jnp.where(shell < n_shells, shell + n_shells * code, 4 * n_shells)
  weight = rfft_weights(shape[2])  # [X // 2 + 1]
  values = jnp.stack([(fa * jnp.conj(fb)).real, jnp.abs(fa)**2, jnp.abs(fb)**2,
                      jnp.ones(fa.shape, jnp.float32)], axis=-1) * weight[:, None]
  return jax.ops.segment_sum(values.reshape(-1, 4), label.reshape(-1), num_segments=4 * n_shells + 1)


def _fsc(a: Any, b: Any, spacing: Sequence[float], *, cone_deg: float = 30.0, taper: float = 0.25,
         y_shift: float = 0.0) -> FSCResult:
  shape = checks.pair_shape(a, b)
  spacing = checks.spacing_of(spacing)
  _check_options(cone_deg, taper)
  steps = [1.0 / (n * s) for n, s in zip(shape, spacing)]
  width = max(steps)
  nyquists = [1.0 / (2.0 * s) for s in spacing]
  n_shells = int(math.floor(max(nyquists) / width + 0.5)) + 1
  sums = _shell_sums(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32), spacing=spacing,
                     n_shells=n_shells, width=width, cos_cone=math.cos(math.radians(cone_deg)),
                     taper=float(taper), y_shift=float(y_shift))
  by_code = np.asarray(sums, np.float64)[:-1].reshape(4, n_shells, 4)  # [code, shell, channel]
  per_dir = {"all": by_code.sum(axis=0), "z": by_code[1] + by_code[3], "x": by_code[2] + by_code[3]}
  curves, counts, halfbit = {}, {}, {}
  for name, s in per_dir.items():
    cross, pa, pb, count = s.T
    energy = pa * pb
    with np.errstate(divide="ignore", invalid="ignore"):
      curves[name] = np.where((count > 0) & (energy > 0), cross / np.sqrt(energy), np.nan)
    counts[name] = np.rint(count).astype(np.int64)
    halfbit[name] = resolution_lib.halfbit_threshold(counts[name])
  nyquist = {"all": min(nyquists), "z": nyquists[0], "x": nyquists[2]}
  return FSCResult(freq=np.arange(n_shells) * width, curves=curves, counts=counts, halfbit=halfbit,
                   nyquist=nyquist, spacing=spacing, cone_deg=float(cone_deg))


def fsc(a: Any, b: Any, spacing: Sequence[float] = (1.0, 1.0, 1.0), *, cone_deg: float = 30.0,
        taper: float = 0.25) -> FSCResult:
  """FSC between two same-shape (Z, Y, X) volumes with voxel `spacing` (z, y, x) in nm.

  Curves: 'all' directions, 'z' = double cone of half-angle `cone_deg` around the Z frequency axis, 'x' =
  around X. Resolutions use shells up to each direction's Nyquist ('all': the coarsest axis's).
  """
  return _fsc(a, b, spacing, cone_deg=cone_deg, taper=taper)


def self_fsc(vol: Any, spacing: Sequence[float] = (1.0, 1.0, 1.0), **fsc_kwargs: Any) -> FSCResult:
  """Reference-free FSC between the even and odd Y rows of one volume.

  The halves A = vol[:, 0::2] and B = vol[:, 1::2] (spacing (z, 2y, x)) see the same structure with
  independent noise, and SEM line noise stays inside one half. B's half-voxel Y offset is undone in Fourier
  space, so a smooth volume gives FSC ~ 1 and white noise ~ 0. Compare `resolution('z')` with
  `resolution('x')` to see how anisotropic the volume is.
  """
  _, y, _ = checks.shape_of(vol, "volume")
  if y < 4:
    raise UserError(f"volume has only {y} Y rows; self-FSC splits odd/even rows and needs at least 4.")
  sz, sy, sx = checks.spacing_of(spacing)
  half = y // 2
  vol = jnp.asarray(vol, jnp.float32)
  a, b = vol[:, 0:2 * half:2], vol[:, 1:2 * half:2]
  return _fsc(a, b, (sz, 2 * sy, sx), y_shift=sy, **fsc_kwargs)  # fsc_kwargs: cone_deg, taper
