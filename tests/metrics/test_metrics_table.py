"""The plain-text results table."""
from __future__ import annotations

from jax_iso import metrics


def _with_reference(psnr: float, z: float, z_limited: bool = False) -> dict:
  return {"psnr": psnr, "psnr_xy": psnr + 1, "psnr_xz": psnr - 1, "psnr_yz": psnr - 1.5, "ssim_xy": 0.81234,
          "ssim_xz": 0.7, "ssim_yz": 0.69, "resolution_units": "nm",
          "resolution_nm": {"z": z, "x": 20.0}, "resolution_limited": {"z": z_limited, "x": True}}


def test_one_row_per_method_with_all_columns():
  text = metrics.format_table({"linear": _with_reference(25.6217, 69.8),
                               "cubic": _with_reference(26.1, 20.0, True)})
  lines = text.splitlines()
  header = lines[0]
  for column in ("PSNR (dB)", "PSNR xy", "PSNR xz", "PSNR yz", "SSIM xy", "SSIM xz", "SSIM yz",
                 "Z res (nm)", "X res (nm)"):
    assert column in header, column
  linear = next(line for line in lines if line.startswith("linear"))
  cubic = next(line for line in lines if line.startswith("cubic"))
  assert "25.62" in linear and "0.8123" in linear and "69.8" in linear and "<=20.0" in linear
  assert "<=20.0" in cubic.split()[-2]  # Z res of cubic is Nyquist-limited
  assert "Z/X" not in header  # no reference-free row
  assert "Nyquist" in lines[-1]


def test_reference_free_rows_get_their_own_columns():
  free = {"reference_free": True, "resolution_units": "nm", "anisotropy": 2.5,
          "resolution_nm": {"z": 50.0, "x": 20.0}, "resolution_limited": {"z": False, "x": True}}
  only_free = metrics.format_table({"raw": free})
  assert "PSNR" not in only_free and "Z/X res" in only_free and "2.50" in only_free and "50.0" in only_free
  mixed = metrics.format_table({"linear": _with_reference(25.0, 60.0), "raw": free})
  raw = next(line for line in mixed.splitlines() if line.startswith("raw"))
  assert raw.split()[1] == "-"  # no PSNR for the reference-free row


def test_voxel_units_show_in_the_header():
  result = _with_reference(25.0, 6.0)
  result["resolution_units"] = "voxels"
  assert "Z res (voxels)" in metrics.format_table({"a": result})
