"""A trained feed-forward model as a BioImage Model Zoo package: a folder, or a .zip of it.

    export_bioimageio("runs/unet", "unet_zoo")          # what `jax-iso export --format=bioimageio` does
    export_bioimageio("unet.bundle", "unet_zoo.zip")    # a bundle works too

The package holds `rdf.yaml` (model format 0.5, `rdf.describe`), `weights.onnx` (the model converted from JAX by
`onnx_export`, taking one [1, 1, rows, cols] tile), `test_input.npy` / `test_output.npy` (a tile of the training
volume's middle xz plane in stored units, and jax_iso's own output for it), `README.md` and `cover.png`. It is
written only when onnxruntime reproduces jax_iso's output on the test tile (within `rdf.ABS_TOLERANCE` +
`rdf.REL_TOLERANCE` x |value|: the same float32 sums taken in another order), atomically (built in a hidden
temporary folder beside the output, renamed when complete).
"""
from __future__ import annotations

import hashlib
import io as pyio
import json
import os
import pathlib
import shutil
import tempfile
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from jax_iso import methods, runconfig
from jax_iso.errors import UserError
from jax_iso.models import loader
from jax_iso.zoo import onnx_export, rdf, tile

FEED_FORWARD = ("unet", "a2i")   # one model call per tile of an axial plane: what a zoo model can be
RDF_FILE = "rdf.yaml"
FILES = {"weights": "weights.onnx", "test_input": "test_input.npy", "test_output": "test_output.npy",
         "documentation": "README.md", "cover": "cover.png"}


def check_exportable(method: str) -> None:
  """A one-line UserError unless `method` is one this format exports."""
  if method not in FEED_FORWARD:
    kind = methods.METHODS[method].strategy if method in methods.METHODS else "unknown"
    raise UserError(f"--format=bioimageio exports the feed-forward methods ({', '.join(FEED_FORWARD)}); {method} "
                    f"({kind} inference) exports only as --format=bundle")


def tile_function(loaded: loader.LoadedModel, factor: float | None = None):
  """`f(x [1, 1, rows, cols]) -> [1, 1, rows, cols]`: the model's apply on one tile, in float32 (a model trained
  with bfloat16 compute is exported with float32 compute and its parameters cast to float32); a model conditioned
  on the anisotropy is told `factor` (a constant of the exported graph)."""
  model = loaded.model.clone(dtype=jnp.float32, param_dtype=jnp.float32)
  params = jax.tree.map(lambda p: jnp.asarray(p, jnp.float32), loaded.params)
  told = {"factor": float(factor)} if getattr(model, "conditioned", False) else {}
  return lambda x: model.apply(params, x[:, 0], **told)[:, None]


def for_factor(loaded: loader.LoadedModel, factor: float | None) -> runconfig.Frozen:
  """The config the package describes: a model of one anisotropy as it is; a model that serves a range of them
  (any_factor pairs) at `factor`, which must be given and lie in its range."""
  config = loaded.config
  if config.pairs.kind != "any_factor":
    if factor is not None and abs(float(factor) - float(config.resolved.factor)) > 0.01 * float(factor):
      raise UserError(f"factor={factor:g}: the model in {loaded.source} was trained for x{config.resolved.factor:g} "
                      "only; drop factor")
    return config
  lo, hi = (float(f) for f in config.pairs.factors)
  if factor is None:
    raise UserError(f"the model in {loaded.source} serves anisotropies x{lo:g} to x{hi:g}; a package is for one: "
                    "give factor=F")
  if not lo * 0.99 <= float(factor) <= hi * 1.01:
    raise UserError(f"factor={factor:g} is outside the model's range x{lo:g} to x{hi:g}")
  return runconfig.replace(config, resolved={**runconfig.to_json(config.resolved), "factor": float(factor)})


def latest_metrics(source: str | os.PathLike) -> dict:
  """The last held-out evaluation in the workdir's `metrics.jsonl` ({} for a bundle, or before any)."""
  path = pathlib.Path(source) / "metrics.jsonl"
  found = {}
  if path.exists():
    for line in path.read_text().splitlines():
      record = json.loads(line) if line.strip() else {}
      if "eval_psnr" in record:
        found = {"step": int(record["step"]), "eval_psnr_db": float(record["eval_psnr"])}
        if "eval_psnr_input" in record:
          found["eval_psnr_interpolated_input_db"] = float(record["eval_psnr_input"])
  return found


