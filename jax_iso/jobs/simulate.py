"""`jax-iso simulate`: an anisotropic volume from an isotropic one, as thicker sections would record it."""
from __future__ import annotations

import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jax_iso import io
from jax_iso.degrade import axial, grid
from jax_iso.errors import UserError
from jax_iso.io import slabs
from jax_iso.io.factor import check_factor
from jax_iso.jobs.options import check_names


@dataclasses.dataclass(frozen=True)
class Simulation:
  """The settings of `simulate`."""
  factor: float                                     # section thickness in fine slices (> 1, may be fractional)
  profile: str = "box"                              # "box" (physical thickness) or "gaussian" (FWHM = factor)
  sigma: float | None = None                        # gaussian width in fine slices (default: FWHM = factor)
  noise: float = 0.0                                # Gaussian noise SD on the [0, 1] scale
  seed: int = 0
  spacing: tuple[float, float, float] | None = None  # (z, y, x) nm of the input, over the file's
  channel: int | None = None
  timepoint: int | None = None


def simulate(input: str, output: str, **settings) -> dict:
  """Integrates `input` into sections of `factor` slices along Z and writes them to `output` (`settings`: the
  fields of `Simulation`).

  Section k integrates fine slices [k*s, (k+1)*s) (box profile) or a Gaussian of FWHM s centred at
  (k + 0.5)*s - 0.5; `noise` adds Gaussian noise of that standard deviation (on the [0, 1] intensity scale),
  drawn from `seed` per Y row, so the result does not depend on how the volume is streamed.
  """
  check_names("simulate", settings, [f.name for f in dataclasses.fields(Simulation)])
  if "factor" not in settings:
    raise UserError("simulate needs factor=F, the section thickness in fine slices (e.g. 4)")
  sim = Simulation(**settings)
  factor, profile, sigma, noise, seed, spacing = (sim.factor, sim.profile, sim.sigma, sim.noise, sim.seed,
                                                  sim.spacing)
  channel, timepoint = sim.channel, sim.timepoint
  factor = check_factor(factor)
  if profile not in axial.PROFILES:
    raise UserError(f"unknown profile={profile}; choose one of {', '.join(axial.PROFILES)}")
  if not noise >= 0:
    raise UserError(f"noise={noise} must be >= 0 (a standard deviation on the [0, 1] scale)")
  if sigma is not None and profile != "gaussian":
    raise UserError(f"sigma={sigma:g} is the width of the gaussian profile; profile={profile} has none: add "
                    f"profile=gaussian or drop sigma={sigma:g}")
  if sigma is not None and not 0 < sigma <= 4 * factor:
    raise UserError(f"sigma={sigma:g} must be > 0 and at most 4 x the factor ({4 * factor:g} fine slices)")
  if not noise <= 1:
    raise UserError(f"noise={noise:g} must be at most 1 (a standard deviation on the [0, 1] scale)")
  io.check_output_path(output, inputs=[input])
  start = time.perf_counter()
  with io.open_volume(input, channel=channel, timepoint=timepoint) as src:
    spacing = spacing if spacing is not None else src.spacing
    if spacing is not None and spacing[0] > 1.01 * min(spacing[1:]):
      print(f"warning: {input} is already anisotropic (spacing {spacing} nm); simulate expects an isotropic "
            "volume", file=sys.stderr)
    n_z, n_y, n_x = src.shape
    n_sec = grid.section_count(n_z, factor)
    if n_sec < 2:
      raise UserError(f"{input} has {n_z} slices; factor {factor:g} needs at least {int(np.ceil(2 * factor))} "
                      "(two sections)")
    if src.dtype == np.float32:
      io.check_finite(src)
    intensity = io.intensity_of(src)
    out_spacing = None if spacing is None else (spacing[0] * factor, spacing[1], spacing[2])
    key = jax.random.key(seed)

    @jax.jit
    def degrade(block, y0):
      sec = axial.simulate_axial(intensity.to_unit(block), factor, profile=profile, sigma=sigma)
      if noise > 0:
        rows = y0 + jnp.arange(block.shape[1])
        draw = jax.vmap(lambda r: jax.random.normal(jax.random.fold_in(key, r), (n_sec, n_x)))(rows)
        sec = sec + noise * jnp.transpose(draw, (1, 0, 2))
      return sec

    description = {"job": "simulate", "factor": factor, "profile": profile, "noise": noise,
                   "seed": seed, "source": str(input)}
    with io.create_volume(output, (n_sec, n_y, n_x), src.dtype, out_spacing, description=description) as sink:
      slabs.map_y_slabs(lambda block, y0: intensity.from_unit(np.asarray(degrade(block, y0))), src, sink,
                        slab=slabs.auto_slab(src.shape, (n_sec, n_y, n_x)), description=f"simulate x{factor:g}")
  return {"input": str(input), "output": str(output), "input_shape": [n_z, n_y, n_x],
          "output_shape": [n_sec, n_y, n_x], "factor": factor, "profile": profile, "noise": noise,
          "spacing_nm": None if out_spacing is None else list(out_spacing),
          "seconds": round(time.perf_counter() - start, 2)}
