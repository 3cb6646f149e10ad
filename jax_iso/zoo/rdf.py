"""The BioImage Model Zoo description (model format 0.5) of an exported jax_iso model, as a plain dict.

`describe(...)` fills in what the zoo asks of a model: name, description, authors, the method's paper, license,
the input and output tensors (axes with the voxel size in nm, test tensors, the scale_linear preprocessing that
maps stored values onto the [0, 1] window the model was trained in), the ONNX weights, the training volume, the
training details and the run's held-out PSNR. The package writer (`package.py`) dumps it as `rdf.yaml`.
"""
from __future__ import annotations

import pathlib

from jax_iso import runconfig

FORMAT_VERSION = "0.5.4"
INPUT_ID, OUTPUT_ID = "input0", "output0"
DEFAULT_LICENSE = "CC-BY-4.0"
ABS_TOLERANCE = 1e-4   # ONNX against JAX on the test tile: float32 sums in another order (see package.py)
REL_TOLERANCE = 1e-4

PAPERS = {
    "unet": {"text": "Weigert et al., Content-aware image restoration: pushing the limits of fluorescence "
                     "microscopy, Nature Methods 15, 1090-1097 (2018)", "doi": "10.1038/s41592-018-0216-7"},
    "a2i": {"text": "Khateri, Ghahremani, Sierra and Tohka, Self-Supervised Super-Resolution Approach for Isotropic "
                    "Reconstruction of 3D Electron Microscopy Images from Anisotropic Acquisition (A2I-3DEM), 2023",
            "url": "https://arxiv.org/abs/2309.10646"},
}
TITLES = {"unet": "CARE U-Net", "a2i": "A2I-3DEM"}


def _factor_tag(factor: float) -> str:
  return f"x{factor:g}".replace(".", "p")


def _space_axes(config: runconfig.Frozen, shape: tuple[int, int], *, halo: int | None) -> list[dict]:
  """The rows (fine Z) and columns (X, or Y for a yz plane) axes, with their voxel size where it is known."""
  spacing = config.resolved.get("spacing_nm")
  factor = float(config.resolved.factor)
  scales = (None, None) if not spacing else (float(spacing[0]) / factor, float(spacing[2]))
  notes = ("rows: Z of the volume resampled onto the isotropic grid (cubic interpolation of the sections)",
           "columns: X of an xz plane (or Y of a yz plane)")
  axes = []
  for axis_id, n, scale, note in zip(("y", "x"), shape, scales, notes):
    axis = {"type": "space", "id": axis_id, "description": note}
    if halo is None:
      axis["size"] = int(n)
    else:
      axis.update(size={"tensor_id": INPUT_ID, "axis_id": axis_id}, halo=int(halo))
    if scale is not None:
      axis.update(unit="nanometer", scale=round(scale, 6))
    axes.append(axis)
  return axes


def describe(config: runconfig.Frozen, *, shape: tuple[int, int], halo: int, files: dict, sha256: dict,
             metrics: dict | None, step: int, license: str = DEFAULT_LICENSE,
             opset: int = 18) -> dict:
  """The rdf of a model of method `config.method` taking [1, 1, *shape] tiles; `files` names the package's
  weights, test tensors, documentation and cover (relative paths), `sha256` their hashes."""
  method = config.method
  factor = float(config.resolved.factor)
  window = config.resolved.intensity
  lo, hi = float(window.lo), float(window.hi)
  data_path = str(config.data.get("path") or "")
  spacing = config.resolved.get("spacing_nm")
  where = f" ({' x '.join(f'{s:g}' for s in spacing)} nm, Z x Y x X)" if spacing else ""
  title = TITLES[method]
  batch = {"type": "batch"}
  channel = {"type": "channel", "channel_names": ["em"]}
  optim = config.optim
  rdf = {
      "format_version": FORMAT_VERSION,
      "type": "model",
      "name": f"jax_iso {title} isotropic {_factor_tag(factor)}",
      "description": f"{title} restoring axial (xz / yz) planes of a volume EM stack resampled x{factor:g} along Z "
                     "to the isotropic grid; trained self-supervised on the stack itself with jax_iso",
      "authors": [{"name": "jax_iso"}],
      "cite": [PAPERS[method]],
      "license": license,
      "tags": ["electron-microscopy", "isotropic-reconstruction", "super-resolution", "2d", "jax_iso", method],
      "documentation": files["documentation"],
      "covers": [files["cover"]],
      "inputs": [{
          "id": INPUT_ID,
          "description": "a tile of an axial plane, in the volume's stored intensity units, as float32",
          "axes": [batch, channel] + _space_axes(config, shape, halo=None),
          "test_tensor": {"source": files["test_input"], "sha256": sha256["test_input"]},
          "data": {"type": "float32"},
          "preprocessing": [{"id": "scale_linear",
                             "kwargs": {"gain": 1.0 / (hi - lo), "offset": -lo / (hi - lo)}}],
      }],
      "outputs": [{
          "id": OUTPUT_ID,
          "description": f"the restored tile in [0, 1] units (stored units: value * {hi - lo:g} + {lo:g}); crop the "
                         "halo before stitching tiles",
          "axes": [batch, channel] + _space_axes(config, shape, halo=halo),
          "test_tensor": {"source": files["test_output"], "sha256": sha256["test_output"]},
          "data": {"type": "float32"},
      }],
      "weights": {"onnx": {"source": files["weights"], "sha256": sha256["weights"], "opset_version": int(opset),
                           "authors": [{"name": "jax_iso"}],
                           "comment": "converted from the JAX/Flax model by jax_iso.zoo.onnx_export"}},
      "training_data": {
          "type": "dataset", "format_version": "0.3.0", "name": pathlib.Path(data_path).name or "training volume",
          "description": f"the anisotropic volume {data_path}{where}, anisotropy x{factor:g}, the model was fitted "
                         "on (self-supervised: lateral crops degraded along one axis)"},
      "config": {
          "bioimageio": {
              "reproducibility_tolerance": [{"absolute_tolerance": ABS_TOLERANCE,
                                             "relative_tolerance": REL_TOLERANCE,
                                             "output_ids": [OUTPUT_ID], "weights_formats": ["onnx"]}],
              "training": {"loss_function": str(config.get("loss")), "optimizer": str(optim.name),
                           "initial_learning_rate": float(optim.lr),
                           "learning_rate_schedule": str(optim.get("schedule")),
                           "training_batch_size": float(config.data.batch_size)},
          },
          "jax_iso": {"method": method, "step": int(step), "factor": factor,
                      "intensity": {"lo": lo, "hi": hi, "dtype": str(window.dtype)},
                      "spacing_nm": list(spacing) if spacing else None, "halo": int(halo),
                      "model": runconfig.to_dict(config.model), "metrics": metrics or {}},
      },
  }
  return rdf