def _recorded_method(source: pathlib.Path) -> str | None:
  """The method a workdir's `config.json` or a bundle's `bundle.json` names, without loading anything else."""
  for name in (loader.BUNDLE_FILE, loader.CONFIG_FILE):
    path = source / name
    if path.is_file():
      try:
        return json.loads(path.read_text()).get("method")
      except (json.JSONDecodeError, AttributeError):
        return None
  return None


def _check_output(output: pathlib.Path, source: pathlib.Path) -> None:
  if not output.parent.is_dir():
    raise UserError(f"the folder of {output} does not exist; create it first")
  if output.resolve() == source.resolve():
    raise UserError(f"--output={output} is the model itself; choose another --output")
  if output.suffix == ".zip":
    if output.exists() and not zipfile.is_zipfile(output):
      raise UserError(f"{output} exists and is not a zip file; choose another --output")
  elif output.exists() and not (output / RDF_FILE).exists():
    raise UserError(f"{output} exists and is not a BioImage Model Zoo package; choose another --output")


def _verify(onnx_bytes: bytes, x: np.ndarray, expected: np.ndarray) -> float:
  """The largest |ONNX - JAX| on the test tile; RuntimeError beyond the stated tolerance."""
  import onnxruntime as ort  # pylint: disable=g-import-not-at-top
  session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
  got = session.run(None, {rdf.INPUT_ID: x})[0]
  err = np.abs(got - expected) - rdf.REL_TOLERANCE * np.abs(expected)
  if got.shape != expected.shape or not np.all(err <= rdf.ABS_TOLERANCE):
    raise RuntimeError(f"the ONNX model differs from jax_iso's on the test tile by up to "
                       f"{float(np.max(np.abs(got - expected))):.3g}; not writing the package")
  return float(np.max(np.abs(got - expected)))


def _readme(description: dict, shape: tuple[int, int]) -> str:
  cfg = description["config"]["jax_iso"]
  lo, hi = cfg["intensity"]["lo"], cfg["intensity"]["hi"]
  metrics = cfg["metrics"]
  quality = (f"Held-out PSNR at step {metrics['step']}: {metrics['eval_psnr_db']:.2f} dB"
             + (f" (the interpolated input: {metrics['eval_psnr_interpolated_input_db']:.2f} dB)."
                if "eval_psnr_interpolated_input_db" in metrics else ".")) if metrics else "No evaluation recorded."
  return f"""# {description['name']}

{description['description']}.

Exported by `jax-iso export --format=bioimageio` from a model trained at step {cfg['step']}.

## Input and output
- One tile `[1, 1, {shape[0]}, {shape[1]}]` (batch, channel, rows, columns) of an axial plane: rows are Z of the
  volume **resampled by cubic interpolation onto the isotropic grid** (x{cfg['factor']:g}), columns X (an xz plane)
  or Y (a yz plane). Pixel size: {cfg['spacing_nm'] or 'unknown'} nm (Z, Y, X of the sections) / {cfg['factor']:g}
  along Z.
- Preprocessing (`scale_linear`): stored values [{lo:g}, {hi:g}] -> [0, 1], the window the model was trained in.
- Output: the restored tile in [0, 1] (stored units: value x {hi - lo:g} + {lo:g}). The model adds its correction
  to the interpolated input (a global residual), so it must be fed the interpolated plane, not the sections.
- Tiling: drop a halo of {cfg['halo']} pixels on each side of an output tile and blend overlapping tiles.
  jax_iso reconstructs a whole volume by running every xz and every yz plane and averaging the two.

## Training
{description['training_data']['description']}. {quality}

## Validation
onnxruntime ran `weights.onnx` on `test_input.npy` (after the preprocessing) at export and reproduced jax_iso's own
output, `test_output.npy`, to {cfg['onnx_max_abs_error']:.2g} at most (float32 sums taken in another order; the
package states a tolerance of {rdf.ABS_TOLERANCE:g} absolute + {rdf.REL_TOLERANCE:g} relative).

Whole volumes: `jax-iso predict --model=BUNDLE --input=stack.tif --output=iso.ome.zarr` with jax_iso itself.
"""


