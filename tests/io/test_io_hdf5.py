"""HDF5 inputs: the CREMI convention, other voxel-size attributes, dataset choice, lazy boxes, bad files."""
import json
import pickle

import h5py
import numpy as np
import pytest

from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io import hdf5


def _cremi(path, vol, resolution=(40.0, 4.0, 4.0)):
  """A file laid out as CREMI's: volumes/raw with `resolution` (z, y, x nm) and a uint64 label volume."""
  with h5py.File(path, "w") as f:
    raw = f.create_dataset("volumes/raw", data=vol, chunks=(2, 3, 4))
    raw.attrs["resolution"] = np.asarray(resolution)
    raw.attrs["offset"] = np.zeros(3)
    f.create_dataset("volumes/labels/neuron_ids", data=vol.astype(np.uint64))
    f.create_dataset("annotations/ids", data=np.arange(4))
  return path


def test_cremi_file_reads_volumes_raw_with_its_resolution(tmp_path, vol):
  path = _cremi(tmp_path / "sample_A.hdf", vol)
  with io.open_volume(path) as src:
    assert src.shape == vol.shape and src.dtype == np.uint16
    assert src.spacing == (40.0, 4.0, 4.0) and "HDF5 attributes of /volumes/raw" in src.spacing_origin
    np.testing.assert_array_equal(src.read(), vol)
    np.testing.assert_array_equal(src[1:4, ::-2, 5], vol[1:4, ::-2, 5])   # a box, flipped and strided
    np.testing.assert_array_equal(src[-1], vol[-1])
  with io.open_volume(f"{path}/volumes/raw") as src:                       # the dataset named in the path
    np.testing.assert_array_equal(src[2:3], vol[2:3])


def test_reads_only_the_requested_box(tmp_path, vol, monkeypatch):
  path = _cremi(tmp_path / "c.h5", vol)
  seen = []
  read = hdf5.Hdf5Array.read
  monkeypatch.setattr(hdf5.Hdf5Array, "read", lambda self, key, **kw: seen.append(key) or read(self, key, **kw))
  with io.open_volume(path) as src:
    block = src[1:3]
  assert block.shape == (2, 6, 7) and seen == [(slice(1, 3, 1), slice(0, 6, 1), slice(0, 7, 1))]


def test_element_size_um_in_micrometres_and_unit_attribute(tmp_path, vol):
  path = tmp_path / "fiji.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("data", data=vol).attrs["element_size_um"] = [0.05, 0.005, 0.005]
    f.create_dataset("other", data=vol[:1, :1]).attrs["resolution"] = [1, 1, 1]     # not 3D: ignored
  assert io.open_volume(path).spacing == (50.0, 5.0, 5.0)
  with h5py.File(path, "a") as f:
    f["data"].attrs["resolution"] = [0.03, 0.004, 0.004]
    f["data"].attrs["unit"] = "micrometer"
  assert io.open_volume(path).spacing == (30.0, 4.0, 4.0)                       # resolution wins


def test_ilastik_axistags_order_the_axes(tmp_path, vol):
  path = tmp_path / "ilastik.h5"
  xyzc = vol.transpose(2, 1, 0)[..., None]
  tags = {"axes": [{"key": k, "typeFlags": 2, "resolution": 0, "description": ""} for k in "xyzc"]}
  with h5py.File(path, "w") as f:
    f.create_dataset("exported_data", data=xyzc).attrs["axistags"] = json.dumps(tags)
  with io.open_volume(path) as src:
    assert src.shape == vol.shape and src.spacing is None
    np.testing.assert_array_equal(src.read(), vol)


def test_picks_the_only_volume_and_pickles_for_workers(tmp_path, vol):
  path = tmp_path / "one.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("deep/inside/stack", data=vol)
    f.create_dataset("notes", data=np.arange(3))
  src = io.open_volume(path)
  again = pickle.loads(pickle.dumps(src))
  np.testing.assert_array_equal(again[1], vol[1])
  again.close()
  src.close()
  with pytest.raises(ValueError, match="closed"):
    src.read()


def _message(match, path):
  with pytest.raises(UserError, match=match) as err:
    io.open_volume(path)
  assert "\n" not in str(err.value)
  return str(err.value)


def test_several_volumes_name_them_all(tmp_path, vol):
  path = tmp_path / "two.h5"
  with h5py.File(path, "w") as f:
    f.create_dataset("a", data=vol)
    f.create_dataset("b/c", data=vol[None])
  message = _message(r"two.h5 holds 2 volumes: a \(5 x 6 x 7 uint16\), b/c \(1 x 5 x 6 x 7 uint16\); pick one "
                     r"with dataset=NAME", path)
  assert f"{path}/NAME" in message


def test_unknown_dataset_group_and_no_volume(tmp_path, vol):
  path = _cremi(tmp_path / "c.h5", vol)
  _message(r"dataset 'volumes/rwa' of .*c.h5 is not in the file; the volumes in it: volumes/labels/neuron_ids "
           r"\(5 x 6 x 7 uint64\), volumes/raw", f"{path}/volumes/rwa")
  _message(r"dataset 'volumes' of .*is a group, not a dataset", f"{path}/volumes")
  _message(r"has dtype uint64; convert it", f"{path}/volumes/labels/neuron_ids")
  flat = tmp_path / "flat.h5"
  with h5py.File(flat, "w") as f:
    f.create_dataset("image", data=vol[0])
  _message(r"flat.h5 holds no dataset with 3 or more dimensions; .*one 3D dataset", flat)


def test_with_dataset_joins_once(tmp_path, vol):
  path = str(_cremi(tmp_path / "c.h5", vol))
  assert hdf5.with_dataset(path, "volumes/raw") == f"{path}/volumes/raw"
  assert hdf5.with_dataset(path, None) == path
  tif = tmp_path / "v.tif"
  io.write_volume(tif, vol, None)
  assert hdf5.with_dataset(str(tif), "volumes/raw") == str(tif)
  with pytest.raises(UserError, match="give it once"):
    hdf5.with_dataset(f"{path}/volumes/raw", "volumes/raw")
  assert hdf5.split(f"{path}/volumes/raw") == (path, "volumes/raw")
  assert hdf5.split(str(tmp_path / "nothing.h5" / "x")) is None
