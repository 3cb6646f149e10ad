"""The napari plugin (jax_iso/napari), headless (QT_QPA_PLATFORM=offscreen): the npe2 manifest, the reader on
jax_iso's outputs, the sample data and the reconstruction widget with its worker thread."""
from __future__ import annotations

import os
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

napari = pytest.importorskip("napari")
npe2 = pytest.importorskip("npe2")

from napari.components import ViewerModel  # noqa: E402
from napari.utils.notifications import notification_manager  # noqa: E402

from jax_iso import io  # noqa: E402
from jax_iso.errors import UserError  # noqa: E402
from jax_iso.napari import reader, samples  # noqa: E402
from jax_iso.samples import FIBSEM_10NM  # noqa: E402

SAMPLE_SHAPE = (160, 160, 160)


@pytest.fixture(scope="module")
def qapp():
  from napari.qt import get_qapp  # pylint: disable=g-import-not-at-top
  return get_qapp()


@pytest.fixture(scope="module")
def simulated_x4():
  """The x4 sample data: the shipped sample simulated at 40 nm sections (40 of them)."""
  return samples.fibsem_sample_x4()[0]


def _wait(widget, qapp, timeout: float = 90.0) -> None:
  deadline = time.monotonic() + timeout
  while widget.running:
    assert time.monotonic() < deadline, "the reconstruction worker did not finish in time"
    qapp.processEvents()
    time.sleep(0.02)
  qapp.processEvents()


@pytest.mark.slow
def test_manifest_validates_and_its_commands_resolve(tmp_path):
  manifest = npe2.PluginManifest.from_distribution("jax_iso")   # the entry point, the name check, the schema
  assert manifest.name == "jax_iso"
  commands = {c.id: c for c in manifest.contributions.commands}
  for command in commands.values():
    assert callable(npe2.manifest.utils.import_python_name(command.python_name)), command.python_name
  used = ([r.command for r in manifest.contributions.readers] + [w.command for w in manifest.contributions.widgets]
          + [s.command for s in manifest.contributions.sample_data])
  assert sorted(used) == sorted(commands)
  pm = npe2.PluginManager.instance()
  pm.discover()
  assert "jax_iso" in pm.get_manifest("jax_iso").name
  for path in ("out.ome.zarr", "stack.TIF", "cremi.h5", "volume/info", "volume/.zarray", str(tmp_path)):
    assert "jax_iso" in [r.plugin_name for r in pm.iter_compatible_readers([path])], path
  assert "jax_iso" not in [r.plugin_name for r in pm.iter_compatible_readers(["picture.png"])]
  assert reader.get_reader(str(tmp_path)) is None                   # an empty folder: not a volume


def _output_with_uncertainty(tmp_path, ext: str = ".tif"):
  """A reconstruction written as jax_iso writes one (provenance and all) and its uncertainty map `_std`."""
  rng = np.random.default_rng(0)
  data = rng.integers(0, 256, (8, 12, 10), dtype=np.uint8)
  std = rng.random((8, 12, 10), dtype=np.float32)
  out = tmp_path / f"iso{ext}"
  io.write_volume(out, data, (10.0, 4.0, 4.0), description={"job": "reconstruct", "method": "emformer",
                                                             "factor": 4.0, "source": "gone.tif"})
  io.write_volume(tmp_path / f"iso_std{ext}", std, (10.0, 4.0, 4.0),
                  description={"job": "uncertainty", "method": "emformer", "factor": 4.0})
  return out, data, std


def test_reader_gives_tiff_output_with_scale_and_its_uncertainty_map(tmp_path):
  out, data, std = _output_with_uncertainty(tmp_path)
  read = reader.get_reader(str(out))
  assert read is not None
  volume, uncertainty = read(str(out))
  np.testing.assert_array_equal(volume[0], data)
  assert volume[1]["scale"] == (10.0, 4.0, 4.0) and volume[1]["units"] == ("nm", "nm", "nm")
  assert volume[1]["metadata"]["jax_iso"]["method"] == "emformer"
  assert volume[1]["translate"] == (-15.0, 0.0, 0.0)     # fine slice j at (j + 0.5) / 4 - 0.5 sections of 40 nm
  np.testing.assert_array_equal(uncertainty[0], std)
  assert uncertainty[1]["colormap"] == "magma" and uncertainty[1]["blending"] == "additive"
  assert uncertainty[1]["scale"] == (10.0, 4.0, 4.0) and uncertainty[1]["translate"] == (-15.0, 0.0, 0.0)
  assert uncertainty[1]["name"] == "iso uncertainty"
  npe2.PluginManager.instance().discover()               # as napari does at start (not left to another test)
  viewer = ViewerModel()                                  # through napari's own reader machinery
  viewer.open(str(out), plugin="jax_iso")
  assert [layer.name for layer in viewer.layers] == ["iso", "iso uncertainty"]
  assert viewer.layers[1].colormap.name == "magma"
  np.testing.assert_allclose(viewer.layers[0].scale, (10.0, 4.0, 4.0))


