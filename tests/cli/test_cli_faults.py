"""Faults a cluster or a new user meets: signals mid-run, HDF5 datasets in every command, sections smaller than a
method's crops. Each ends in one line, the right exit code, and nothing left behind but what a rerun resumes."""
import os
import pathlib
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from jax_iso import io, jobs, methods
from jax_iso.cli.main import main
from jax_iso.io.sink import read_json
from shared_data import write_sample_sections

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """x4 sections of the real sample (20 x 96 x 96), a CREMI-like HDF5 file holding them beside labels and an
  isotropic crop, and a tiny U-Net trained on them."""
  root = tmp_path_factory.mktemp("faults")
  aniso = write_sample_sections(root / "aniso.tif", 96, depth=80)
  sections, spacing = io.read_volume(aniso)
  iso = io.read_volume(ROOT / "jax_iso" / "samples" / "flyem_medulla_fibsem_10nm_iso_160.tif")[0][:48, :64, :64]
  h5 = root / "cremi.h5"
  with h5py.File(h5, "w") as f:
    raw = f.create_dataset("volumes/raw", data=sections)
    raw.attrs["resolution"] = spacing
    f.create_dataset("volumes/labels/neuron_ids", data=sections.astype(np.uint64))
    f.create_dataset("iso", data=iso).attrs["resolution"] = (10.0, 10.0, 10.0)
  run = root / "run"
  config = methods.get("unet").default_config("tiny")
  config.data.path, config.train.steps = str(aniso), 2
  jobs.train(config, run, show_progress=False)
  return {"root": root, "aniso": aniso, "h5": h5, "run": run}


