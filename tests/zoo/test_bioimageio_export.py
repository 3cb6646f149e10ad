"""`jax-iso export --format=bioimageio`: tiny U-Net and A2I-3DEM runs packaged, validated with the zoo's spec
library, and their ONNX weights run with onnxruntime against jax_iso's own model apply."""
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from jax_iso.cli.main import main
from jax_iso.models.loader import load_model
from jax_iso.models.registry import build_model, init_params
from jax_iso.zoo import onnx_export
from shared_data import write_sample_sections

bioimageio_spec = pytest.importorskip("bioimageio.spec")
ort = pytest.importorskip("onnxruntime")

# ONNX Runtime and XLA take the same float32 products in another order (convolutions, matmuls, softmax sums):
# ~1e-6 apart on these [0, 1] tiles; 1e-4 is the tolerance the package states (rdf.ABS_TOLERANCE).
ATOL = RTOL = 1e-4


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
  """2-step tiny unet and a2i runs on x4 sections of the real sample, exported as a folder and as a .zip."""
  root = tmp_path_factory.mktemp("zoo")
  aniso = write_sample_sections(root / "aniso.tif", 48, depth=48)
  out = {"root": root}
  for method, config, package in (("unet", "unet:tiny", "unet_zoo"), ("a2i", "a2i_3dem:tiny", "a2i_zoo.zip")):
    workdir = root / method
    assert main(["jax-iso", "train", f"--config={config}", f"--workdir={workdir}", f"--config.data.path={aniso}",
                 "--config.train.steps=2"]) == 0
    assert main(["jax-iso", "export", "--format=bioimageio", f"--workdir={workdir}",
                 f"--output={root / package}"]) == 0
    out[method] = (workdir, root / package)
  return out


def _read_package(package):
  """(rdf dict, test input, test output) of a package folder or .zip (a .zip is unpacked beside it)."""
  if package.suffix == ".zip":
    folder = package.with_suffix("")
    shutil.unpack_archive(package, folder)
    package = folder
  rdf = yaml.safe_load((package / "rdf.yaml").read_text())
  return package, rdf, np.load(package / "test_input.npy"), np.load(package / "test_output.npy")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["unet", "a2i"])
def test_package_is_valid_for_the_zoo(packages, method):
  _, package = packages[method]
  described = bioimageio_spec.load_description(package, perform_io_checks=True)   # hashes, test tensor shapes
  summary = described.validation_summary
  assert summary.status in ("valid-format", "passed"), summary.format()
  assert type(described).__name__ == "ModelDescr" and described.weights.onnx is not None
  folder = _read_package(package)[0]
  latest = bioimageio_spec.validate_format(             # also valid once upgraded to the newest 0.5.x format
      yaml.safe_load((folder / "rdf.yaml").read_text()), format_version="latest",
      context=bioimageio_spec.ValidationContext(root=folder, perform_io_checks=True))
  assert latest.status in ("valid-format", "passed"), latest.format()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["unet", "a2i"])
