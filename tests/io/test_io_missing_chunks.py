"""Absent zarr/N5/precomputed chunks: counted at open, a one-line warning or a UserError (`io.missing_chunks`);
jax_iso's own OME-Zarr outputs store every chunk."""
import os
import pickle

import numpy as np
import pytest
import tensorstore as ts

from io_helpers import read_json, write_json
from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io import census

DATA = np.arange(1, 4 * 6 * 8 + 1, dtype=np.uint8).reshape(4, 6, 8)  # (z, y, x); chunks (2, 3, 4): a 2x2x2 grid
_V3 = {"shape": [4, 6, 8], "data_type": "uint8",
       "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3, 4]}}}


def _write(path, driver, metadata, data=DATA):
  store = ts.open({"driver": driver, "kvstore": {"driver": "file", "path": str(path)}, "metadata": metadata},
                  create=True).result()
  store[...] = data


def _zarr(path, **extra):
  _write(path, "zarr", {"shape": [4, 6, 8], "chunks": [2, 3, 4], "dtype": "|u1", **extra})


def _zarr3(path, encoding=None):
  _write(path, "zarr3", {**_V3, **({"chunk_key_encoding": encoding} if encoding else {})})


def _n5(path):
  _write(path, "n5", {"dimensions": [8, 6, 4], "blockSize": [4, 3, 2], "dataType": "uint8",
                      "compression": {"type": "raw"}}, DATA.T)


def _precomputed(path):
  store = ts.open({"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": str(path)},
                   "multiscale_metadata": {"type": "image", "data_type": "uint8", "num_channels": 1},
                   "scale_metadata": {"size": [8, 6, 4], "chunk_size": [4, 3, 2], "resolution": [4, 4, 40],
                                      "encoding": "raw", "voxel_offset": [-2, 0, 10]}}, create=True).result()
  store[...] = DATA.T[..., None]


