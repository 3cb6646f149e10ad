"""`jax-iso train / export / predict` from the command line: a tiny run end to end, and their bad inputs."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jax_iso import io
from jax_iso.cli.main import main
from shared_data import write_sample_sections


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A 2-step tiny U-Net trained by `jax-iso train` on x4 sections of the real sample, and its exported bundle."""
  root = tmp_path_factory.mktemp("cli_train")
  aniso = write_sample_sections(root / "aniso.tif", 48, depth=48)
  x3 = root / "x3.tif"
  io.write_volume(x3, io.read_volume(aniso)[0], (30.0, 10.0, 10.0))
  workdir = root / "run"
  code = main(["jax-iso", "train", "--config=unet:tiny", f"--workdir={workdir}", f"--config.data.path={aniso}",
               "--config.train.steps=2"])
  assert code == 0
  bundle = root / "model.bundle"
  assert main(["jax-iso", "export", f"--workdir={workdir}", f"--output={bundle}"]) == 0
  old = root / "old.bundle"                      # a bundle of a format this version does not read
  shutil.copytree(bundle, old)
  meta = json.loads((old / "bundle.json").read_text())
  (old / "bundle.json").write_text(json.dumps(meta | {"format_version": 0}))
  damaged = _damaged_models(root, workdir, bundle, meta)
  return {"root": root, "aniso": aniso, "x3": x3, "workdir": workdir, "bundle": bundle, "old": old, **damaged}


def _damaged_models(root, workdir, bundle, meta) -> dict:
  """Copies of the bundle and the workdir, each damaged one way (as a broken copy or a hand edit leaves them)."""
  edits = {"notjson": "not json {", "noconfig": {k: v for k, v in meta.items() if k != "config"},
           "stepabc": meta | {"step": "abc"},
           "strnum": meta | {"config": meta["config"] | {"infer": meta["config"]["infer"] | {"tile": "big"}}}}
  out = {}
  for name, edit in edits.items():
    out[f"b_{name}"] = root / f"{name}.bundle"
    shutil.copytree(bundle, out[f"b_{name}"])
    (out[f"b_{name}"] / "bundle.json").write_text(edit if isinstance(edit, str) else json.dumps(edit))
  out["w_badcfg"] = root / "badcfg_run"
  shutil.copytree(workdir, out["w_badcfg"])
  (out["w_badcfg"] / "config.json").write_text("{nope")
  out["w_badckpt"] = root / "badckpt_run"
  shutil.copytree(workdir, out["w_badckpt"])
  for chunk in (out["w_badckpt"] / "checkpoints").glob("*/state/d/*"):   # orbax's OCDBT data files
    chunk.write_bytes(b"xx")
  return out


@pytest.mark.slow
def test_train_export_predict_from_the_command_line(trained, tmp_path):
  saved = json.loads((trained["workdir"] / "config.json").read_text())
  assert saved["train"]["steps"] == 2
  noise = saved["resolved"]["section_noise"]
  assert noise["mode"] == "match" and 0 < noise["added_sigma"] < noise["volume_sigma"] < 0.1
  assert saved["pairs"]["acquisition"]["order"] == ["gaussian_noise"]
  from_workdir, from_bundle = tmp_path / "w.tif", tmp_path / "b.tif"
  assert main(["jax-iso", "predict", f"--workdir={trained['workdir']}", f"--input={trained['aniso']}",
               f"--output={from_workdir}"]) == 0
  assert main(["jax-iso", "predict", f"--model={trained['bundle']}", f"--input={trained['aniso']}",
               f"--output={from_bundle}"]) == 0
  a, spacing = io.read_volume(from_workdir)
  b, _ = io.read_volume(from_bundle)
  assert a.shape == (48, 48, 48) and a.dtype == np.uint8
  np.testing.assert_allclose(spacing, (10.0, 10.0, 10.0))
  np.testing.assert_array_equal(a, b)             # the bundle is the workdir's model, exactly


def test_predict_other_fusions_differ_but_stay_close(trained, tmp_path):
  mean, xz = tmp_path / "mean.tif", tmp_path / "xz.tif"
  for out, fuse in ((mean, "mean"), (xz, "xz")):
    assert main(["jax-iso", "predict", f"--model={trained['bundle']}", f"--input={trained['aniso']}",
                 f"--output={out}", f"--fuse={fuse}"]) == 0
  a, b = io.read_volume(mean)[0].astype(float), io.read_volume(xz)[0].astype(float)
  assert 0 < np.abs(a - b).mean() < 10


