"""Input paths: the file on disk behind a volume path (`io.input_file`), outputs inside an input folder, and voxel
sizes too large to be real."""
import h5py
import numpy as np
import pytest
import tifffile

from io_helpers import write_ts
from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io.spacing import valid_spacing


def _h5(path):
  with h5py.File(path, "w") as f:
    f.create_dataset("volumes/raw", data=np.zeros((3, 4, 5), np.uint8))
  return path


def test_input_file_of_each_kind_of_path(tmp_path):
  h5 = _h5(tmp_path / "f.h5")
  assert io.input_file(f"{h5}/volumes/raw") == str(h5)
  assert io.input_file(h5) == str(h5)
  write_ts("zarr", tmp_path / "a.zarr", np.zeros((4, 6, 8), np.uint8))
  assert io.input_file(tmp_path / "a.zarr" / ".zarray") == str(tmp_path / "a.zarr")
  assert io.input_file(f"{tmp_path / 'a.zarr'}/") == str(tmp_path / "a.zarr")
  assert io.input_file("in.tif") == "in.tif"
  assert io.input_file("missing/x.tif") == "missing/x.tif"
  assert io.input_file(".zarray") == ".zarray"  # no such file here: nothing to resolve


def test_input_file_is_where_open_volume_reads(tmp_path):
  write_ts("n5", tmp_path / "v.n5", np.zeros((8, 6, 4), np.uint8))
  named = tmp_path / "v.n5" / "attributes.json"
  with io.open_volume(named) as src:
    assert src.path == io.input_file(named) == str(tmp_path / "v.n5")


@pytest.mark.parametrize("folder", ["in.ome.zarr", "in.n5", "in.precomputed"])
def test_output_inside_an_input_folder_is_refused(tmp_path, folder):
  source = tmp_path / folder
  (source / "sub").mkdir(parents=True)
  for output in (source / "out.tif", source / "sub" / "out.ome.zarr"):
    with pytest.raises(UserError) as err:
      io.check_output_path(output, inputs=[str(source)])
    assert str(err.value) == f"output {output} is inside the input folder {source}; choose a path outside it"
  (source / "info").write_text("{}")
  with pytest.raises(UserError, match="is inside the input folder"):  # given through its metadata file
    io.check_output_path(source / "out.tif", inputs=[str(source / "info")])
  io.check_output_path(tmp_path / "out.tif", inputs=[str(source)])  # beside it is fine


def test_hdf5_dataset_inputs_compare_as_their_file(tmp_path):
  h5 = _h5(tmp_path / "f.h5")
  io.check_output_path(tmp_path / "out.tif", inputs=[f"{h5}/volumes/raw"])
  folder = tmp_path / "vol.zarr"
  folder.mkdir()
  (folder / ".zgroup").write_text("{}")
  inner = _h5(folder / "g.h5")
  with pytest.raises(UserError, match="contains the input"):
    io.check_output_path(folder, inputs=[f"{inner}/volumes/raw"])


@pytest.mark.parametrize("text, shown", [("1e308,10,10", "1e308"), ("40,inf,4", "inf"), ("40,4,1e9", "1e9"),
                                         ("40,-4,4", "-4")])
def test_parse_spacing_refuses_values_out_of_range(text, shown):
  with pytest.raises(UserError) as err:
    io.parse_spacing(text)
  assert str(err.value) == (f"spacing '{text}' has {shown}, not a positive number below 1e9 nm (1 m); give the "
                            "voxel size in nm as z,y,x (e.g. spacing=40,4,4 for 40 nm sections of 4 nm pixels)")


def test_parse_spacing_accepts_up_to_just_below_a_metre():
  assert io.parse_spacing("999999999,4,4") == (999999999.0, 4.0, 4.0)


def test_valid_spacing_treats_a_metre_or_more_as_unknown():
  assert valid_spacing((1e9, 4, 4)) is None
  assert valid_spacing((4, 4, float("inf"))) is None
  assert valid_spacing((9e8, 4, 4)) == (9e8, 4.0, 4.0)


def test_absurd_spacing_in_a_header_is_unknown(tmp_path):
  path = tmp_path / "absurd.tif"  # ImageJ: z spacing of 1e12 micron
  tifffile.imwrite(path, np.zeros((3, 8, 8), np.uint8), imagej=True, resolution=(250.0, 250.0),
                   metadata={"axes": "ZYX", "spacing": 1e12, "unit": "micron"})
  with io.open_volume(path) as src:
    assert src.spacing is None and src.lateral_spacing == (4.0, 4.0)
  h5 = tmp_path / "absurd.h5"
  with h5py.File(h5, "w") as f:
    f.create_dataset("raw", data=np.zeros((3, 4, 5), np.uint8)).attrs["resolution"] = [4e9, 4, 4]
  with io.open_volume(h5) as src:
    assert src.spacing is None