# (writer, chunk (z, y, x) = (1, 0, 1) as a file name inside the array folder)
LAYOUTS = {
    "zarr v2 '.'": (_zarr, "1.0.1"),
    "zarr v2 '/'": (lambda p: _zarr(p, dimension_separator="/"), "1/0/1"),
    "zarr v3 default '/'": (_zarr3, "c/1/0/1"),
    "zarr v3 default '.'": (lambda p: _zarr3(p, {"name": "default", "configuration": {"separator": "."}}),
                            "c.1.0.1"),
    "zarr v3 v2 '.'": (lambda p: _zarr3(p, {"name": "v2"}), "1.0.1"),
    "zarr v3 v2 '/'": (lambda p: _zarr3(p, {"name": "v2", "configuration": {"separator": "/"}}), "1/0/1"),
    "n5": (_n5, "1/0/1"),  # x, y, z
    "precomputed": (_precomputed, "4_4_40/2-6_0-3_12-14"),  # x 2-6, y 0-3, z 12-14 (offset -2, 0, 10)
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_complete_volumes_open_quietly_under_error(tmp_path, capsys, layout):
  write, _ = LAYOUTS[layout]
  write(tmp_path / "vol")
  with io.missing_chunks("error"), io.open_volume(tmp_path / "vol") as src:
    np.testing.assert_array_equal(src.read(), DATA)
  assert capsys.readouterr().err == ""


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_absent_chunk_is_refused_under_error(tmp_path, layout):
  write, key = LAYOUTS[layout]
  write(tmp_path / "vol")
  os.remove(tmp_path / "vol" / key)
  with io.missing_chunks("error"), pytest.raises(UserError) as err:
    io.open_volume(tmp_path / "vol")
  assert str(err.value) == (f"{tmp_path / 'vol'}: 1 of 8 chunks are absent (first (z, y, x): (1, 0, 1)); copy it "
                            "again completely, or give missing_chunks=warn to read them as the fill value 0")


@pytest.mark.parametrize("layout", ["zarr v2 '/'", "n5", "precomputed"])
def test_absent_chunks_warn_once_and_read_as_fill(tmp_path, capsys, layout):
  write, key = LAYOUTS[layout]
  write(tmp_path / "vol")
  os.remove(tmp_path / "vol" / key)
  with io.open_volume(tmp_path / "vol") as src:
    data = src.read()
  expected = DATA.copy()
  expected[2:4, 0:3, 4:8] = 0
  np.testing.assert_array_equal(data, expected)
  assert capsys.readouterr().err == (
      f"jax_iso: warning: {tmp_path / 'vol'}: 1 of 8 chunks are absent and read as the fill value 0 (normal where "
      "the volume is empty; an incomplete copy otherwise); missing_chunks=error refuses such input\n")
  with io.open_volume(tmp_path / "vol") as src:
    pickle.loads(pickle.dumps(src)).close()  # reopened (as in a worker): not counted again
  assert capsys.readouterr().err == ""


def test_sharded_zarr3_counts_shards(tmp_path):
  path = tmp_path / "sharded"
  _write(path, "zarr3", {**_V3, "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 6, 4]}},
                         "codecs": [{"name": "sharding_indexed", "configuration": {"chunk_shape": [1, 3, 2]}}]})
  with io.missing_chunks("error"), io.open_volume(path) as src:
    np.testing.assert_array_equal(src.read(), DATA)
  os.remove(path / "c" / "0" / "0" / "1")
  with io.missing_chunks("error"), pytest.raises(UserError, match=r"1 of 4 chunks are absent \(first \(z, y, x\): "
                                                                  r"\(0, 0, 1\)\)"):
    io.open_volume(path)


def test_error_names_a_few_missing_chunks_and_the_fill_value(tmp_path):
  path = tmp_path / "vol"
  _zarr(path, fill_value=7)
  for key in ("0.0.0", "0.0.1", "0.1.0", "0.1.1", "1.0.0", "1.1.1"):
    os.remove(path / key)
  with io.missing_chunks("error"), pytest.raises(UserError) as err:
    io.open_volume(path)
  assert ("6 of 8 chunks are absent (first (z, y, x): (0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1), ...)"
          in str(err.value))
  assert str(err.value).endswith("the fill value 7")


def test_ome_zarr_with_absent_chunks_names_its_array(tmp_path):
  path = tmp_path / "img.ome.zarr"
  io.write_volume(path, np.ones((10, 130, 70), np.uint8), (8.0, 8.0, 8.0))
  os.remove(path / "0" / "0" / "1" / "0")
  with io.missing_chunks("error"), pytest.raises(UserError, match=r"img.ome.zarr/0: 1 of 6 chunks are absent "
                                                                  r"\(first \(z, y, x\): \(0, 1, 0\)\)"):
    io.open_volume(path)


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_own_ome_zarr_outputs_store_every_chunk(tmp_path, capsys, version):
  data = np.zeros((80, 260, 140), np.uint8)
  data[70:] = 7  # all but one Z chunk row equal the fill value
  path = tmp_path / "out.ome.zarr"
  with io.ome_version(version):
    io.write_volume(path, data, (8.0, 8.0, 8.0))
  with io.missing_chunks("error"), io.open_volume(path) as src:
    np.testing.assert_array_equal(src.read(), data)
  level0 = census.census(str(path / "0"), "zarr" if version == "0.4" else "zarr3")
  assert level0.grid == (2, 5, 3) and level0.missing == 0
  level1 = census.census(str(path / "1"), "zarr" if version == "0.4" else "zarr3")
  assert level1.grid == (1, 3, 2) and level1.missing == 0
  assert capsys.readouterr().err == ""


def test_policy_values(tmp_path):
  with pytest.raises(UserError) as err:
    with io.missing_chunks("ignore"):
      pass
  assert str(err.value) == ("missing_chunks=ignore is not a policy jax_iso knows; choose warn (read absent "
                            "chunks as the fill value, with a warning) or error (refuse volumes with absent chunks)")
  path = tmp_path / "vol"
  _zarr(path)
  os.remove(path / "0.0.0")
  with io.missing_chunks("error"):
    with io.missing_chunks(None), pytest.raises(UserError):  # None keeps the policy set outside
      io.open_volume(path)
    with io.missing_chunks("warn"):
      io.open_volume(path).close()
  with pytest.raises(UserError):
    with io.missing_chunks("error"):
      io.open_volume(path)
  io.open_volume(path).close()  # back to the default


def test_grids_too_large_to_list_are_not_counted(tmp_path, monkeypatch):
  path = tmp_path / "vol"
  _zarr(path)
  os.remove(path / "0.0.0")
  monkeypatch.setattr(census, "MAX_GRID", 4)
  assert census.census(str(path), "zarr") is None
  with io.missing_chunks("error"):
    io.open_volume(path).close()


def test_unsharded_precomputed_only(tmp_path):
  path = tmp_path / "pc"
  _precomputed(path)
  info = read_json(path / "info")
  info["scales"][0]["sharding"] = {"@type": "neuroglancer_uint64_sharded_v1"}
  write_json(path / "info", info)
  assert census.census(str(path), "neuroglancer_precomputed") is None
