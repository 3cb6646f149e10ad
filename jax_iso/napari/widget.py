"""napari dock widget: isotropic reconstruction (`jax_iso.jobs.reconstruct`) of an image layer.

The layer is written to a temporary TIFF, reconstructed into a temporary output and read back, in a worker
thread (the viewer stays responsive); the progress bar follows jax_iso's progress bars (`progress.listen`):
training steps, then the reconstructed slabs. The result is added as a new layer on the fine grid: Z scale
z / s, translated so that fine slice j lies at (j + 0.5) / s - 0.5 sections (docs/formats.md, "Conventions") and the
result overlays the layer. A `UserError` (bad factor, too few sections...) is shown as a napari notification.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

import napari
import numpy as np
from magicgui import widgets
from napari.qt.threading import thread_worker
from napari.utils.notifications import notification_manager, show_error
from qtpy.QtCore import QObject, Signal

from jax_iso import io, jobs, methods, pretrained, progress
from jax_iso.jobs.model_route import default_fine_tune
from jax_iso.errors import UserError

DEFAULT_STEPS = 200     # training steps of a learned method from scratch: minutes on a laptop CPU, not a finished model
STARTS = ("pretrained", "scratch")   # where a learned method's model starts: the shipped model, or nothing
WRITES = (np.uint8, np.uint16, np.float32)   # dtypes jax_iso writes as they are; others become float32


def isotropic_methods() -> list[str]:
  """The registry's isotropic reconstruction methods that learn from the volume alone (no --train_iso)."""
  return [m.name for m in methods.METHODS.values() if m.task == "isotropic" and not m.train_iso]


def default_method() -> str:
  """The method the widget offers first: the U-Net when a pretrained one ships (good in a minute), else cubic."""
  return "unet" if pretrained.for_method("unet") is not None else "cubic"


def reconstruct_array(data, *, method: str, factor: float, steps: int | None = None, init: str | None = None,
                      on_progress=None) -> tuple[np.ndarray, dict]:
  """`jobs.reconstruct` of a (Z, Y, X) array, through temporary files: (the round(Z*s) fine slices, the job's
  summary). `steps` (training or fine-tuning steps; 0: a pretrained model as it is) and `init` ("pretrained",
  "scratch"; None: the job's default) apply to a learned method only; `on_progress(description, completed,
  total)` follows its progress bars."""
  data = np.asarray(data)
  if data.ndim != 3:
    raise UserError(f"the layer has {data.ndim} dimensions (shape {data.shape}); jax_iso reconstructs a 3D "
                    "(Z, Y, X) volume: pick a 3D grayscale layer")
  if data.shape[0] < 2:
    raise UserError(f"the layer has {data.shape[0]} section along Z; reconstruction needs at least 2: pick a "
                    "layer with several sections")
  if data.dtype not in [np.dtype(t) for t in WRITES]:
    data = data.astype(np.float32)
  entry = methods.get(method, task="isotropic")
  listening = progress.listen(on_progress) if on_progress is not None else contextlib.nullcontext()
  with tempfile.TemporaryDirectory(prefix="jax_iso_napari_") as tmp:
    source, output = os.path.join(tmp, "layer.tif"), os.path.join(tmp, "reconstructed.tif")
    io.write_volume(source, data, None)
    try:
      with listening:
        learned = {"train_steps": None if steps is None else int(steps), "init": init} if entry.learned else {}
        summary = jobs.reconstruct(source, output, method=method, factor=float(factor),
                                   **{k: v for k, v in learned.items() if v is not None})
    except UserError as err:      # the temporary files mean nothing to the user: name the layer instead
      message = str(err).replace(source, "the layer").replace(output, "the result")
      raise UserError(message.replace(os.path.basename(source), "the layer")) from err
    result, _ = io.read_volume(output)
  return result, summary


@thread_worker
def _reconstruct_in_thread(data, *, method: str, factor: float, steps: int, init: str | None, relay: _Relay):
  return reconstruct_array(data, method=method, factor=factor, steps=steps, init=init,
                           on_progress=relay.progressed.emit)


class _Relay(QObject):
  """Carries progress from the worker thread to the widget (a queued Qt signal: handled in the GUI thread)."""
  progressed = Signal(str, int, object)


