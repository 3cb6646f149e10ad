"""Fixtures for the metrics tests: the real isotropic FIB-SEM volume and independent numpy references."""
from __future__ import annotations

import functools

import numpy as np
import pytest
import tifffile


@functools.lru_cache(maxsize=2)
def _read(path: str) -> np.ndarray:
  vol = tifffile.imread(path)
  vol.setflags(write=False)
  return vol


@pytest.fixture
def em_uint8(fibsem_iso) -> np.ndarray:
  """The real 250^3 uint8 FIB-SEM volume (10 nm isotropic), read once per session, read-only."""
  return _read(str(fibsem_iso))


@pytest.fixture
def em_crop(em_uint8) -> np.ndarray:
  """A non-cubic real crop [40, 48, 36] in [0, 1] (float32); odd / even sizes catch axis mix-ups."""
  return em_uint8[100:140, 60:108, 90:126].astype(np.float32) / 255.0


@pytest.fixture
def rng() -> np.random.Generator:
  return np.random.default_rng(1234)
