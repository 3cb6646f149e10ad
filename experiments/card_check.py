"""The check a shipped model's card states and CI repeats: an input made from the shipped sample
(`jax_iso.samples.FIBSEM_10NM`), its clean reference, and the model's output of it through the job a user runs,
the model as it is (no fine-tune). `experiments/ship_pretrained.py` scores it when it writes the card;
`tests/test_pretrained.py` scores it again on its own (its own PSNR of this output) and compares.

- an isotropic method (`ISOTROPIC`): the sample's 160 x 96 x 96 crop cut into sections at x4
  (`degrade.simulate_axial`), written as uint8 at 40 x 10 x 10 nm, reconstructed by `jobs.predict`; the
  reference is the crop (the card also states cubic's PSNR on it). A diffusion model of the isotropic task
  (vemdiffuse_i, `VEMDIFFUSE`) samples: the same on a 48 x 64 x 64 crop, the mean of `samples` samples of
  `steps` sampler steps (the sampling key is the model's seed: the same model gives the same output), so that
  the check takes under half a minute on 2 CPU cores (the `cpu` network: 24 s beside another process that used
  1.5 of the 2 cores; the same PSNR on every run);
- a denoiser (`DENOISE`): 4 sections of 128^2 of the sample, white Gaussian noise of sigma 0.08 on [0, 1]
  intensities drawn by numpy with a fixed seed (the same on every machine and JAX version), clipped and written as
  uint8, denoised by `jobs.denoise` (the model's default output: the one-pass posterior mean); the reference is
  the clean crop (the card also states the noisy input's PSNR);
- a restoration model (`RESTORE`): 7 sections of 128^2 of the sample, every 4th plane (40 nm apart, as ssTEM
  sections are), written as uint8 at 40 x 10 x 10 nm, section 2 given staining precipitates
  (`degrade.precipitates` with its defaults, the training pairs', and a fixed key, `jax.random.key(check["key"])`)
  and section 4 lost (blank); `jobs.restore` repairs the two, named with `sections`, the model as it is; the
  reference is the clean crop and the score the PSNR of the two repaired sections (`damaged_sections`; the card
  also states the damaged input's and linear interpolation's, the mean of each one's two clean neighbours:
  `linear`). The precipitates are drawn by JAX's generator: a JAX release that changed its random bits would
  change the input, and the damaged input's PSNR, which the card states, with it.

    check = definition("emdiffuse_n")               # what the card's `check` records beside the scores
    reference, path = make_input("emdiffuse_n", check, folder)   # uint8 reference, input file written in folder
    out = run(model, "emdiffuse_n", path, folder / "out.tif")     # the model's output (uint8 array)
    out = run(model, "sstem_restore", path, folder / "out.tif", check)   # restore: the check's sections named
"""
from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

import numpy as np

from jax_iso.errors import UserError

ISOTROPIC = {"crop": [0, 160, 32, 128, 32, 128], "factor": 4.0}   # of the shipped sample: 160 x 96 x 96, x4
DENOISE = {"crop": [78, 82, 16, 144, 16, 144], "noise": "gaussian", "sigma": 0.08, "seed": 0}   # 4 x 128^2
RESTORE = {"crop": [52, 80, 16, 144, 16, 144], "step": 4, "precipitates": 2, "lost": 4, "key": 0}  # 7 x 128^2
VEMDIFFUSE = {"crop": [0, 48, 32, 96, 32, 96], "factor": 4.0, "samples": 2, "steps": 3}   # 48 x 64^2, x4: 12 sections
TOLERANCE_DB = 0.05   # float32 sums differ between CPUs and XLA versions: thousandths of a dB seen; 0.05 is slack
_CHECKS = {"isotropic": ISOTROPIC, "denoise": DENOISE, "restore": RESTORE, "between": VEMDIFFUSE}
_SPACING_NM = 10.0    # the shipped sample's voxels


def task(method: str) -> str:
  """The task of `method` ("isotropic", "denoise", ...), which decides the check."""
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  return methods.get(method).task


def definition(method: str) -> dict:
  """The check of a model of `method` (a copy of `ISOTROPIC`, `VEMDIFFUSE`, `DENOISE` or `RESTORE`); UserError for
  a task without one."""
  kind = task(method)
  if kind == "isotropic" and _samples(method):
    kind = "between"
  if kind not in _CHECKS:
    raise UserError(f"no card check is defined for method={method} (a {kind} method); the checks: "
                    f"{', '.join(_CHECKS)} (experiments/card_check.py)")
  return {k: list(v) if isinstance(v, list) else v for k, v in _CHECKS[kind].items()}


