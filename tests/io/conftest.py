"""Fixtures for the io tests."""
import numpy as np
import pytest


@pytest.fixture
def vol():
  """A (5, 6, 7) uint16 volume whose values encode their (z, y, x) position."""
  z, y, x = np.meshgrid(np.arange(5), np.arange(6), np.arange(7), indexing="ij")
  return (z * 100 + y * 10 + x).astype(np.uint16)