def _cover(x_unit: np.ndarray, y_unit: np.ndarray) -> bytes:
  """Input | output side by side (2:1), grey, as PNG bytes."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  buffer = pyio.BytesIO()
  plt.imsave(buffer, np.clip(np.concatenate([x_unit, y_unit], axis=1), 0.0, 1.0), cmap="gray", vmin=0.0, vmax=1.0,
             format="png")
  return buffer.getvalue()


def export_bioimageio(source: str | os.PathLike, output: str | os.PathLike, *,
                      volume: str | os.PathLike | None = None, license: str = rdf.DEFAULT_LICENSE,
                      factor: float | None = None) -> pathlib.Path:
  """Writes the zoo package of a training workdir's, bundle's or shipped model's model to `output` (a folder, or
  a .zip), its test tile cut from `volume` (default: the training volume); a model serving a range of
  anisotropies is packaged for `factor`."""
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  source, output = pathlib.Path(pretrained.resolve(str(source))), pathlib.Path(output).absolute()
  recorded = _recorded_method(source)
  if recorded is not None:                       # a method of another kind fails before its model is loaded
    check_exportable(recorded)
  loaded = loader.load_model(source)
  check_exportable(loaded.config.get("method"))
  method = loaded.config.method
  _check_output(output, source)
  config = for_factor(loaded, factor)
  shape, halo = tile.geometry(config, loaded.multiple)
  window = tile.intensity(config)
  unit = tile.unit_tile(config, volume or config.data.get("path") or "(none recorded)", shape)
  gain, offset = np.float32(1.0 / (window.hi - window.lo)), np.float32(-window.lo / (window.hi - window.lo))
  raw = (unit * np.float32(window.hi - window.lo) + np.float32(window.lo))[None, None]     # stored units
  x = raw * gain + offset                                        # the declared preprocessing, in float32
  fn = tile_function(loaded, config.resolved.factor)
  expected = np.asarray(jax.jit(fn)(x), np.float32)
  model = onnx_export.to_onnx(fn, x.shape, input_name=rdf.INPUT_ID, output_name=rdf.OUTPUT_ID,
                              graph_name=f"jax_iso_{method}", doc=f"jax_iso {method}: one [1, 1, H, W] tile")
  onnx_bytes = model.SerializeToString()
  onnx_error = _verify(onnx_bytes, x, expected)

  blobs = {"weights": onnx_bytes, "test_input": _npy(raw), "test_output": _npy(expected),
           "cover": _cover(x[0, 0], expected[0, 0])}
  sha256 = {k: hashlib.sha256(v).hexdigest() for k, v in blobs.items()}
  description = rdf.describe(config, shape=shape, halo=halo, files=FILES, sha256=sha256,
                             metrics=latest_metrics(source), step=loaded.step, license=license,
                             opset=onnx_export.OPSET)
  description["config"]["jax_iso"]["onnx_max_abs_error"] = onnx_error
  blobs["documentation"] = _readme(description, shape).encode()
  contents = {FILES[k]: v for k, v in blobs.items()}
  contents[RDF_FILE] = yaml.dump(description, Dumper=_PlainDumper, sort_keys=False, width=120).encode()
  _write(output, contents)
  return output


class _PlainDumper(yaml.SafeDumper):
  """Writes repeated dicts out in full (no YAML anchors and aliases)."""

  def ignore_aliases(self, data) -> bool:
    return True


def _npy(array: np.ndarray) -> bytes:
  buffer = pyio.BytesIO()
  np.save(buffer, np.ascontiguousarray(array, np.float32))
  return buffer.getvalue()


def _write(output: pathlib.Path, contents: dict[str, bytes]) -> None:
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
  try:
    if output.suffix == ".zip":
      target = tmp / output.name
      with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
          archive.writestr(name, data)
      os.replace(target, output)
    else:
      folder = tmp / "package"
      folder.mkdir()
      for name, data in contents.items():
        (folder / name).write_bytes(data)
      if output.exists():
        shutil.rmtree(output)
      os.replace(folder, output)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