def make_input(method: str, check: Mapping, folder: str | os.PathLike) -> tuple[np.ndarray, pathlib.Path]:
  """The clean reference (uint8, the sample's crop) and the check's input, written as `folder/check_input.tif`."""
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  definition(method)                      # a task without a check is refused here
  z0, z1, y0, y1, x0, x1 = check["crop"]
  clean = np.asarray(io.read_volume(FIBSEM_10NM)[0][z0:z1:int(check.get("step", 1)), y0:y1, x0:x1])
  if task(method) == "restore":
    data, spacing = _damaged(clean / 255.0, check), (_SPACING_NM * int(check["step"]), _SPACING_NM, _SPACING_NM)
  elif task(method) == "isotropic":
    from jax_iso.degrade import simulate_axial  # pylint: disable=g-import-not-at-top
    data = np.asarray(simulate_axial(clean / 255.0, check["factor"], axis=0))
    spacing = (_SPACING_NM * check["factor"], _SPACING_NM, _SPACING_NM)
  else:                                   # a denoiser
    noise = np.random.default_rng(int(check["seed"])).normal(0.0, float(check["sigma"]), clean.shape)
    data = np.clip(clean / 255.0 + noise, 0.0, 1.0)
    spacing = (_SPACING_NM,) * 3
  path = pathlib.Path(folder) / "check_input.tif"
  io.write_volume(path, np.rint(data * 255).astype(np.uint8), spacing)
  return clean, path


def run(model: str, method: str, path: str | os.PathLike, output: str | os.PathLike,
        check: Mapping | None = None) -> np.ndarray:
  """The output of `model` (a shipped model's name or a bundle) on the check's input at `path`, written to
  `output` by the job a user runs, the model as it is: `jobs.predict` (isotropic), `jobs.denoise`, or
  `jobs.restore` with the damaged sections of `check` (default: the method's `definition`) named."""
  from jax_iso import io, jobs  # pylint: disable=g-import-not-at-top
  kind = task(method)
  if kind == "isotropic":
    spec = check or definition(method)
    sampling = {"samples": int(spec["samples"]), "sample_steps": int(spec["steps"])} if _samples(method) else {}
    jobs.predict(str(model), str(path), str(output), show_progress=False, **sampling)
  elif kind == "restore":
    named = ",".join(str(k) for k in damaged_sections(check or definition(method)))
    jobs.restore(str(path), str(output), init=str(model), train_steps=0, sections=named, show_progress=False)
  else:
    jobs.denoise(str(path), str(output), init=str(model), show_progress=False)
  return np.asarray(io.read_volume(output)[0])


def _samples(method: str) -> bool:
  """Whether `method` samples (a diffusion model of the isotropic task: its check fixes samples and steps)."""
  from jax_iso import methods  # pylint: disable=g-import-not-at-top
  return methods.get(method).strategy == "between"


def damaged_sections(check: Mapping) -> list[int]:
  """The sections a restoration check damages (its precipitates, then its lost section)."""
  return [int(check["precipitates"]), int(check["lost"])]


def linear(reference: np.ndarray, check: Mapping) -> np.ndarray:
  """Linear interpolation of each damaged section of a restoration check (float, the reference's units): the
  mean of its two clean neighbours, what the restoration is compared with."""
  ref = np.asarray(reference, np.float64)
  return np.stack([0.5 * (ref[k - 1] + ref[k + 1]) for k in damaged_sections(check)])


def _damaged(clean: np.ndarray, check: Mapping) -> np.ndarray:
  """The clean sections (float in [0, 1]) with the check's precipitates (the op's defaults, which the training
  pairs use; the check's key) and its lost (blank) section."""
  import jax  # pylint: disable=g-import-not-at-top
  from jax_iso.degrade.precipitates import precipitates  # pylint: disable=g-import-not-at-top
  data = np.array(clean, np.float32)
  stained, _ = precipitates(jax.random.key(int(check["key"])), data[int(check["precipitates"])])
  data[int(check["precipitates"])] = np.asarray(stained)
  data[int(check["lost"])] = 0.0
  return np.clip(data, 0.0, 1.0)
