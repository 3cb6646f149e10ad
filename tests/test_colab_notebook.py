"""The Colab TPU notebook runs top to bottom (tiny configs, `JAX_ISO_NOTEBOOK_QUICK=1`) and leaves what it says:
the isotropic volume on the section grid, the report pictures shown inline, the exported bundle."""
import os
import pathlib

import numpy as np
import pytest

from jax_iso import io, pretrained

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "colab_tpu.ipynb"


@pytest.mark.slow
@pytest.mark.long
def test_notebook_runs_and_writes_volume_pictures_and_bundle(tmp_path, monkeypatch):
  monkeypatch.setenv("JAX_ISO_NOTEBOOK_QUICK", "1")
  monkeypatch.setenv("JAX_ISO_NOTEBOOK_WORK", str(tmp_path))
  monkeypatch.setenv("JAX_ISO_PROGRESS", "0")
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                          resources={"metadata": {"path": str(tmp_path)}}).execute()
  outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
  text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
  shipped = pretrained.for_method("unet")          # the notebook starts from it where it ships
  method, line = (("unet", f"unet (pretrained {shipped.name}, fine-tuned): 10 training steps") if shipped else
                  ("emformer", "emformer (tiny): 30 training steps"))
  assert "backend: CPU" in text and line in text, text
  assert sum("image/png" in o.get("data", {}) for o in outputs) == 2          # orthoslices and FSC curves
  volume, spacing = io.read_volume(tmp_path / "isotropic.ome.zarr")
  assert volume.shape == (160, 160, 160) and spacing == (10.0, 10.0, 10.0)
  assert volume.dtype == np.uint8 and volume.std() > 10
  assert (tmp_path / f"{method}.bundle" / "bundle.json").exists()
  assert os.path.exists(tmp_path / "report" / "metrics.json")
