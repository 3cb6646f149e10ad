"""napari reader: a volume jax_iso reads, as an image layer with its voxel size (z, y, x nm) as scale, and the
uncertainty map written beside a reconstruction as a second layer.

The uncertainty map of an output is the path its provenance records under "uncertainty" when there is one, else
the file beside it named like it with `_std` or `_uncertainty` added (`iso.tif` -> `iso_std.tif`, also .tiff,
.zarr, .ome.zarr: the names the README uses for `--uncertainty`); it is shown only when jax_iso wrote it (its
provenance job is "uncertainty") on the output's grid.

A layer's Z translate places a file where its source lies: a reconstruction's fine slice j sits at
(j + 0.5) / s - 0.5 sections (docs/formats.md, "Conventions"), a simulation's section k at fine slice (k + 0.5) * s - 0.5,
so an input, its simulation and its reconstruction overlay when opened together.
"""
from __future__ import annotations

import os
from typing import Any

from jax_iso import io
from jax_iso.errors import UserError

LayerData = tuple[Any, dict, str]

UNCERTAINTY_SUFFIXES = ("_std", "_uncertainty")
EXTENSIONS = (".ome.zarr", ".zarr", ".tiff", ".tif")   # what jax_iso writes; longest first
LAZY_BYTES = 1 << 30          # volumes larger than this are read lazily, in chunks (dask), as napari shows them
UNCERTAINTY_STYLE = {"colormap": "magma", "blending": "additive", "opacity": 0.7}
_SOURCE_DEPTH = 8             # provenance links followed for the translate


def get_reader(path):
  """The reader for `path` (a str, or a list of one) when jax_iso can open it as a volume, else None."""
  path = _single(path)
  if path is None:
    return None
  try:
    with io.open_volume(path):
      pass
  except (UserError, OSError, ValueError):
    return None
  return read


def read(path) -> list[LayerData]:
  """Layer data of `path`: the volume, and the uncertainty map beside it when there is one."""
  path = _single(path)
  if path is None:
    raise ValueError(f"the jax_iso reader opens one volume at a time, got {path!r}")
  layer = volume_layer(path)
  layers = [layer]
  found = uncertainty_path(path, layer[0].shape)
  if found is not None:
    data, kwargs, kind = volume_layer(found)
    kwargs.update(UNCERTAINTY_STYLE, name=f"{layer[1]['name']} uncertainty")
    kwargs.pop("translate", None)
    if "translate" in layer[1]:                  # on the output's grid: where the output lies
      kwargs["translate"] = layer[1]["translate"]
    layers.append((data, kwargs, kind))
  return layers


def volume_layer(path: str, *, lazy_bytes: int = LAZY_BYTES) -> LayerData:
  """One image layer: data (in memory, or a dask array over the file above `lazy_bytes`), scale = voxel size
  in nm (left out when unknown) and metadata (path, spacing, jax_iso's provenance)."""
  src = io.open_volume(path)
  try:
    spacing, origin, shape = src.spacing, src.spacing_origin, src.shape
    if src.nbytes > lazy_bytes:
      import dask.array as da  # pylint: disable=g-import-not-at-top  (a napari dependency)
      data = da.from_array(src, chunks=(1, *shape[1:]), lock=True, asarray=True)
    else:
      data = src.read()
      src.close()
  except BaseException:
    src.close()
    raise
  made = io.provenance(path)
  kwargs: dict[str, Any] = {
      "name": _stem(path),
      "metadata": {"path": os.path.abspath(path), "spacing_nm": None if spacing is None else tuple(spacing),
                   "spacing_origin": origin, "jax_iso": made},
  }
  if spacing is not None:
    kwargs.update(scale=tuple(float(v) for v in spacing), units=("nm", "nm", "nm"))
  z_shift = z_translate(path, float(spacing[0]) if spacing is not None else 1.0)
  if z_shift:
    kwargs["translate"] = (z_shift, 0.0, 0.0)
  if made.get("job") == "uncertainty":
    kwargs.update(colormap=UNCERTAINTY_STYLE["colormap"])
  return data, kwargs, "image"


def uncertainty_path(path: str, shape: tuple[int, ...]) -> str | None:
  """The uncertainty map of output `path` (see the module docstring), or None."""
  recorded = io.provenance(path).get("uncertainty")
  if isinstance(recorded, str) and recorded:
    candidates = [recorded if os.path.isabs(recorded) else os.path.join(os.path.dirname(os.path.abspath(path)),
                                                                      recorded)]
  else:
    base = _without_extension(os.path.abspath(path.rstrip("/" + os.sep)))
    candidates = [base + suffix + ext for suffix in UNCERTAINTY_SUFFIXES for ext in EXTENSIONS]
  for candidate in candidates:
    if not os.path.exists(candidate) or io.provenance(candidate).get("job") != "uncertainty":
      continue
    try:
      with io.open_volume(candidate) as src:
        if tuple(src.shape) == tuple(shape):
          return candidate
    except (UserError, OSError, ValueError):
      continue
  return None


def z_translate(path: str, z_spacing: float) -> float:
  """Where slice 0 of `path` lies in the frame of its first source (Z, in units of the scale): following the
  provenance's "source" links through reconstructions (shifted back by (s - 1) / 2 fine slices) and simulations
  (forward by (s - 1) / 2 fine slices); 0 for a file jax_iso did not make."""
  shift, seen = 0.0, {os.path.realpath(path)}
  for _ in range(_SOURCE_DEPTH):
    made = io.provenance(path)
    factor = made.get("factor")
    if not isinstance(factor, (int, float)) or factor <= 0:
      factor = 1.0
    if made.get("job") in ("reconstruct", "predict"):
      shift -= (factor - 1.0) / 2.0 * z_spacing
      z_spacing *= factor
    elif made.get("job") == "simulate":
      z_spacing /= factor
      shift += (factor - 1.0) / 2.0 * z_spacing
    source = made.get("source")
    if not isinstance(source, str) or not os.path.exists(source) or os.path.realpath(source) in seen:
      break
    seen.add(os.path.realpath(source))
    path = source
  return float(shift)


def _single(path) -> str | None:
  if isinstance(path, (list, tuple)):
    if len(path) != 1:
      return None
    path = path[0]
  return os.fspath(path) if isinstance(path, (str, os.PathLike)) else None


def _without_extension(path: str) -> str:
  lower = path.lower()
  for ext in EXTENSIONS + (".h5", ".hdf5", ".hdf", ".n5"):
    if lower.endswith(ext):
      return path[:-len(ext)]
  return path


def _stem(path: str) -> str:
  return os.path.basename(_without_extension(path.rstrip("/" + os.sep))) or path
