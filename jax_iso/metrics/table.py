"""A plain-text table of evaluation results, one row per method."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Cell = Callable[[Mapping[str, Any], str], str | None]


def _number(key: str, fmt: str) -> Cell:
  def cell(result: Mapping[str, Any], unit: str) -> str | None:
    del unit
    value = result.get(key)
    return None if value is None else format(value, fmt)
  return cell


def _resolution(direction: str) -> Cell:
  def cell(result: Mapping[str, Any], unit: str) -> str | None:
    value = result.get("resolution_nm", {}).get(direction)
    if value is None:
      return None
    limited = result.get("resolution_limited", {}).get(direction, False)
    own_unit = result.get("resolution_units", "nm")
    suffix = f" {own_unit}" if unit == "mixed" else ""
    return f"{'<=' if limited else ''}{value:.1f}{suffix}"
  return cell


def _columns(unit: str) -> list[tuple[str, Cell]]:
  res_unit = "" if unit == "mixed" else f" ({unit})"
  return [("PSNR (dB)", _number("psnr", ".2f")), ("PSNR xy", _number("psnr_xy", ".2f")),
          ("PSNR xz", _number("psnr_xz", ".2f")), ("PSNR yz", _number("psnr_yz", ".2f")),
          ("SSIM xy", _number("ssim_xy", ".4f")), ("SSIM xz", _number("ssim_xz", ".4f")),
          ("SSIM yz", _number("ssim_yz", ".4f")), (f"Z res{res_unit}", _resolution("z")),
          (f"X res{res_unit}", _resolution("x")), ("Z/X res", _number("anisotropy", ".2f"))]


def format_table(results_by_name: Mapping[str, Mapping[str, Any]]) -> str:
  """Plain-text table: one row per name, columns PSNR, PSNR / SSIM per orientation, Z and X resolution.

  Works for `evaluate` and `evaluate_reference_free` results (and a mix): a column appears when some row has
  it, '-' marks a value a row lacks. Resolutions use the 1/7 criterion; '<=' marks Nyquist-limited values.
  """
  units = {r.get("resolution_units", "nm") for r in results_by_name.values() if "resolution_nm" in r}
  unit = units.pop() if len(units) == 1 else ("nm" if not units else "mixed")
  columns = _columns(unit)
  cells = {name: [fn(result, unit) for _, fn in columns] for name, result in results_by_name.items()}
  keep = [i for i in range(len(columns)) if any(row[i] is not None for row in cells.values())]
  headers = ["method"] + [columns[i][0] for i in keep]
  rows = [[str(name)] + [row[i] or "-" for i in keep] for name, row in cells.items()]
  widths = [max(len(r[j]) for r in [headers] + rows) for j in range(len(headers))]

  def line(values: list[str]) -> str:
    return "  ".join([values[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(values[1:], widths[1:])])

  out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]
  if any("<=" in v for r in rows for v in r):
    out.append("<= : the curve stays above 1/7 up to Nyquist; the resolution is at least this good.")
  return "\n".join(out)
