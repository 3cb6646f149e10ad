"""Shared test setup: a persistent XLA compilation cache and paths to the real EM data."""
import os

import jax
import pytest

from jax_iso.samples import FIBSEM_10NM

from shared_data import ROOT, SHARED_DATA, shared_file

jax.config.update("jax_compilation_cache_dir",
                  os.environ.get("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
os.environ.setdefault("JAX_ISO_PROGRESS", "0")



@pytest.fixture
def fibsem_iso():
  """Path of a real isotropic 10 nm FIB-SEM volume: the 250^3 sample1 from ../shared/data, or, where that is
  absent, the 160^3 crop of it shipped in the package (so these tests never skip)."""
  path = SHARED_DATA / "flyem_medulla_fibsem_10nm_iso_sample1.tif"
  return path if path.exists() else FIBSEM_10NM


@pytest.fixture
def sstem_aniso():
  """Path of a real anisotropic ssTEM volume (ISBI 2012, 30 x 512 x 512 uint8, 50 x 4 x 4 nm)."""
  return shared_file("isbi2012_sstem_train.tif")
