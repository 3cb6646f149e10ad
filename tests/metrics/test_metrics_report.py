"""Report pictures are written as valid PNGs of a sensible size."""
from __future__ import annotations

import matplotlib.image
import numpy as np
from scipy import ndimage

from jax_iso import metrics
from jax_iso.metrics import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _to_unit(block: np.ndarray) -> np.ndarray:
  return block.astype(np.float32) / 255


def _check_png(path, min_width: int, min_height: int) -> None:
  assert path.exists() and path.read_bytes()[:8] == PNG_SIGNATURE
  assert 20_000 < path.stat().st_size < 5_000_000
  height, width = matplotlib.image.imread(path).shape[:2]
  assert width >= min_width and height >= min_height


def test_report_with_reference(em_uint8, tmp_path):
  ref = em_uint8[:40, :64, :80]
  pred = ndimage.gaussian_filter(ref.astype(np.float32), (2, 0, 0)).round().astype(np.uint8)
  results = metrics.evaluate(pred, ref, spacing=(20, 10, 10), pred_to_unit=_to_unit, ref_to_unit=_to_unit,
                             progress=False)
  paths = report.write_report(tmp_path / "report", pred, ref, results, pred_to_unit=_to_unit,
                              ref_to_unit=_to_unit)
  assert [p.name for p in paths] == ["orthoslices.png", "fsc.png"]
  _check_png(paths[0], 800, 600)
  _check_png(paths[1], 700, 400)


def test_reference_free_report(em_uint8, tmp_path):
  vol = em_uint8[:48, :64, :64]
  results = metrics.evaluate_reference_free(vol, spacing=None, to_unit=_to_unit)
  paths = report.write_report(tmp_path, vol, None, results, pred_to_unit=_to_unit)
  assert [p.name for p in paths] == ["orthoslices.png", "spectrum.png"]
  _check_png(paths[0], 700, 250)
  _check_png(paths[1], 700, 400)
