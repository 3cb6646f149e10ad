"""A small real anisotropic volume (x4 sections of the shipped FIB-SEM sample) and the tiny U-Net config."""
import pytest

from configs import unet
from shared_data import write_sample_sections


@pytest.fixture(scope="session")
def aniso_path(tmp_path_factory):
  """48 x 64 x 64 uint8 sections (x4, 40 nm) of the real 10 nm FIB-SEM sample, ImageJ TIFF with spacing."""
  return write_sample_sections(tmp_path_factory.mktemp("data") / "aniso.tif", 64)


@pytest.fixture
def tiny_config(aniso_path):
  config = unet.get_config("tiny")
  config.data.path = str(aniso_path)
  return config
