"""A small real anisotropic volume (x4 sections of the shipped FIB-SEM sample) and the tiny U-Net config."""
import numpy as np
import pytest

from configs import unet
from jax_iso import io
from jax_iso.degrade import simulate_axial
from jax_iso.samples import FIBSEM_10NM


@pytest.fixture(scope="session")
def aniso_path(tmp_path_factory):
  """48 x 64 x 64 uint8 sections (x4, 40 nm) of the real 10 nm FIB-SEM sample, ImageJ TIFF with spacing."""
  vol = io.read_volume(FIBSEM_10NM)[0][:, :64, :64].astype(np.float32) / 255
  sections = np.asarray(simulate_axial(vol, 4.0, axis=0))
  path = tmp_path_factory.mktemp("data") / "aniso.tif"
  io.write_volume(path, np.rint(sections * 255).astype(np.uint8), (40.0, 10.0, 10.0))
  return path


@pytest.fixture
def tiny_config(aniso_path):
  config = unet.get_config("tiny")
  config.data.path = str(aniso_path)
  return config
