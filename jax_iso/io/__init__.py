"""Volume I/O: read TIFF, zarr, OME-Zarr and N5 as lazy (Z, Y, X) volumes with spacing; write atomically.

Reading: `open_volume` (lazy `VolumeSource`), `read_volume`, `check_finite`, `parse_spacing`.
Writing: `check_output_path`, `output_format`, `create_volume` (streamed `VolumeSink`), `write_volume`.
Intensities: `Intensity`, `intensity_of`. How jax_iso made a file: `provenance`.
Streaming in Y slabs: `jax_iso.io.slabs`.
Spacing is always (z, y, x) in nanometres.
"""
from __future__ import annotations

from jax_iso.io.intensity import Intensity, intensity_of
from jax_iso.io.paths import check_output_path, output_format
from jax_iso.io.provenance import provenance
from jax_iso.io.sink import VolumeSink
from jax_iso.io.source import VolumeSource, check_finite, open_volume, read_volume
from jax_iso.io.spacing import Spacing, parse_spacing
from jax_iso.io.write import create_volume, write_volume

__all__ = [
    "Intensity", "Spacing", "VolumeSink", "VolumeSource", "check_finite", "check_output_path", "create_volume",
    "intensity_of", "open_volume", "output_format", "parse_spacing", "provenance", "read_volume", "write_volume",
]
