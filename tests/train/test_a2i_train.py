"""A2I-3DEM end to end on real EM: a tiny fit lowers the loss, same seed same run, bad PDL settings refused."""
import json

import numpy as np
import pytest

from configs import a2i_3dem
from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.jobs.predict import predict
from jax_iso.train import train_and_evaluate


@pytest.fixture
def a2i_config(aniso_path):
  config = a2i_3dem.get_config("tiny")
  config.data.path = str(aniso_path)
  return config


def _losses(workdir):
  lines = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  return [r["loss"] for r in lines if "loss" in r]


@pytest.mark.slow
def test_tiny_fit_lowers_the_loss_and_predicts(a2i_config, aniso_path, tmp_path):
  a2i_config.optim.lr = 2e-3
  a2i_config.train.update({"steps": 40, "eval_every": 40, "checkpoint_every": 40})
  summary = train_and_evaluate(a2i_config, tmp_path / "run", show_progress=False)
  losses = _losses(tmp_path / "run")
  assert len(losses) == 40
  assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8]), losses
  saved = json.loads((tmp_path / "run" / "config.json").read_text())
  assert saved["pdl"] == {"weight": 0.01, "patch": 3, "projections": 8}
  assert summary["eval_psnr"] > 20
  out = predict(str(tmp_path / "run"), str(aniso_path), str(tmp_path / "iso.tif"))
  assert out["method"] == "a2i" and out["output_shape"] == [160, 64, 64]
  iso = io.read_volume(tmp_path / "iso.tif")[0]
  assert iso.dtype == np.uint8 and iso.std() > 10


@pytest.mark.slow
def test_same_seed_same_losses(a2i_config, tmp_path):
  a = train_and_evaluate(a2i_config, tmp_path / "a", show_progress=False)
  b = train_and_evaluate(a2i_config, tmp_path / "b", show_progress=False)
  assert _losses(tmp_path / "a") == _losses(tmp_path / "b")
  assert a["eval_psnr"] == b["eval_psnr"]


@pytest.mark.parametrize("field, value, match", [
    ("weight", -1.0, "pdl.weight=-1.0 must be >= 0"),
    ("patch", 2, "pdl.patch=2 must be an odd"),
    ("projections", -3, "pdl.projections=-3 must be >= 0"),
])
def test_bad_pdl_settings_are_user_errors(a2i_config, tmp_path, field, value, match):
  a2i_config.pdl[field] = value
  with pytest.raises(UserError, match=match):
    train_and_evaluate(a2i_config, tmp_path / "run", show_progress=False)
  assert not (tmp_path / "run").exists()
