"""Writing volumes: exact round trips, Fiji-readable ImageJ metadata, OME-Zarr pyramids, atomic commits."""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile

from io_helpers import ROOT, hidden, read_json
from jax_iso import io
from jax_iso.io import ome_zarr_sink

DTYPES = [np.uint8, np.uint16, np.float32]


def _data(shape, dtype, seed=0):
  rng = np.random.default_rng(seed)
  if np.issubdtype(dtype, np.integer):
    return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
  return (rng.standard_normal(shape) * 100).astype(dtype)


@pytest.mark.parametrize("ext", [".tif", ".ome.zarr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_values_and_spacing_exact(tmp_path, ext, dtype):
  data = _data((6, 70, 90), dtype)
  path = tmp_path / f"out{ext}"
  io.write_volume(path, data, (45.0, 4.6, 3.7))
  with io.open_volume(path) as src:
    assert src.dtype == dtype and src.shape == data.shape
    assert src.spacing == (45.0, 4.6, 3.7)
    np.testing.assert_array_equal(src.read(), data)
  assert hidden(tmp_path) == []


def test_tiff_is_an_imagej_hyperstack_fiji_reads(tmp_path):
  path = tmp_path / "iso.tif"
  io.write_volume(path, _data((4, 8, 9), np.uint16), (50.0, 4.0, 5.0), description={"method": "x", "n": 3})
  with tifffile.TiffFile(path) as tif:
    meta = tif.imagej_metadata
    assert tif.is_imagej and tif.series[0].axes == "ZYX"
    assert meta["spacing"] == pytest.approx(0.05) and meta["unit"] == "micron" and meta["slices"] == 4
    assert tif.pages[0].tags["XResolution"].value == (200, 1)  # px per micron
    assert tif.pages[0].tags["YResolution"].value == (250, 1)
    assert '"method": "x"' in meta["Info"]
  assert io.open_volume(path).spacing_origin == "ImageJ metadata"


def test_tiff_without_spacing_has_no_calibration(tmp_path):
  path = tmp_path / "raw.tif"
  io.write_volume(path, _data((3, 5, 7), np.uint8), None)
  with io.open_volume(path) as src:
    assert src.spacing is None and src.shape == (3, 5, 7)
  assert "unit" not in tifffile.TiffFile(path).imagej_metadata


def test_write_float64_is_stored_as_float32(tmp_path):
  data = np.linspace(0, 1, 3 * 4 * 5).reshape(3, 4, 5)
  io.write_volume(tmp_path / "f.tif", data, (1.0, 1.0, 1.0))
  out, _ = io.read_volume(tmp_path / "f.tif")
  assert out.dtype == np.float32
  np.testing.assert_array_equal(out, data.astype(np.float32))


@pytest.mark.parametrize("ext", [".tif", ".zarr"])
def test_streamed_boxes_in_any_order(tmp_path, ext):
  data = _data((9, 40, 33), np.uint16, seed=1)
  path = tmp_path / f"s{ext}"
  with io.create_volume(path, data.shape, np.uint16, (8.0, 8.0, 8.0)) as sink:
    for z0 in (6, 0, 3):
      for y0 in (20, 0):
        sink[z0:z0 + 3, y0:y0 + 20, :] = data[z0:z0 + 3, y0:y0 + 20]
    assert not os.path.exists(path)  # nothing at the target before the commit
  np.testing.assert_array_equal(io.read_volume(path)[0], data)


def test_sink_rejects_float_into_integer_volume(tmp_path):
  with io.create_volume(tmp_path / "u.tif", (2, 3, 4), np.uint8, None) as sink:
    with pytest.raises(TypeError, match="from_unit"):
      sink[0] = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match="do not fit"):
      sink[0] = np.full((3, 4), 300)
    sink[1] = np.arange(12).reshape(3, 4)  # int64 values in range are fine
  np.testing.assert_array_equal(io.read_volume(tmp_path / "u.tif")[0][1], np.arange(12).reshape(3, 4))


def _numpy_mean_downsample(x, factors):
  """Mean over factor-sized blocks; edge blocks average the voxels they have."""
  x = x.astype(np.float64)
  pads = [(0, -n % f) for n, f in zip(x.shape, factors)]
  total, count = np.pad(x, pads), np.pad(np.ones_like(x), pads)
  shape = [v for n, f in zip(total.shape, factors) for v in (n // f, f)]
  return total.reshape(shape).sum((1, 3, 5)) / count.reshape(shape).sum((1, 3, 5))


def test_ome_zarr_pyramid_metadata_and_levels(tmp_path):
  data = _data((10, 260, 300), np.uint8, seed=2)
  path = tmp_path / "p.ome.zarr"
  io.write_volume(path, data, (40.0, 4.0, 4.0), description={"model": "unet"})
  assert read_json(path / ".zgroup") == {"zarr_format": 2}
  attrs = read_json(path / ".zattrs")
  assert attrs["jax_iso"] == {"description": {"model": "unet"}}
  ms = attrs["multiscales"][0]
  assert ms["version"] == "0.4"
  assert ms["axes"] == [{"name": a, "type": "space", "unit": "nanometer"} for a in "zyx"]
  scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
  # 40 nm z is coarser than 4 * 1.5: only y, x halve; z halves once y, x reach 8, 16, 32 nm (> 40 / 1.5).
  assert scales == [[40.0, 4.0, 4.0], [40.0, 8.0, 8.0], [40.0, 16.0, 16.0]]
  assert [d["path"] for d in ms["datasets"]] == ["0", "1", "2"]
  assert read_json(path / "1" / ".zarray")["shape"] == [10, 130, 150]
  assert read_json(path / "0" / ".zarray")["compressor"]["cname"] == "zstd"
  level0 = io.read_volume(path / "0")[0]
  level1 = io.read_volume(path / "1")[0]
  np.testing.assert_array_equal(level0, data)
  np.testing.assert_array_equal(level1, np.rint(_numpy_mean_downsample(data, (1, 2, 2))).astype(np.uint8))
  assert io.open_volume(path / "1").spacing == (40.0, 8.0, 8.0)


def test_ome_zarr_float_pyramid_halves_all_axes_when_isotropic(tmp_path):
  data = _data((33, 130, 129), np.float32, seed=3)
  path = tmp_path / "f.zarr"
  io.write_volume(path, data, (10.0, 10.0, 10.0))
  ms = read_json(path / ".zattrs")["multiscales"][0]
  assert [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]] == [[10.0] * 3, [20.0] * 3]
  level1 = io.read_volume(path / "1")[0]
  assert level1.shape == (17, 65, 65)
  np.testing.assert_allclose(level1, _numpy_mean_downsample(data, (2, 2, 2)), rtol=1e-5, atol=1e-4)


def test_plan_levels_stops_at_five_levels():
  levels = ome_zarr_sink.plan_levels((2000, 4096, 4096), (10.0, 10.0, 10.0))
  assert len(levels) == 5 and levels[-1][0] == (125, 256, 256)
  assert ome_zarr_sink.plan_levels((5, 100, 100), None) == [((5, 100, 100), (1.0, 1.0, 1.0), (1, 1, 1))]


def test_ome_zarr_readable_by_zarr_python(tmp_path):
  zarr = pytest.importorskip("zarr")
  data = _data((4, 130, 140), np.uint16, seed=4)
  io.write_volume(tmp_path / "z.ome.zarr", data, (30.0, 5.0, 5.0))
  group = zarr.open_group(str(tmp_path / "z.ome.zarr"), mode="r")
  np.testing.assert_array_equal(group["0"][:], data)
  assert group["1"].shape == (4, 65, 70)


@pytest.mark.parametrize("ext", [".tif", ".ome.zarr"])
def test_exception_inside_with_leaves_no_output_and_no_temp(tmp_path, ext):
  path = tmp_path / f"o{ext}"
  with pytest.raises(RuntimeError, match="boom"):
    with io.create_volume(path, (4, 5, 6), np.uint8, (1.0, 1.0, 1.0)) as sink:
      sink[0:2] = 7
      assert hidden(tmp_path)  # the temp exists while writing
      raise RuntimeError("boom")
  assert os.listdir(tmp_path) == []


def _tree_bytes(path):
  if os.path.isfile(path):
    return open(path, "rb").read()
  return {os.path.relpath(os.path.join(d, f), path): open(os.path.join(d, f), "rb").read()
          for d, _, files in os.walk(path) for f in files}


@pytest.mark.parametrize("ext", [".tif", ".zarr"])
def test_existing_output_untouched_on_error_and_replaced_on_commit(tmp_path, ext):
  path = tmp_path / f"o{ext}"
  io.write_volume(path, np.full((3, 4, 5), 1, np.uint8), (1.0, 1.0, 1.0))
  before = _tree_bytes(path)
  sink = io.create_volume(path, (3, 4, 5), np.uint8, (2.0, 2.0, 2.0))
  sink[...] = 9
  sink.abort()
  assert _tree_bytes(path) == before and hidden(tmp_path) == []
  with io.create_volume(path, (3, 4, 5), np.uint8, (2.0, 2.0, 2.0)) as sink:
    sink[...] = 9
    assert _tree_bytes(path) == before
  data, spacing = io.read_volume(path)
  assert (data == 9).all() and spacing == (2.0, 2.0, 2.0)
  assert hidden(tmp_path) == []


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from jax_iso import io
    sink = io.create_volume(sys.argv[1], (64, 64, 64), np.uint8, (1.0, 1.0, 1.0))
    sink[:32] = 5
    print("written", flush=True)
    time.sleep(60)
""")


@pytest.mark.parametrize("ext", [".tif", ".ome.zarr"])
def test_sigkill_mid_write_leaves_nothing_at_the_target(tmp_path, ext):
  path = tmp_path / f"killed{ext}"
  proc = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(path)], stdout=subprocess.PIPE,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
  try:
    assert proc.stdout.readline().strip() == b"written"
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  assert not os.path.exists(path)
  leftovers = hidden(tmp_path)
  assert len(leftovers) == 1 and leftovers[0].startswith(f".killed{ext}.partial-{proc.pid}-")