def test_reader_gives_ome_zarr_and_the_uncertainty_path_its_provenance_records(tmp_path):
  out, data, _ = _output_with_uncertainty(tmp_path, ".ome.zarr")
  (volume, uncertainty) = reader.get_reader(str(out))(str(out))
  np.testing.assert_array_equal(volume[0], data)
  assert volume[1]["scale"] == (10.0, 4.0, 4.0) and uncertainty[1]["colormap"] == "magma"
  recorded = tmp_path / "elsewhere.tif"
  std = np.full((8, 12, 10), 0.25, np.float32)
  io.write_volume(recorded, std, (10.0, 4.0, 4.0), description={"job": "uncertainty"})
  named = tmp_path / "named.ome.zarr"
  io.write_volume(named, data, (10.0, 4.0, 4.0), description={"job": "predict", "factor": 4.0,
                                                               "uncertainty": "elsewhere.tif"})
  layers = reader.read([str(named)])
  assert len(layers) == 2
  np.testing.assert_array_equal(layers[1][0], std)


def test_reader_leaves_out_maps_jax_iso_did_not_write_and_declines_what_it_cannot_read(tmp_path):
  data = np.arange(4 * 6 * 5, dtype=np.uint16).reshape(4, 6, 5)
  io.write_volume(tmp_path / "plain.tif", data, None)
  io.write_volume(tmp_path / "plain_std.tif", data, None)             # no provenance: not an uncertainty map
  io.write_volume(tmp_path / "plain_uncertainty.tif", data[:2], None, description={"job": "uncertainty"})
  (layer,) = reader.read(str(tmp_path / "plain.tif"))
  assert "scale" not in layer[1] and "translate" not in layer[1]     # voxel size unknown
  np.testing.assert_array_equal(layer[0], data)
  import tifffile  # pylint: disable=g-import-not-at-top
  tifffile.imwrite(tmp_path / "flat.tif", np.zeros((6, 5), np.uint8))
  (tmp_path / "notes.tif").write_text("not a TIFF")
  for path in ("flat.tif", "notes.tif", "missing.tif", "plain_std.tif/x"):
    assert reader.get_reader(str(tmp_path / path)) is None, path
  assert reader.get_reader([str(tmp_path / "plain.tif")] * 2) is None
  lazy, kwargs, _ = reader.volume_layer(str(tmp_path / "plain.tif"), lazy_bytes=0)
  assert type(lazy).__module__.startswith("dask") and kwargs["name"] == "plain"
  np.testing.assert_array_equal(np.asarray(lazy), data)


def test_sample_data_and_its_x4_simulation(simulated_x4):
  ((iso, iso_kwargs, kind),) = samples.fibsem_sample()
  assert kind == "image" and iso.shape == SAMPLE_SHAPE and iso.dtype == np.uint8
  assert iso_kwargs["scale"] == (10.0, 10.0, 10.0)
  sim, sim_kwargs, _ = simulated_x4
  assert sim.shape == (40, 160, 160) and sim.dtype == np.uint8
  assert sim_kwargs["scale"] == (40.0, 10.0, 10.0)
  assert sim_kwargs["translate"] == (15.0, 0.0, 0.0)     # section k centred on fine slice 4k + 1.5 of the original
  box = iso.reshape(40, 4, 160, 160).astype(np.float64).mean(axis=1)   # box profile: the mean of 4 slices
  assert np.abs(sim.astype(np.float64) - box).max() <= 1.0


