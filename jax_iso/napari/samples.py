"""napari sample data: the FIB-SEM sample shipped with jax_iso (160^3, 10 nm isotropic) and its simulation at
40 nm sections (x4, `jax_iso.jobs.simulate`: 40 sections), each with its voxel size as scale; the simulation
placed where its sections lie in the original (docs/formats.md, "Conventions")."""
from __future__ import annotations

import os
import tempfile

from jax_iso import samples
from jax_iso.napari.reader import LayerData, volume_layer

SIMULATED_FACTOR = 4.0


def fibsem_sample() -> list[LayerData]:
  """The shipped sample: FlyEM FIB-SEM, Drosophila medulla, 160^3 at 10 nm."""
  data, kwargs, kind = volume_layer(os.fspath(samples.FIBSEM_10NM))
  kwargs.update(name="FIB-SEM 10 nm")
  return [(data, kwargs, kind)]


def fibsem_sample_x4() -> list[LayerData]:
  """The shipped sample integrated into sections 4x thicker (40 nm), as `jax-iso simulate --factor=4` makes it."""
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top  (jax; only when asked for)
  with tempfile.TemporaryDirectory(prefix="jax_iso_sample_") as tmp:
    out = os.path.join(tmp, "fibsem_x4.tif")
    jobs.simulate(os.fspath(samples.FIBSEM_10NM), out, factor=SIMULATED_FACTOR)
    data, kwargs, kind = volume_layer(out, lazy_bytes=1 << 62)
  kwargs.update(name=f"FIB-SEM simulated x{SIMULATED_FACTOR:g} (40 nm sections)")
  kwargs["metadata"]["path"] = None          # the temporary file is gone
  return [(data, kwargs, kind)]
