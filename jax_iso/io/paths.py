"""Output paths: the format an extension selects, and the checks commands run before any work."""
from __future__ import annotations

import os
from collections.abc import Sequence

from jax_iso.errors import UserError
from jax_iso.io import hdf5

_FORMATS = {".tif": "tiff", ".tiff": "tiff", ".zarr": "ome-zarr"}
SUPPORTED = ".tif/.tiff (ImageJ TIFF) or .zarr/.ome.zarr (OME-Zarr)"
METADATA_FILES = (".zarray", "zarr.json", "attributes.json", "info")  # named instead of their folder


def volume_path(path) -> str:
  """`path`, or the folder of the zarr/N5/precomputed metadata file it names (`a.zarr/.zarray` -> `a.zarr`)."""
  path = os.fspath(path)
  if os.path.isfile(path) and os.path.basename(path) in METADATA_FILES:
    return os.path.dirname(path) or "."
  return path


def input_file(path) -> str:
  """The file or folder on disk that holds the volume `path` names: the .h5 file of an HDF5 dataset path
  (`f.h5/volumes/raw` -> `f.h5`), the folder of a named metadata file (`a.zarr/.zarray` -> `a.zarr`), else `path`
  itself (without a trailing slash). Work and report folders derived from an input start from this."""
  path = volume_path(path)
  in_hdf5 = hdf5.split(path)
  if in_hdf5 is not None:
    return in_hdf5[0]
  return path.rstrip("/" + os.sep) or path


_VOLUME_EXTENSIONS = (".ome.zarr", ".zarr", ".tiff", ".tif", ".n5") + hdf5.HDF5_SUFFIXES


def derived_path(path, suffix: str) -> str:
  """A path beside the volume `path` names, called after it: `dir/pred.ome.zarr` -> `dir/pred{suffix}`; an HDF5
  dataset `dir/f.h5/volumes/raw` -> `dir/f_volumes_raw{suffix}` (beside the file, which is not a folder)."""
  path = volume_path(path).rstrip("/" + os.sep) or path
  in_hdf5 = hdf5.split(path)
  file, dataset = in_hdf5 if in_hdf5 is not None else (path, None)
  folder, name = os.path.split(file)
  for ext in _VOLUME_EXTENSIONS:
    if name.lower().endswith(ext) and len(name) > len(ext):
      name = name[:-len(ext)]
      break
  if dataset:
    name += "_" + dataset.strip("/").replace("/", "_")
  return os.path.join(folder, name + suffix)


def output_format(path) -> str:
  """'tiff' for .tif/.tiff, 'ome-zarr' for .zarr and .ome.zarr; anything else raises UserError."""
  name = os.fspath(path).rstrip("/" + os.sep)
  ext = os.path.splitext(name)[1].lower()
  if ext in _FORMATS and os.path.basename(name) != ext:
    return _FORMATS[ext]
  shown = f"extension '{ext}'" if ext else "no extension"
  raise UserError(f"output {os.fspath(path)} has {shown}; jax_iso writes {SUPPORTED}: end the path with one "
                  "of these")


def _is_zarr_dir(path: str) -> bool:
  return any(os.path.exists(os.path.join(path, m)) for m in (".zgroup", ".zattrs", ".zarray", "zarr.json"))


def _inside(child: str, parent: str) -> bool:
  return os.path.commonpath([child, parent]) == parent


def check_output_path(path, *, inputs: Sequence[str] = ()) -> None:
  """Raises UserError when `path` cannot be written: bad extension, missing or read-only folder, an input."""
  path = os.fspath(path)
  fmt = output_format(path)
  target = os.path.abspath(path.rstrip("/" + os.sep) or path)
  parent = os.path.dirname(target)
  if not os.path.exists(parent):
    raise UserError(f"the folder of output {path} ({parent}) does not exist; create it (mkdir -p {parent}) "
                    "or choose another output path")
  if not os.path.isdir(parent):
    raise UserError(f"the folder of output {path} ({parent}) is not a directory; choose another output path")
  if not os.access(parent, os.W_OK | os.X_OK):
    raise UserError(f"cannot write into {parent} (no write permission); choose an output path in a folder you "
                    "can write to")
  if os.path.isdir(target) and not os.path.islink(target):
    if fmt == "tiff":
      raise UserError(f"output {path} is an existing directory; choose another path for the TIFF")
    if os.listdir(target) and not _is_zarr_dir(target):
      raise UserError(f"output {path} is an existing directory that is not a zarr, and it would be replaced; "
                      "choose another path")
  real = os.path.realpath(target)
  for given in inputs:
    if not given:
      continue
    source = os.path.realpath(input_file(given))
    same = source == real
    if not same and os.path.exists(source) and os.path.exists(real):
      try:
        same = os.path.samefile(source, real)
      except OSError:
        same = False
    if same:
      raise UserError(f"output {path} is the input {given}; choose another path")
    if fmt == "ome-zarr" and _inside(source, real):
      raise UserError(f"output {path} contains the input {given} and would replace it; choose another path")
    if os.path.isdir(source) and _inside(real, source):
      raise UserError(f"output {path} is inside the input folder {input_file(given)}; choose a path outside it")