def test_widget_reconstructs_a_layer_in_a_worker_and_adds_the_fine_grid(qapp, simulated_x4):
  from jax_iso.napari.widget import ReconstructWidget, default_method  # pylint: disable=g-import-not-at-top
  sim, kwargs, _ = simulated_x4
  viewer = ViewerModel()
  viewer.add_image(sim[:16, :48, :48], name="sections", scale=kwargs["scale"], translate=kwargs["translate"])
  widget = ReconstructWidget(viewer)
  assert widget.layer.value is viewer.layers["sections"]
  assert widget.factor.value == 4.0                      # from the layer's scale, 40 / 10
  assert widget.method.value == default_method()        # the U-Net when a pretrained one ships, else cubic
  widget.method.value = "cubic"
  assert not widget.steps.enabled
  assert "unet" in widget.method.choices and "emdiffuse_n" not in widget.method.choices
  seen = []
  widget._relay.progressed.connect(lambda *event: seen.append(event))
  assert widget.run() is not None and widget.running and not widget.run_button.enabled
  _wait(widget, qapp)
  assert len(viewer.layers) == 2, [n.message for n in notification_manager.records[-3:]]
  result = viewer.layers[-1]
  assert result.name == "sections cubic x4" and result.data.shape == (64, 48, 48)      # round(16 * 4)
  np.testing.assert_allclose(result.scale, (10.0, 10.0, 10.0))
  np.testing.assert_allclose(result.translate, (0.0, 0.0, 0.0), atol=1e-9)   # back on the original's grid
  expected, _ = io.read_volume(FIBSEM_10NM)
  corr = np.corrcoef(result.data.astype(np.float64).ravel(), expected[:64, :48, :48].astype(np.float64).ravel())
  assert corr[0, 1] > 0.85
  assert seen and seen[-1][1] == seen[-1][2] and widget.progress.native.value() == widget.progress.native.maximum()
  assert widget.run_button.enabled and result.metadata["jax_iso"]["method"] == "cubic"


def test_widget_starts_a_learned_method_from_its_shipped_model(qapp, monkeypatch):
  """With a model shipped for the U-Net, the widget offers it first, fine-tuned for its card's steps (0: as it
  is); "scratch" goes back to a fit of DEFAULT_STEPS; a method without one has no choice to make."""
  from jax_iso import pretrained  # pylint: disable=g-import-not-at-top
  from jax_iso.napari import widget as module  # pylint: disable=g-import-not-at-top
  shipped = pretrained.Shipped("fake", "unet", FIBSEM_10NM.parent, {"fine_tune_steps": {"cpu": 7, "default": 9}})
  monkeypatch.setattr(pretrained, "for_method", lambda method: shipped if method == "unet" else None)
  viewer = ViewerModel()
  viewer.add_image(np.zeros((8, 16, 16), np.uint8), name="sections", scale=(40.0, 10.0, 10.0))
  widget = module.ReconstructWidget(viewer)
  assert widget.method.value == "unet" and widget.start.value == "pretrained" and widget.start.enabled
  assert widget.steps.value == 7 and widget.steps.label == "fine-tune steps" and widget.steps.min == 0
  widget.start.value = "scratch"
  assert widget.steps.value == module.DEFAULT_STEPS and widget.steps.label == "training steps"
  widget.method.value = "a2i"
  assert not widget.start.enabled and widget.steps.enabled


def test_widget_shows_a_user_error_and_adds_no_layer(qapp):
  from jax_iso.napari.widget import ReconstructWidget  # pylint: disable=g-import-not-at-top
  viewer = ViewerModel()
  viewer.add_image(np.zeros((8, 16, 16), np.uint8), name="isotropic", scale=(10.0, 10.0, 10.0))
  widget = ReconstructWidget(viewer)
  widget.factor.value = 1.0                          # refused by jax_iso (factor must be > 1), in the worker
  before = len(notification_manager.records)
  assert widget.run() is not None
  _wait(widget, qapp)
  assert len(viewer.layers) == 1
  messages = [n.message for n in notification_manager.records[before:]]
  assert any(m.startswith("jax_iso: factor 1 must be > 1") for m in messages), messages
  assert widget.run_button.enabled and not widget.running and widget.status.value.startswith("stopped")
  assert widget.progress.native.maximum() == 1 and widget.progress.native.value() == 0   # not left busy


@pytest.mark.slow
def test_widget_docks_in_a_viewer_through_the_manifest(qapp):
  viewer = napari.Viewer(show=False)
  try:
    _, widget = viewer.window.add_plugin_dock_widget("jax_iso", "Isotropic reconstruction")
    assert type(widget).__name__ == "ReconstructWidget"
    assert getattr(widget._viewer, "__wrapped__", widget._viewer) is viewer   # napari hands plugins a proxy
    assert widget.layer.value is None                # no layer yet
  finally:
    viewer.close()


def test_reconstruct_array_refuses_what_it_cannot_reconstruct_naming_the_layer():
  from jax_iso.napari.widget import reconstruct_array  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match="3D"):
    reconstruct_array(np.zeros((16, 16), np.uint8), method="cubic", factor=4.0)
  with pytest.raises(UserError, match="at least 2"):
    reconstruct_array(np.zeros((1, 16, 16), np.uint8), method="cubic", factor=4.0)
  with pytest.raises(UserError, match=r"the layer has sections of 3 x 3 pixels") as raised:   # not the temp file
    reconstruct_array(np.zeros((8, 3, 3), np.uint8), method="unet", factor=4.0, steps=1)
  assert "layer.tif" not in str(raised.value)
