"""Volume I/O: read TIFF, HDF5, zarr, OME-Zarr (0.4, 0.5), N5 and neuroglancer precomputed as lazy (Z, Y, X)
volumes with spacing; write TIFF and OME-Zarr atomically.

Reading: `open_volume` (lazy `VolumeSource`), `read_volume`, `check_finite`, `parse_spacing`, `input_file` (the
file or folder on disk that holds the volume a path names), `derived_path` (a report or work path named after a
volume), `missing_chunks` (what absent zarr/N5/precomputed chunks do: warn or error).
Writing: `check_output_path`, `output_format`, `create_volume` (streamed `VolumeSink`), `write_volume`,
`ome_version` (the NGFF version of OME-Zarr outputs), `Part` (one of several processes writing one output).
Intensities: `Intensity`, `intensity_of`. How jax_iso made a file: `provenance`.
Streaming in Y slabs: `jax_iso.io.slabs`.
Spacing is always (z, y, x) in nanometres.
"""
from __future__ import annotations

from jax_iso.io.census import missing_chunks
from jax_iso.io.intensity import Intensity, intensity_of
from jax_iso.io.paths import check_output_path, derived_path, input_file, output_format
from jax_iso.io.provenance import provenance
from jax_iso.io.shared_sink import Part
from jax_iso.io.sink import VolumeSink
from jax_iso.io.source import VolumeSource, check_finite, open_volume, read_volume
from jax_iso.io.spacing import Spacing, parse_spacing
from jax_iso.io.write import create_volume, ome_version, write_volume

__all__ = [
    "Intensity", "Part", "Spacing", "VolumeSink", "VolumeSource", "check_finite", "check_output_path", "create_volume",
    "derived_path", "input_file", "intensity_of", "missing_chunks", "ome_version", "open_volume", "output_format", "parse_spacing",
    "provenance", "read_volume", "write_volume",
]
