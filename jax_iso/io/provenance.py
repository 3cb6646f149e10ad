"""What jax_iso wrote into a volume's metadata about how it was made (the job, method and factor)."""
from __future__ import annotations

import json
import os
from typing import Any

import tifffile

from jax_iso.io.tiff import tifffile_log


def provenance(path) -> dict[str, Any]:
  """The description jax_iso wrote into `path` (TIFF: the ImageJ Info; OME-Zarr: the `jax_iso` attributes),
  e.g. {"job": "reconstruct", "method": "cubic", "factor": 4.0, ...}; {} when there is none or it is unreadable."""
  path = os.fspath(path)
  try:
    if os.path.isdir(path):
      with open(os.path.join(path, ".zattrs"), encoding="utf-8") as f:
        found = json.load(f).get("jax_iso", {}).get("description")
    else:
      with tifffile_log(), tifffile.TiffFile(path) as tif:
        info = (tif.imagej_metadata or {}).get("Info")
      found = json.loads(info).get("jax_iso") if info else None
  except (OSError, ValueError, AttributeError, tifffile.TiffFileError):
    return {}
  return found if isinstance(found, dict) else {}