BAD = {  # name: (argv with {names} from the `trained` fixture, fragment of the one-line message)
    "config typo": (["train", "--config=unet:tiny", "--workdir={root}/t1", "--config.data.path={aniso}",
                     "--config.model.widht=4"], "did you mean 'width'"),
    "config file missing": (["train", "--config=nope.py", "--workdir={root}/t2"], "nope.py does not exist"),
    "config variant unknown": (["train", "--config=unet:huge", "--workdir={root}/t3"], "unknown variant"),
    "config value wrong": (["train", "--config=unet:tiny", "--workdir={root}/t4", "--config.data.path={aniso}",
                            "--config.model.kernel=4"], "model.kernel=4 must be an odd size"),
    "config value of the wrong type": (["train", "--config=unet:tiny", "--workdir={root}/t5",
                                        "--config.train.steps=many"], "steps"),
    "section noise unknown": (["train", "--config=unet:tiny", "--workdir={root}/t7", "--config.data.path={aniso}",
                               "--config.section_noise=loud"], "section_noise='loud'"),
    "train without data": (["train", "--config=unet:tiny", "--workdir={root}/t6"], "no training volume"),
    "a2i: pdl patch even": (["train", "--config=a2i_3dem:tiny", "--workdir={root}/t8", "--config.data.path={aniso}",
                             "--config.pdl.patch=2"], "pdl.patch=2 must be an odd"),
    "a2i: heads do not divide": (["train", "--config=a2i_3dem:tiny", "--workdir={root}/t9",
                                  "--config.data.path={aniso}", "--config.model.heads=(3,1,1)"], "model.heads="),
    "a2i: crop off the multiple": (["train", "--config=a2i_3dem:tiny", "--workdir={root}/t10",
                                    "--config.data.path={aniso}", "--config.data.crop=36"],
                                   "data.crop=36 must be a positive multiple of 8"),
    "frozen pattern matching nothing": (["train", "--config=unet:tiny", "--workdir={root}/t11",
                                         "--config.data.path={aniso}", "--config.train.frozen=('params/Nope/.*',)"],
                                        "matches no parameter"),
    "init_from that does not exist": (["train", "--config=unet:tiny", "--workdir={root}/t12",
                                       "--config.data.path={aniso}", "--config.train.init_from={root}/none"],
                                      "does not exist"),
    "predict: no model": (["predict", "--input={aniso}", "--output={root}/o.tif"], "exactly one of"),
    "predict: both model and workdir": (["predict", "--model={bundle}", "--workdir={workdir}",
                                         "--input={aniso}", "--output={root}/o.tif"], "exactly one of"),
    "predict: workdir not trained": (["predict", "--workdir={root}", "--input={aniso}", "--output={root}/o.tif"],
                                     "no finished training"),
    "predict: model missing": (["predict", "--model={root}/none.bundle", "--input={aniso}",
                                "--output={root}/o.tif"], "is neither a bundle or training workdir nor a shipped model"),
    "predict: other anisotropy": (["predict", "--model={bundle}", "--input={x3}", "--output={root}/o.tif"],
                                  "trained for anisotropy x4"),
    "predict: bundle of another format": (["predict", "--model={old}", "--input={aniso}", "--output={root}/o.tif"],
                                          "bundle of format 0"),
    "predict: fuse unknown": (["predict", "--model={bundle}", "--input={aniso}", "--output={root}/o.tif",
                               "--fuse=median"], "fuse"),
    "export: not a workdir": (["export", "--workdir={root}", "--output={root}/e.bundle"], "no finished training"),
    "export: onto the workdir": (["export", "--workdir={workdir}", "--output={workdir}"], ""),
    "predict: bundle.json not JSON": (["predict", "--model={b_notjson}", "--input={aniso}", "--output={root}/o.tif"],
                                      "bundle.json is not valid JSON"),
    "predict: bundle without config": (["predict", "--model={b_noconfig}", "--input={aniso}",
                                        "--output={root}/o.tif"], "has no model config"),
    "predict: bundle step not a number": (["predict", "--model={b_stepabc}", "--input={aniso}",
                                           "--output={root}/o.tif"], "gives the training step as 'abc'"),
    "predict: bundle with text for a number": (["predict", "--model={b_strnum}", "--input={aniso}",
                                                "--output={root}/o.tif"], "infer.tile='big' (a number is due)"),
    "predict: workdir config not JSON": (["predict", "--workdir={w_badcfg}", "--input={aniso}",
                                          "--output={root}/o.tif"], "config.json is not valid JSON"),
    "export: workdir config not JSON": (["export", "--workdir={w_badcfg}", "--output={root}/e.bundle"],
                                        "config.json is not valid JSON"),
    "train: a TIFF as the config": (["train", "--config={aniso}", "--workdir={root}/t13"],
                                    "is not a Python config file"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_train_predict_export_input(name, trained, capsys):
  template, fragment = BAD[name]
  argv = [a.format(**{k: str(v) for k, v in trained.items()}) for a in template]
  before = sorted(os.listdir(trained["root"]))
  code = main(["jax-iso"] + argv)
  err = capsys.readouterr().err.strip()
  assert code == 2, (name, err)
  assert len(err.splitlines()) == 1 and err.startswith("jax-iso "), err
  assert fragment in err, (fragment, err)
  assert sorted(os.listdir(trained["root"])) == before   # nothing written, no temp left


@pytest.mark.slow
def test_a_damaged_checkpoint_prints_one_line_and_nothing_after_it(trained):
  """orbax's reads still in flight when the restore failed call back into its closed event loop after the error
  was printed ("Event loop is closed" tracebacks at exit): the command's process must stay silent."""
  proc = subprocess.run([sys.executable, "-m", "jax_iso", "predict", f"--workdir={trained['w_badckpt']}",
                         f"--input={trained['aniso']}", f"--output={trained['root']}/o.tif"], capture_output=True,
                        text=True, env={**os.environ, "JAX_ISO_PROGRESS": "0"}, check=False)
  lines = proc.stderr.strip().splitlines()
  assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
  assert "the checkpoint of step 2 cannot be read" in lines[0]
