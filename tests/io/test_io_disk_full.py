"""A write that runs out of space leaves nothing behind and fails with an OSError, for both output formats."""
import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest

from io_helpers import ROOT

# Files may grow to 40 kB only (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a bigger write fails with EFBIG).
_FULL_WRITER = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from jax_iso import io
    data = np.random.default_rng(0).integers(0, 255, (32, 256, 256), dtype=np.uint8)  # 2 MB, random: no compression
    resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
    try:
      io.write_volume(sys.argv[1], data, (40.0, 4.0, 4.0))
      print(json.dumps({"type": None}))
    except BaseException as err:
      print(json.dumps({"type": type(err).__name__, "oserror": isinstance(err, OSError),
                        "errno": getattr(err, "errno", None), "message": str(err)}))
""")


@pytest.mark.parametrize("ext", [".ome.zarr", ".tif"])
def test_disk_full_leaves_nothing_and_raises_oserror(tmp_path, ext):
  out = tmp_path / "out"
  out.mkdir()
  path = out / f"o{ext}"
  done = subprocess.run([sys.executable, "-c", _FULL_WRITER, str(path)], capture_output=True, text=True, cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300, check=True)
  result = json.loads(done.stdout.strip().splitlines()[-1])
  assert result["oserror"] and result["errno"] == errno.EFBIG, result
  assert "\n" not in result["message"] and "File too large" in result["message"]
  assert os.listdir(out) == []  # neither the output nor a hidden .o{ext}.partial-* temp
  assert done.stderr == ""
