"""EMformer end to end on real EM: a tiny fit lowers the loss, same seed same run, prediction with inpainting and
the uncertainty map through the engine."""
import json

import numpy as np
import pytest

from configs import emformer
from jax_iso import io
from jax_iso.train import train_and_evaluate


@pytest.fixture
def em_config(aniso_path):
  config = emformer.get_config("tiny")
  config.data.path = str(aniso_path)
  return config


def _losses(workdir):
  lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [r["loss"] for r in lines if "loss" in r]


@pytest.mark.slow
def test_tiny_fit_lowers_the_loss_and_predicts_with_inpainting_and_uncertainty(em_config, aniso_path, tmp_path):
  # every clip loses one frame and the network must fill it itself (fill_lost off: the untrained network leaves
  # it black), what it gets most wrong at first, so a short fit shows a clear drop (with the frame bridged by
  # interpolation, or without lost frames, it starts at linear interpolation's loss)
  em_config.pairs.update({"drop_prob": 1.0, "drop_run": 1})
  em_config.model.fill_lost = False
  em_config.optim.lr = 3e-3
  em_config.data.batch_size = 4
  em_config.train.update({"steps": 40, "eval_every": 40, "checkpoint_every": 40})
  summary = train_and_evaluate(em_config, tmp_path / "run", show_progress=False)
  losses = _losses(tmp_path / "run")
  assert len(losses) == 40
  assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8]), losses
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["model"]["factor"] == 4.0 and saved["resolved"]["input_shape"] == [4, 8, 32]
  assert np.isfinite(summary["eval_psnr"])   # every eval clip lost a frame the network fills itself: no band

  from jax_iso.jobs.predict import predict  # pylint: disable=g-import-not-at-top
  sections = io.read_volume(aniso_path)[0]
  holed = sections.copy()
  holed[20] = 0
  io.write_volume(tmp_path / "holed.tif", holed, (40.0, 10.0, 10.0))
  out = predict(str(tmp_path / "run"), str(tmp_path / "holed.tif"), str(tmp_path / "iso.tif"), inpaint="auto",
                uncertainty=str(tmp_path / "std.tif"), show_progress=False)
  assert out["method"] == "emformer" and out["output_shape"] == [160, 64, 64]
  assert out["strategy"]["inpainted"] == [20] and out["strategy"]["orientations"] == 8
  iso, spacing = io.read_volume(tmp_path / "iso.tif")
  std = io.read_volume(tmp_path / "std.tif")[0]
  assert iso.dtype == np.uint8 and std.dtype == np.float32 and std.shape == iso.shape
  assert tuple(spacing) == (10.0, 10.0, 10.0)
  assert np.all(std >= 0) and 0 < std.mean() < 20
  gap = iso[20 * 4:21 * 4].astype(float)              # the lost section's fine slices are filled, not black
  assert gap.mean() > 0.5 * sections[20].mean() and gap.std() > 5


@pytest.mark.slow
def test_same_seed_same_losses(em_config, tmp_path):
  a = train_and_evaluate(em_config, tmp_path / "a", show_progress=False)
  b = train_and_evaluate(em_config, tmp_path / "b", show_progress=False)
  assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
  assert a["eval_psnr"] == b["eval_psnr"]


@pytest.mark.slow
@pytest.mark.parametrize("factor", [2.5, pytest.param(3.0, marks=pytest.mark.long)])
def test_the_model_upsamples_by_the_volumes_own_factor(factor, tmp_path):
  """The factor comes from the data (resolved after the config is read): a fractional one trains and predicts
  onto exactly round(N * s) slices."""
  from jax_iso import jobs  # pylint: disable=g-import-not-at-top
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  iso = io.read_volume(FIBSEM_10NM)[0][:100, :48, :48]
  io.write_volume(tmp_path / "iso.tif", iso, (10.0, 10.0, 10.0))
  jobs.simulate(str(tmp_path / "iso.tif"), str(tmp_path / "aniso.tif"), factor=factor)
  out = jobs.reconstruct(str(tmp_path / "aniso.tif"), str(tmp_path / "out.tif"), method="emformer", train_steps=2,
                         variant="tiny", workdir=str(tmp_path / "run"), show_progress=False)
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  n_sec = io.read_volume(tmp_path / "aniso.tif")[0].shape[0]
  assert saved["model"]["factor"] == factor and out["factor"] == factor
  assert out["output_shape"] == [round(n_sec * factor), 48, 48]
