"""Output paths and the spacing parser."""
import os

import pytest

from jax_iso import io
from jax_iso.errors import UserError


@pytest.mark.parametrize("path, fmt", [("a.tif", "tiff"), ("b/c.TIFF", "tiff"), ("x.zarr", "ome-zarr"),
                                       ("x.ome.zarr", "ome-zarr"), ("x.ome.zarr/", "ome-zarr")])
def test_output_format(path, fmt):
  assert io.output_format(path) == fmt


@pytest.mark.parametrize("path", ["a.png", "a.h5", "noext", "a.tif.bak", ".zarr"])
def test_output_format_rejects_other_extensions(path):
  with pytest.raises(UserError, match=r"jax_iso writes .tif/.tiff \(ImageJ TIFF\) or .zarr/.ome.zarr"):
    io.output_format(path)


def test_check_output_path_accepts_a_new_file(tmp_path):
  io.check_output_path(tmp_path / "new.tif", inputs=[str(tmp_path / "in.tif")])
  io.check_output_path(str(tmp_path / "new.ome.zarr"))


def test_missing_parent(tmp_path):
  with pytest.raises(UserError, match=r"does not exist; create it \(mkdir -p"):
    io.check_output_path(tmp_path / "missing" / "o.tif")


def test_parent_is_a_file(tmp_path):
  (tmp_path / "file").write_text("x")
  with pytest.raises(UserError, match="is not a directory"):
    io.check_output_path(tmp_path / "file" / "o.tif")


def test_parent_not_writable(tmp_path, monkeypatch):
  monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
  with pytest.raises(UserError, match="no write permission.*choose an output path in a folder you can write"):
    io.check_output_path(tmp_path / "o.tif")


def test_bad_extension(tmp_path):
  with pytest.raises(UserError, match="extension '.png'"):
    io.check_output_path(tmp_path / "o.png")


def test_output_is_the_input(tmp_path):
  src = tmp_path / "in.tif"
  src.write_bytes(b"x")
  with pytest.raises(UserError, match="is the input .*; choose another path"):
    io.check_output_path(src, inputs=[str(src)])
  (tmp_path / "sub").mkdir()
  with pytest.raises(UserError, match="is the input"):  # the same path spelled differently
    io.check_output_path(tmp_path / "sub" / ".." / "in.tif", inputs=[str(src)])


def test_output_is_the_input_through_links(tmp_path):
  src = tmp_path / "in.tif"
  src.write_bytes(b"x")
  (tmp_path / "link.tif").symlink_to(src)
  os.link(src, tmp_path / "hard.tif")
  for alias in ("link.tif", "hard.tif"):
    with pytest.raises(UserError, match="is the input"):
      io.check_output_path(tmp_path / alias, inputs=[str(src)])
  # the input given through the link, the output as the real file
  with pytest.raises(UserError, match="is the input"):
    io.check_output_path(src, inputs=[str(tmp_path / "link.tif")])


def test_output_zarr_containing_the_input(tmp_path):
  (tmp_path / "vol.zarr" / "raw").mkdir(parents=True)
  (tmp_path / "vol.zarr" / ".zgroup").write_text("{}")
  with pytest.raises(UserError, match="contains the input"):
    io.check_output_path(tmp_path / "vol.zarr", inputs=[str(tmp_path / "vol.zarr" / "raw")])


def test_output_over_a_non_zarr_directory(tmp_path):
  (tmp_path / "results.zarr").mkdir()
  (tmp_path / "results.zarr" / "notes.txt").write_text("mine")
  with pytest.raises(UserError, match="not a zarr, and it would be replaced"):
    io.check_output_path(tmp_path / "results.zarr")
  (tmp_path / "d.tif").mkdir()
  with pytest.raises(UserError, match="is an existing directory"):
    io.check_output_path(tmp_path / "d.tif")


@pytest.mark.parametrize("text, expected", [("40,4,4", (40.0, 4.0, 4.0)), (" 50, 4.6 ,4.6 ", (50.0, 4.6, 4.6)),
                                            ("40x4x4", (40.0, 4.0, 4.0)), ("1e1 2 3", (10.0, 2.0, 3.0))])
def test_parse_spacing(text, expected):
  assert io.parse_spacing(text) == expected


@pytest.mark.parametrize("text, match", [("40,4", "has 2 numbers; give three"), ("a,b,c", "is not three numbers"),
                                         ("40,0,4", "not a positive number"), ("40,-4,4", "not a positive"),
                                         ("nan,4,4", "not a positive"), ("", "has 0 numbers")])
def test_parse_spacing_rejects(text, match):
  with pytest.raises(UserError, match=match) as err:
    io.parse_spacing(text)
  assert "spacing=40,4,4" in str(err.value)