class ReconstructWidget(widgets.Container):
  """Image layer, method, where its model starts (the shipped pretrained model, or scratch), factor, training
  steps, progress bar and Run; the result becomes a new layer."""

  def __init__(self, viewer: napari.viewer.Viewer):
    super().__init__(labels=True)
    self._viewer = viewer
    self.layer = widgets.ComboBox(label="image", choices=self._image_layers, nullable=True)
    self.method = widgets.ComboBox(label="method", choices=isotropic_methods(), value=default_method())
    self.start = widgets.ComboBox(label="start from", choices=list(STARTS), value="pretrained")
    self.factor = widgets.FloatSpinBox(label="factor", value=4.0, min=1.0, max=1000.0, step=0.5)
    self.steps = widgets.SpinBox(label="training steps", value=DEFAULT_STEPS, min=0, max=10_000_000)
    self.progress = widgets.ProgressBar(label="progress", value=0, min=0, max=1)
    self.status = widgets.Label(label="", value="")
    self.run_button = widgets.PushButton(text="Run")
    self.extend([self.layer, self.method, self.start, self.factor, self.steps, self.progress, self.status, self.run_button])
    self._relay = _Relay(self.native)
    self._relay.progressed.connect(self._on_progress)
    self.worker = None
    self.layer.changed.connect(self._layer_changed)
    self.method.changed.connect(self._method_changed)
    self.start.changed.connect(self._method_changed)
    self.run_button.changed.connect(self.run)
    for event in (viewer.layers.events.inserted, viewer.layers.events.removed, viewer.layers.events.reordered):
      event.connect(self._refresh_layers)
    self._refresh_layers()
    self._method_changed()

  def _image_layers(self, _widget=None) -> list[tuple[str, Any]]:
    return [(layer.name, layer) for layer in self._viewer.layers
            if isinstance(layer, napari.layers.Image) and not layer.rgb]

  def _refresh_layers(self, _event=None) -> None:
    self.layer.reset_choices()
    images = self._image_layers()
    if self.layer.value is None and images:
      self.layer.value = images[-1][1]

  def _layer_changed(self, _value=None) -> None:
    """The factor from the layer's scale (z over y) when its voxels are longer in Z."""
    layer = self.layer.value
    if layer is None or len(layer.scale) != 3:
      return
    ratio = float(layer.scale[0]) / float(layer.scale[1])
    if ratio > 1.0 + 1e-6:
      self.factor.value = round(ratio, 4)

  def _shipped(self):
    """The pretrained model shipped for the chosen method, or None."""
    return pretrained.for_method(self.method.value)

  def _method_changed(self, _value=None) -> None:
    """Steps for a learned method: a pretrained model's short fine-tune (0: as it is), or a fit from scratch."""
    learned, shipped = methods.get(self.method.value).learned, self._shipped()
    self.start.enabled = shipped is not None
    from_pretrained = shipped is not None and self.start.value == "pretrained"
    self.steps.enabled = learned
    self.steps.label = "fine-tune steps" if from_pretrained else "training steps"
    self.steps.value = default_fine_tune(shipped) if from_pretrained else DEFAULT_STEPS

  @property
  def running(self) -> bool:
    return self.worker is not None

  def run(self, _value=None):
    """Starts the reconstruction of the chosen layer in a worker thread (returns the worker, or None when
    there is nothing to run)."""
    if self.running:
      return None
    layer = self.layer.value
    if layer is None:
      show_error("jax_iso: open or add a 3D image layer first, then choose it under 'image'")
      return None
    data = layer.data[0] if layer.multiscale else layer.data
    method, factor = self.method.value, float(self.factor.value)
    self.run_button.enabled = False
    self._set_progress(0, None)
    self.status.value = f"{method}: starting"

    def returned(out: tuple[np.ndarray, dict]) -> None:
      self._add_result(layer, method, factor, *out)

    self.worker = _reconstruct_in_thread(
        data, method=method, factor=factor, steps=int(self.steps.value),
        init=self.start.value if self._shipped() is not None else None, relay=self._relay,
        _connect={"returned": returned, "errored": self._failed, "finished": self._finished}, _start_thread=True)
    return self.worker

  def _on_progress(self, description: str, completed: int, total) -> None:
    self._set_progress(completed, total)
    self.status.value = f"{description}: {completed}" + (f"/{total}" if total else "")

  def _set_progress(self, completed: int, total) -> None:
    bar = self.progress.native                    # QProgressBar; range (0, 0) is Qt's busy bar
    if total:
      bar.setRange(0, int(total))
      bar.setValue(min(int(completed), int(total)))
    else:
      bar.setRange(0, 0)

  def _add_result(self, layer, method: str, factor: float, result: np.ndarray, summary: dict) -> None:
    """The fine slices as a new layer: Z scale z / s, Z translate moved back by (s - 1) / 2 fine slices."""
    scale = tuple(float(v) for v in layer.scale)
    translate = tuple(float(v) for v in layer.translate)
    fine = scale[0] / factor
    self._viewer.add_image(
        result, name=f"{layer.name} {method} x{factor:g}", scale=(fine, scale[1], scale[2]),
        translate=(translate[0] - (factor - 1.0) / 2.0 * fine, translate[1], translate[2]),
        units=tuple(str(u) for u in layer.units), colormap=layer.colormap.name,
        contrast_limits=tuple(layer.contrast_limits), metadata={"jax_iso": summary, "source_layer": layer.name})
    self._set_progress(1, 1)
    self.status.value = f"{method} x{factor:g}: {result.shape[0]} slices in {summary.get('seconds', '?')} s"

  def _failed(self, error: Exception) -> None:
    self._set_progress(0, 1)
    if isinstance(error, UserError):
      self.status.value = "stopped: see the notification"
      show_error(f"jax_iso: {error}")
    else:                                           # a bug: keep its traceback in the notification
      self.status.value = f"failed: {type(error).__name__}"
      notification_manager.receive_error(type(error), error, error.__traceback__)

  def _finished(self) -> None:
    self.worker = None
    self.run_button.enabled = True
