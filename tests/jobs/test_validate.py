"""`jax-iso validate`: real held-out sections against each method's prediction of them."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from jax_iso import io, jobs
from jax_iso.cli.main import main
from jax_iso.jobs.validate import SECTION_PROFILE


def _linear_in_z(tmp_path, n=9):
  """Sections of a volume whose intensity varies linearly along Z over a lateral pattern (float32)."""
  rng = np.random.default_rng(0)
  pattern = 0.2 * rng.random((32, 40))
  sections = np.stack([0.1 + 0.07 * k + pattern for k in range(n)]).astype(np.float32)
  path = tmp_path / "lin.tif"
  io.write_volume(path, sections, (40.0, 10.0, 10.0))
  return path, sections


@pytest.mark.slow
def test_linear_interpolation_is_exact_on_a_linear_volume(tmp_path):
  path, sections = _linear_in_z(tmp_path)
  out = jobs.validate(str(path), "linear,cubic", out_dir=str(tmp_path / "v"), show_progress=False)
  assert out["factor"] == 4 and out["validated_factor"] == 8 and out["kept"] == 5
  assert out["heldout"] == [1, 3, 5, 7]
  assert out["methods"]["linear"]["psnr"] > 90 and out["methods"]["linear"]["ssim"] == pytest.approx(1, abs=1e-4)
  assert out["methods"]["cubic"]["psnr"] > 30                  # exact inside; the first and last spans see the ends
  assert out["best"] == "linear"
  saved = json.loads((tmp_path / "v" / "validate.json").read_text())
  assert saved["methods"]["linear"]["psnr"] == out["methods"]["linear"]["psnr"]
  real = io.read_volume(tmp_path / "v" / "heldout_real.tif")[0]
  np.testing.assert_array_equal(real, sections[1:8:2])
  pred, spacing = io.read_volume(tmp_path / "v" / "heldout_linear.tif")
  np.testing.assert_allclose(pred, sections[1:8:2], atol=1e-5)
  assert spacing == (80.0, 10.0, 10.0)
  assert sorted(p.name for p in (tmp_path / "v").iterdir()) == [
      "heldout_cubic.tif", "heldout_linear.tif", "heldout_real.tif", "validate.json", "validate.png"]


def test_an_even_count_skips_the_last_held_out_section(tmp_path):
  path, _ = _linear_in_z(tmp_path, n=8)          # section 7 has no kept neighbour after it
  out = jobs.validate(str(path), ["linear"], out_dir=str(tmp_path / "v"), show_progress=False)
  assert out["kept"] == 4 and out["heldout"] == [1, 3, 5]


@pytest.mark.slow
def test_learned_methods_fit_on_the_kept_sections_with_their_profile(tmp_path):
  rng = np.random.default_rng(1)
  vol = rng.integers(0, 256, (6, 48, 48), dtype=np.uint8)
  path = tmp_path / "s.tif"
  io.write_volume(path, vol, (40.0, 10.0, 10.0))
  run = jobs.reconstruct(str(path), str(tmp_path / "r.tif"), method="unet", train_steps=1, variant="tiny",
                         workdir=str(tmp_path / "w"), config=SECTION_PROFILE, show_progress=False)
  assert run["fit"]["steps"] == 1
  config = json.loads((tmp_path / "w" / "config.json").read_text())
  assert config["pairs"]["profile"] == [1.0, 1.0] and config["pairs"]["support"] == 0.5
  out = jobs.validate(str(path), ["cubic", "unet"], out_dir=str(tmp_path / "v"), train_steps=2, variant="tiny",
                      show_progress=False)
  scores = {m: out["methods"][m]["psnr"] for m in ("cubic", "unet")}
  # 2 steps leave the residual U-Net near the identity on its cubic input: scored on the same held-out sections,
  # within 1 dB of cubic (a prediction on a wrong grid or a wrong section would be far off)
  assert out["methods"]["unet"]["fit"]["steps"] == 2 and abs(scores["unet"] - scores["cubic"]) < 1.0, scores
  assert out["validated_factor"] == 8 and out["heldout"] == [1, 3]


@pytest.mark.slow
@pytest.mark.long
def test_emformer_validates_with_thin_sections(tmp_path):
  """The clip pairs take the held-out section profile too (EMformer at twice the factor, on real EM)."""
  from jax_iso.samples import FIBSEM_10NM  # pylint: disable=g-import-not-at-top
  iso = io.read_volume(FIBSEM_10NM)[0][:, :48, :48]
  io.write_volume(tmp_path / "iso.tif", iso, (10.0, 10.0, 10.0))
  path = tmp_path / "x4.tif"
  jobs.simulate(str(tmp_path / "iso.tif"), str(path), factor=4.0)
  out = jobs.validate(str(path), ["linear", "emformer"], out_dir=str(tmp_path / "v"), train_steps=2,
                      variant="tiny", show_progress=False)
  scores = {m: out["methods"][m]["psnr"] for m in ("linear", "emformer")}
  # EMformer adds its network's output to the linearly upsampled input: after 2 steps it stays within 1.5 dB of
  # linear interpolation on the same held-out sections (a wrong grid or orientation would be far off)
  assert out["validated_factor"] == 8 and abs(scores["emformer"] - scores["linear"]) < 1.5, scores
  assert out["methods"]["emformer"]["fit"]["steps"] == 2


def test_cli_prints_the_table(tmp_path, capsys):
  path, _ = _linear_in_z(tmp_path)
  code = main(["jax-iso", "validate", f"--input={path}", "--methods=linear", f"--out_dir={tmp_path / 'v'}"])
  text = capsys.readouterr().out
  assert code == 0 and "linear" in text and "4 real held-out sections of 9" in text and "x8" in text


def test_a_failed_run_leaves_no_folder(tmp_path, monkeypatch):
  path, _ = _linear_in_z(tmp_path)

  def fail(*args, **kwargs):
    raise RuntimeError("training diverged")

  monkeypatch.setattr(sys.modules["jax_iso.jobs.validate"], "reconstruct", fail)  # the module, not the function
  with pytest.raises(RuntimeError, match="diverged"):
    jobs.validate(str(path), ["linear"], out_dir=str(tmp_path / "v"), show_progress=False)
  assert not (tmp_path / "v").exists()