def test_onnx_weights_reproduce_jax_iso_on_the_test_tile(packages, method):
  workdir, package = packages[method]
  folder, rdf, raw, expected = _read_package(package)
  (inp,), (outp,) = rdf["inputs"], rdf["outputs"]
  # the tile jax_iso's tiler feeds the model: tile 64 + 2 x margin 16, at the sample's 10 nm (40 nm / x4)
  assert raw.shape == expected.shape == (1, 1, 96, 96)
  assert [a.get("size") for a in inp["axes"][2:]] == [96, 96] and [a["scale"] for a in inp["axes"][2:]] == [10, 10]
  assert [a["halo"] for a in outp["axes"][2:]] == [16, 16]
  assert 30 < raw.mean() < 230                                 # stored uint8 units of a real EM tile
  (step,) = inp["preprocessing"]
  assert step["id"] == "scale_linear"
  x = (raw * np.float32(step["kwargs"]["gain"]) + np.float32(step["kwargs"]["offset"])).astype(np.float32)
  np.testing.assert_allclose(x, raw / 255.0, atol=1e-6)        # the uint8 window [0, 255] -> [0, 1]

  session = ort.InferenceSession(str(folder / rdf["weights"]["onnx"]["source"]), providers=["CPUExecutionProvider"])
  got = session.run(None, {inp["id"]: x})[0]
  loaded = load_model(workdir)
  ours = np.asarray(loaded.model.apply(loaded.params, jnp.asarray(x[:, 0])))[:, None]
  np.testing.assert_allclose(expected, ours, atol=ATOL, rtol=RTOL)
  np.testing.assert_allclose(got, expected, atol=ATOL, rtol=RTOL)
  np.testing.assert_allclose(got, ours, atol=ATOL, rtol=RTOL)
  assert np.abs(ours - x).max() > 1e-3                         # the model changes the tile: a real comparison

  metrics = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
  psnr = [m["eval_psnr"] for m in metrics if "eval_psnr" in m][-1]
  assert rdf["config"]["jax_iso"]["metrics"]["eval_psnr_db"] == pytest.approx(psnr)
  assert rdf["training_data"]["name"] == "aniso.tif"


@pytest.mark.slow
def test_non_feed_forward_method_gets_one_line_and_nothing_written(packages, tmp_path, capsys):
  workdir, _ = packages["unet"]
  other = tmp_path / "diffusion_run"
  shutil.copytree(workdir, other)
  config = json.loads((other / "config.json").read_text())
  (other / "config.json").write_text(json.dumps(config | {"method": "vemdiffuse_a"}))
  output = tmp_path / "out_zoo"
  capsys.readouterr()
  assert main(["jax-iso", "export", "--format=bioimageio", f"--workdir={other}", f"--output={output}"]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "vemdiffuse_a" in err and "--format=bundle" in err and "unet, a2i" in err
  assert not output.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["diffusion_run"]


@pytest.mark.slow   # its module fixture trains a model
def test_unknown_format_and_input_without_bioimageio_are_refused(packages, tmp_path, capsys):
  workdir, _ = packages["unet"]
  assert main(["jax-iso", "export", "--format=onnx", f"--workdir={workdir}", f"--output={tmp_path / 'o'}"]) == 2
  assert main(["jax-iso", "export", f"--input={workdir}", f"--workdir={workdir}", f"--output={tmp_path / 'o'}"]) == 2
  assert len(capsys.readouterr().err.strip().splitlines()) == 2 and not (tmp_path / "o").exists()


@pytest.mark.slow
@pytest.mark.parametrize("config", ["unet", pytest.param("a2i_3dem", marks=pytest.mark.long)])
def test_converter_matches_jax_where_the_model_changes_its_input_a_lot(config):
  """Two training steps leave small corrections (A2I's head starts at zero); parameters jittered by 0.05 make the
  correction O(1), so a wrong rule for any primitive on the path shows far above the float32 tolerance."""
  import importlib  # pylint: disable=g-import-not-at-top
  model = build_model(importlib.import_module(f"configs.{config}").get_config("tiny").model)
  params = init_params(model, jax.random.key(0), (1, 32, 32))
  rng = np.random.default_rng(1)
  params = jax.tree.map(lambda p: np.asarray(p) + np.float32(0.05) * rng.standard_normal(p.shape, np.float32),
                        params)
  fn = lambda x: model.apply(params, x[:, 0])[:, None]   # noqa: E731
  x = np.random.default_rng(0).random((1, 1, 64, 96), np.float32)
  onnx_model = onnx_export.to_onnx(fn, x.shape)
  got = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
      None, {"input0": x})[0]
  ours = np.asarray(jax.jit(fn)(x))
  assert np.abs(ours - x).max() > 0.1
  np.testing.assert_allclose(got, ours, atol=ATOL, rtol=RTOL)


def test_converter_names_a_primitive_it_cannot_convert():
  with pytest.raises(NotImplementedError, match="cumsum"):
    onnx_export.to_onnx(lambda x: jnp.cumsum(x, axis=-1), (1, 4))
