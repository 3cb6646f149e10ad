"""Config resolution: what the training data decides, as one explicit step whose result is logged and saved.

    config = resolve(config, inputs)       # the frozen config the run uses; `config.json` holds it
    print(describe(config))                # what was resolved, in one line

- `pairs.factor` (and `model.factor` for a model that upsamples by it): the volume's anisotropy (from its voxel
  size, `data.spacing` or `data.factor`);
- `section_noise`: "match" measures the noise of the volume's xy planes and adds the missing part to every
  synthetic section, as `gaussian_noise` appended to `pairs.acquisition` (`section_noise.py`); a number adds
  that sigma; "off" adds nothing. The resolved pipeline is what `config.json` shows;
- `resolved`: the factor, the voxel size, the intensity window, the section-noise numbers, and `input_shape`,
  the shape of one training input (what the model's parameters are built from, `models/loader.py`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jax_iso import runconfig
from jax_iso.degrade import pairs
from jax_iso.models import precision
from jax_iso.train import section_noise
from jax_iso.train.inputs import Inputs, crop_spec


def resolve(config: runconfig.Frozen, inputs: Inputs) -> runconfig.Frozen:
  """`config` with the factor, section noise and `resolved` section that `inputs` decide."""
  out = runconfig.to_json(config)
  if inputs.factor is not None:                    # a 2D task (denoise, superres) has no anisotropy
    out["pairs"]["factor"] = inputs.factor
    if "factor" in out["model"]:                   # a model that upsamples by the factor itself (EMformer)
      out["model"]["factor"] = inputs.factor
  out["pairs"], noise = section_noise.resolve(out.get("section_noise", "off"), out["pairs"], inputs.factor,
                                              inputs.volumes, inputs.intensity)
  _, size = crop_spec(out)
  if out["pairs"]["kind"] == "registered":         # a crop of a PairedVolume holds both images: [2, ...]
    size = (2,) + tuple(size)
  pair_fn = pairs.make_batch_fn(out["pairs"])
  sample = jax.eval_shape(lambda k, x: pair_fn(k, x)[0], jax.random.key(0),
                          jax.ShapeDtypeStruct((1,) + size, jnp.float32))
  out["resolved"] = {"factor": inputs.factor, "spacing_nm": None if inputs.spacing is None else list(inputs.spacing),
                     "intensity": {"lo": inputs.intensity.lo, "hi": inputs.intensity.hi,
                                   "dtype": inputs.intensity.dtype.name},
                     "section_noise": noise, "input_shape": list(sample.shape[1:])}
  return runconfig.freeze(out)


def describe(config: runconfig.Frozen) -> str:
  """One line: anisotropy, voxel size, intensity window, section noise and model input of a resolved config."""
  r = config.resolved
  spacing = ("voxel size unknown" if r.spacing_nm is None else
             f"voxel size {' x '.join(f'{s:g}' for s in r.spacing_nm)} nm")
  noise = r.section_noise
  drawn = pairs.factor_range(config.pairs)
  if drawn is not None and config.pairs.get("match_noise"):
    added = "matched per crop (each crop's own noise, for the factor drawn)"
  elif noise.mode == "match":
    added = (f"matched: xy planes' noise sigma {noise.volume_sigma:.4g}, {noise.added_sigma:.4g} added to each "
             "synthetic section (gaussian_noise in pairs.acquisition)")
  elif noise.mode == "fixed":
    added = f"{noise.added_sigma:.4g} added to each synthetic section (gaussian_noise in pairs.acquisition)"
  else:
    added = "off"
  if drawn is not None:
    lo, hi = drawn
    grid = f"anisotropy drawn per crop from x{lo:g} to x{hi:g}"
  else:
    grid = "no anisotropy (2D task)" if r.factor is None else f"anisotropy x{r.factor:g}"
  return (f"{grid} ({spacing}); intensity {r.intensity.dtype} [{r.intensity.lo:g}, "
          f"{r.intensity.hi:g}] -> [0, 1]; section noise {added}; model input "
          f"{' x '.join(str(n) for n in r.input_shape)}; {precision.describe(config.model)}")
