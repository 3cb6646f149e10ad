"""Reading TIFF volumes: real EM data, spacing from each kind of metadata, lazy reads."""
import pickle

import numpy as np
import pytest
import tifffile

from io_helpers import SAMPLE
from shared_data import shared_file
from jax_iso import io


@pytest.mark.parametrize("name, shape, spacing", [
    ("isbi2012_sstem_train.tif", (30, 512, 512), (50.0, 4.0, 4.0)),
    ("cremi_sstem_crop_isovem_val.tif", (32, 192, 320), (40.0, 4.0, 4.0)),
    ("drosophila_l3_vnc_sstem_stack1.tif", (20, 1024, 1024), (50.0, 4.6, 4.6)),
    ("epfl_hippocampus_fibsem_zsub8_isovem_test.tif", (32, 256, 256), (40.0, 5.0, 5.0)),  # zlib
])
def test_real_em_tiffs_read_with_json_spacing(name, shape, spacing):
  path = shared_file(name)
  with io.open_volume(path) as src:
    assert src.shape == shape
    assert src.dtype == np.uint8
    assert src.spacing == spacing
    assert src.spacing_origin == "JSON description"
    np.testing.assert_array_equal(src[3:5, 100:120, -9:], tifffile.imread(path)[3:5, 100:120, -9:])


def test_real_fibsem_fixture_lazy_slabs_equal_full_read(fibsem_iso):
  data, spacing = io.read_volume(fibsem_iso)
  n = data.shape[0]
  assert data.shape == (n, n, n) and n in (160, 250) and spacing == (10.0, 10.0, 10.0)
  with io.open_volume(fibsem_iso) as src:
    slabs = np.concatenate([src[z:z + 64] for z in range(0, n, 64)])
    np.testing.assert_array_equal(slabs, data)


def test_shipped_sample_spacing_comes_from_imagej_metadata():
  with io.open_volume(SAMPLE) as src:
    assert src.shape == (160, 160, 160)
    assert src.spacing == (10.0, 10.0, 10.0)
    assert src.spacing_origin == "ImageJ metadata"


def test_imagej_units_are_converted_to_nm(tmp_path):
  path = tmp_path / "nm.tif"
  tifffile.imwrite(path, np.zeros((5, 6, 7), np.uint8), imagej=True, resolution=(1 / 4.6, 1 / 4.6),
                   metadata={"axes": "ZYX", "spacing": 45.0, "unit": "nm"})
  assert io.open_volume(path).spacing == (45.0, 4.6, 4.6)