def _start(*args, cwd):
  env = {**os.environ, "JAX_ISO_PROGRESS": "0", "PYTHONPATH": str(ROOT)}
  return subprocess.Popen([sys.executable, "-m", "jax_iso", *map(str, args)], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _signal_when(proc, ready, signum, timeout=180.0):
  """Sends `signum` once `ready()` holds; returns (exit code, stderr lines)."""
  deadline = time.monotonic() + timeout
  while not ready() and proc.poll() is None and time.monotonic() < deadline:
    time.sleep(0.02)
  assert proc.poll() is None, proc.communicate()[1][-2000:]
  proc.send_signal(signum)
  _, err = proc.communicate(timeout=120)
  return proc.returncode, err.strip().splitlines()


def _hidden(folder):
  return sorted(n for n in os.listdir(folder) if n.startswith("."))


@pytest.mark.slow
def test_sigterm_while_fitting_removes_the_fit_folder(data, tmp_path):
  proc = _start("reconstruct", f"--input={data['aniso']}", f"--output={tmp_path}/o.tif", "--method=unet",
                "--train_steps=5000", cwd=tmp_path)
  fitting = lambda: any((tmp_path / n / "config.json").exists() for n in _hidden(tmp_path))
  code, lines = _signal_when(proc, fitting, signal.SIGTERM)
  assert code == 143 and lines[-1].startswith("jax-iso reconstruct: error: stopped by SIGTERM"), lines
  assert not any("Traceback" in line for line in lines)
  assert os.listdir(tmp_path) == []                         # no output, no .o.tif.fit-* folder


@pytest.mark.slow
def test_sigterm_while_predicting_keeps_what_a_rerun_resumes(data, tmp_path):
  out = tmp_path / "o.tif"
  big = tmp_path / "big.tif"
  io.write_volume(big, np.tile(io.read_volume(data["aniso"])[0], (1, 3, 3)), (40.0, 10.0, 10.0))
  proc = _start("predict", f"--workdir={data['run']}", f"--input={big}", f"--output={out}", cwd=tmp_path)
  manifest = tmp_path / ".o.tif.work" / "manifest.json"
  code, lines = _signal_when(proc, lambda: bool((read_json(str(manifest)) or {}).get("done", {}).get("yz")),
                             signal.SIGTERM)
  assert code == 143 and len(lines) == 1, lines
  assert "stopped by SIGTERM" in lines[0] and "kept in" in lines[0] and "run the same command again" in lines[0]
  assert sorted(os.listdir(tmp_path)) == [".o.tif.work", "big.tif"]
  assert main(["jax-iso", "predict", f"--workdir={data['run']}", f"--input={big}", f"--output={out}"]) == 0
  assert sorted(os.listdir(tmp_path)) == ["big.tif", "o.tif"]


@pytest.mark.slow
def test_ctrl_c_in_validate_leaves_no_temporaries(data, tmp_path):
  proc = _start("validate", f"--input={data['aniso']}", "--methods=unet", f"--out_dir={tmp_path}/v", "--train_steps=5000",
                cwd=tmp_path)
  started = lambda: any(tmp_path.glob("v/.validate-*/.pred_unet.tif.fit-*/config.json"))   # fitting
  code, lines = _signal_when(proc, started, signal.SIGINT)
  assert code == 130 and lines[-1].startswith("jax-iso validate: error: stopped by SIGINT"), "\n".join(lines)
  assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_a_crash_prints_one_line_with_the_debug_hint(data, tmp_path, capsys, monkeypatch):
  monkeypatch.setattr(jobs, "simulate", lambda *a, **k: {}["no such key"])   # a bug inside a job
  code = main(["jax-iso", "simulate", f"--input={data['aniso']}", f"--output={tmp_path}/o.tif", "--factor=2"])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 1 and len(err) == 1 and "unexpected KeyError" in err[0] and "JAX_ISO_DEBUG=1" in err[0]


@pytest.mark.slow
@pytest.mark.parametrize("form", ["path", pytest.param("flag", marks=pytest.mark.long)])
def test_hdf5_dataset_through_predict_evaluate_and_validate(data, tmp_path, capsys, form):
  """Work folders, report folders and temporaries derive from the .h5 file, never from FILE.h5/DATASET."""
  given = [f"--input={data['h5']}/volumes/raw"] if form == "path" else [f"--input={data['h5']}",
                                                                        "--dataset=volumes/raw"]
  out = tmp_path / "o.tif"
  assert main(["jax-iso", "predict", f"--workdir={data['run']}", *given, f"--output={out}"]) == 0
  np.testing.assert_array_equal(io.read_volume(out)[0].shape, (80, 96, 96))
  assert main(["jax-iso", "validate", *given, "--methods=cubic", f"--out_dir={tmp_path}/v"]) == 0
  assert (tmp_path / "v" / "validate.json").exists()
  report = data["root"] / "cremi_volumes_raw_report"
  evaluate = ["--pred=" + given[0][len("--input="):]] + given[1:]
  assert main(["jax-iso", "evaluate", *evaluate, "--factor=4"]) == 0
  assert (report / "metrics.json").exists()
  capsys.readouterr()


@pytest.mark.slow
# one learned method per strategy (a2i shares the U-Net's planes, vemdiffuse_a the diffusion of vemdiffuse_i, which
# also reads its --train_iso from the file): every job derives its paths from the input in one pipeline
@pytest.mark.parametrize("method", ["unet", pytest.param("emformer", marks=pytest.mark.long),
                                    pytest.param("vemdiffuse_i", marks=pytest.mark.long)])
def test_hdf5_dataset_with_every_learned_strategy(data, tmp_path, method):
  entry = methods.get(method)
  iso = {"train_iso": f"{data['h5']}/iso"} if entry.train_iso else {}
  sampling = {"samples": 1, "sample_steps": 2} if entry.pairs == "between" else {}
  out = jobs.reconstruct(f"{data['h5']}/volumes/raw", str(tmp_path / "o.tif"), method=method, variant="tiny",
                         train_steps=1, show_progress=False, **iso, **sampling)
  assert out["output_shape"] == [80, 96, 96] and os.listdir(tmp_path) == ["o.tif"]


@pytest.mark.slow
@pytest.mark.long
def test_hdf5_dataset_through_simulate_restore_and_denoise(data, tmp_path, capsys):
  dataset = f"{data['h5']}/iso"
  assert main(["jax-iso", "simulate", f"--input={dataset}", f"--output={tmp_path}/s.tif", "--factor=2"]) == 0
  assert main(["jax-iso", "restore", f"--input={data['h5']}", "--dataset=volumes/raw",
               f"--output={tmp_path}/r.tif", "--train_steps=1", "--variant=tiny"]) == 0
  assert main(["jax-iso", "denoise", f"--input={dataset}", f"--output={tmp_path}/d.tif", f"--train_clean={dataset}",
               "--noise=gaussian:0.05", "--train_steps=1", "--variant=tiny", "--samples=1", "--sample_steps=2"]) == 0
  assert sorted(os.listdir(tmp_path)) == ["d.tif", "r.tif", "s.tif"]
  capsys.readouterr()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["reconstruct", pytest.param("validate", marks=pytest.mark.long)])
def test_sections_smaller_than_the_crops_train_on_smaller_crops(data, tmp_path, capsys, command):
  small = tmp_path / "small.tif"
  io.write_volume(small, io.read_volume(data["aniso"])[0][:12, :40, :40], (40.0, 10.0, 10.0))
  argv = (["reconstruct", f"--output={tmp_path}/o.tif", "--method=unet", "--train_steps=2"] if command ==
          "reconstruct" else ["validate", "--methods=unet", "--train_steps=2", f"--out_dir={tmp_path}/v"])
  assert main(["jax-iso", argv[0], f"--input={small}", *argv[1:]]) == 0, capsys.readouterr().err
  assert "kept.tif" not in capsys.readouterr().err
