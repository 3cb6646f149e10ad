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