def test_imagej_without_unit_has_no_spacing(tmp_path):
  path = tmp_path / "pixels.tif"
  tifffile.imwrite(path, np.zeros((5, 6, 7), np.uint8), imagej=True, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    assert src.spacing is None and src.spacing_origin is None


def test_ome_xml_spacing(tmp_path, vol):
  path = tmp_path / "ome.tif"
  tifffile.imwrite(path, vol, ome=True, metadata={
      "axes": "ZYX", "PhysicalSizeX": 0.004, "PhysicalSizeY": 0.005, "PhysicalSizeZ": 40.0,
      "PhysicalSizeZUnit": "nm"})
  with io.open_volume(path) as src:
    assert src.spacing == (40.0, 5.0, 4.0)
    assert src.spacing_origin == "OME-XML"
    np.testing.assert_array_equal(src.read(), vol)


def test_json_spacing_key_with_unit(tmp_path, vol):
  path = tmp_path / "json.tif"
  tifffile.imwrite(path, vol, metadata={"axes": "ZYX", "spacing": [0.05, 0.004, 0.004], "unit": "um"})
  assert io.open_volume(path).spacing == (50.0, 4.0, 4.0)


def test_resolution_tags_give_only_lateral_spacing(tmp_path, vol):
  path = tmp_path / "res.tif"
  tifffile.imwrite(path, vol, resolution=(250, 250), resolutionunit=5, metadata=None)
  with io.open_volume(path) as src:
    assert src.spacing is None
    assert src.lateral_spacing == (4.0, 4.0)


def test_compressed_tiff_is_decoded_once_and_reads_boxes(tmp_path, vol):
  path = tmp_path / "zlib.tif"
  tifffile.imwrite(path, vol, compression="zlib", metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    np.testing.assert_array_equal(src[1:4, ::2, -1], vol[1:4, ::2, -1])
    np.testing.assert_array_equal(src.read(), vol)


def test_lazy_indexing_matches_numpy(tmp_path, vol):
  path = tmp_path / "v.tif"
  tifffile.imwrite(path, vol, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    for key in [(2,), (slice(None), 3), (-1, slice(1, 5), slice(None, None, -2)), (Ellipsis, 6),
                (slice(4, 1, -1), 0, slice(2, 2)), ()]:
      np.testing.assert_array_equal(src[key], vol[key])
    assert src[1:3].dtype == np.uint16 and src[1:3].flags.c_contiguous
    assert src[4, 5, 6].shape == () and src[4, 5, 6] == vol[4, 5, 6]
    with pytest.raises(IndexError):
      src[5]


def test_big_endian_and_float64_are_presented_natively(tmp_path, vol):
  be = tmp_path / "be.tif"
  tifffile.imwrite(be, vol.astype(">u2"), byteorder=">", metadata={"axes": "ZYX"})
  with io.open_volume(be) as src:
    assert src.dtype == np.dtype(np.uint16) and src.read().dtype.isnative
    np.testing.assert_array_equal(src.read(), vol)
  f64 = tmp_path / "f64.tif"
  tifffile.imwrite(f64, vol / 7.0, metadata={"axes": "ZYX"})
  with io.open_volume(f64) as src:
    assert src.dtype == np.float32 and src[0].dtype == np.float32
    np.testing.assert_allclose(src.read(), vol / 7.0, rtol=1e-7)


def test_channel_and_timepoint_selection(tmp_path):
  data = np.arange(2 * 5 * 3 * 6 * 7, dtype=np.uint8).reshape(2, 5, 3, 6, 7)  # TZCYX
  path = tmp_path / "tzcyx.tif"
  tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX"})
  with io.open_volume(path, channel=2, timepoint=1) as src:
    assert src.shape == (5, 6, 7)
    np.testing.assert_array_equal(src.read(), data[1, :, 2])
    np.testing.assert_array_equal(src[1:3, 4], data[1, 1:3, 2, 4])


def test_frames_without_slices_count_as_z(tmp_path, vol):
  path = tmp_path / "frames.tif"
  tifffile.imwrite(path, vol, imagej=True, resolution=(250, 250), metadata={"axes": "TYX", "unit": "micron"})
  with io.open_volume(path) as src:
    np.testing.assert_array_equal(src.read(), vol)
    assert src.spacing is None and src.lateral_spacing == (4.0, 4.0)  # the frame interval is no Z spacing


def test_source_pickles_by_reopening(tmp_path, vol):
  path = tmp_path / "v.tif"
  tifffile.imwrite(path, vol, metadata={"axes": "ZYX"})
  with io.open_volume(path) as src:
    clone = pickle.loads(pickle.dumps(src))
  np.testing.assert_array_equal(clone[2:4], vol[2:4])
  clone.close()
  with pytest.raises(ValueError, match="closed"):
    clone[0]


def test_imagej_images_without_slices_count_as_z(tmp_path, vol):
  path = tmp_path / "images.tif"  # what old ImageJ versions write for a plain stack: axes 'IYX'
  tifffile.imwrite(path, vol, description="ImageJ=1.53t\nimages=5\nunit=micron\nspacing=0.05\n", metadata=None,
                   resolution=(250, 250))
  with io.open_volume(path) as src:
    assert src.axes == "IYX" and src.shape == (5, 6, 7)
    assert src.spacing == (50.0, 4.0, 4.0)
    np.testing.assert_array_equal(src.read(), vol)
