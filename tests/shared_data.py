"""Paths of the real EM volumes in ../shared/data beside the project (tests skip when a file is absent)."""
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_file(name: str) -> pathlib.Path:
  """The path of ../shared/data/NAME; skips the calling test when it is absent."""
  path = SHARED_DATA / name
  if not path.exists():
    pytest.skip(f"{path} is not available")
  return path


def write_sample_sections(path: pathlib.Path, edge: int, *, depth: int | None = None) -> pathlib.Path:
  """Writes x4 sections (40 nm) of the real 10 nm FIB-SEM sample shipped in the package, cropped to `depth`
  (default: all 160) slices and `edge` x `edge` pixels, as a uint8 ImageJ TIFF with its spacing; returns `path`."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax_iso import io  # pylint: disable=g-import-not-at-top
  from jax_iso.degrade import simulate_axial  # pylint: disable=g-import-not-at-top
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  vol = io.read_volume(FIBSEM_10NM)[0][:depth, :edge, :edge].astype(np.float32) / 255
  io.write_volume(path, np.rint(np.asarray(simulate_axial(vol, 4.0, axis=0)) * 255).astype(np.uint8),
                  (40.0, 10.0, 10.0))
  return path
