"""Resuming: resumable writers reopen their temp, and a killed reconstruction continues where it stopped."""
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jax_iso import infer, io
from jax_iso.errors import UserError
from jax_iso.infer import resume
from jax_iso.io.sink import read_json, work_path
from jax_iso.samples import FIBSEM_10NM
from planes_job import run

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _names(folder):
  return sorted(os.listdir(folder))


@pytest.mark.parametrize("ext", [".tif", ".ome.zarr"])
def test_resumable_writer_reopens_its_temp_after_an_exception(tmp_path, ext):
  path = tmp_path / f"out{ext}"
  work = work_path(path)
  data = np.arange(4 * 5 * 66, dtype=np.uint16).reshape(4, 5, 66)
  with pytest.raises(RuntimeError):
    with io.create_volume(path, data.shape, np.uint16, (2.0, 1.0, 1.0), resume_dir=work) as sink:
      assert not sink.resumed
      sink[:2] = data[:2]
      raise RuntimeError("interrupted")
  assert not path.exists() and _names(tmp_path) == [f".out{ext}.work"]   # kept for the next run
  with io.create_volume(path, data.shape, np.uint16, (2.0, 1.0, 1.0), resume_dir=work) as sink:
    assert sink.resumed
    sink[2:] = data[2:]
  out, spacing = io.read_volume(path)
  np.testing.assert_array_equal(out, data)
  assert spacing == (2.0, 1.0, 1.0) and _names(tmp_path) == [f"out{ext}"]


@pytest.mark.parametrize("ext", [".tif", ".zarr"])
def test_resumable_writer_starts_empty_when_the_header_differs(tmp_path, ext):
  path = tmp_path / f"out{ext}"
  work = work_path(path)
  sink = io.create_volume(path, (3, 4, 5), np.uint8, (1.0, 1.0, 1.0), resume_dir=work)
  sink[...] = 7
  sink.suspend()
  for shape, spacing, description in [((3, 4, 5), (2.0, 1.0, 1.0), None), ((3, 4, 6), (1.0, 1.0, 1.0), None),
                                      ((3, 4, 5), (1.0, 1.0, 1.0), {"model": "other"})]:
    sink = io.create_volume(path, shape, np.uint8, spacing, description=description, resume_dir=work)
    assert not sink.resumed
    sink.suspend()
  sink = io.create_volume(path, (3, 4, 5), np.uint8, (1.0, 1.0, 1.0), description={"model": "other"},
                          resume_dir=work)
  assert sink.resumed                                  # the last header written
  sink.abort()
  assert _names(tmp_path) == []


def test_a_second_writer_of_the_same_output_is_refused(tmp_path):
  path = tmp_path / "out.tif"
  first = io.create_volume(path, (2, 3, 4), np.uint8, None, resume_dir=True)
  assert first.resume_dir == work_path(path) == str(tmp_path / ".out.tif.work")
  with pytest.raises(UserError, match="another process"):
    io.create_volume(path, (2, 3, 4), np.uint8, None, resume_dir=work_path(path))
  first.commit()
  assert _names(tmp_path) == ["out.tif"]


def test_fingerprint_tells_params_apart():
  params = {"conv": {"kernel": np.ones((3, 3), np.float32)}}
  same = {"conv": {"kernel": np.ones((3, 3), np.float32)}}
  other = {"conv": {"kernel": np.full((3, 3), 1.0 + 1e-7, np.float32)}}
  assert infer.fingerprint(params, {"depth": 2}) == infer.fingerprint(same, {"depth": 2})
  assert infer.fingerprint(params, {"depth": 2}) != infer.fingerprint(other, {"depth": 2})
  assert infer.fingerprint(params, {"depth": 2}) != infer.fingerprint(params, {"depth": 3})


@pytest.fixture(scope="module")
def sections(tmp_path_factory):
  """12 sections of 40 x 48 (uint8) -> 48 fine slices: 6 YZ slabs (X) and 5 XZ slabs (Y) of 8 planes."""
  path = tmp_path_factory.mktemp("src") / "sections.tif"
  io.write_volume(path, io.read_volume(FIBSEM_10NM)[0][:48:4, 60:100, 50:98], (40.0, 10.0, 10.0))
  return path


def _windows(calls):
  """(YZ calls, XZ calls): YZ planes are [48, 40] (window width 24 + 16), XZ planes [48, 48] (28 + 16)."""
  return calls.count(40), calls.count(44)


def _kill_during_the_second_pass(sections, out, log):
  manifest = pathlib.Path(work_path(out)) / resume.MANIFEST
  env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu", "JAX_ISO_PROGRESS": "0"}
  proc = subprocess.Popen([sys.executable, str(HERE / "planes_job.py"), str(sections), str(out), str(log), "0.02",
                           "model-1"],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  try:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
      done = read_json(str(manifest)) if manifest.exists() else None
      if done and done["done"]["xz"]:
        break
      time.sleep(0.005)
  finally:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
  assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
  return read_json(str(manifest))["done"]


@pytest.mark.slow
@pytest.mark.parametrize("ext", [".tif", ".ome.zarr"])
def test_killed_reconstruction_resumes_at_the_first_unfinished_slab(tmp_path, sections, ext):
  out = tmp_path / f"iso{ext}"
  done = _kill_during_the_second_pass(sections, out, tmp_path / "log1")
  assert not out.exists() and os.path.isdir(work_path(out))
  assert done["yz"] == [0, 8, 16, 24, 32, 40] and 1 <= len(done["xz"]) < 5
  killed_calls = _windows([int(v) for v in (tmp_path / "log1").read_text().split()])
  assert killed_calls[0] == 6 * 8                           # 8 planes x 4 tiles / batch of 4 = 8 calls a slab

  summary, calls = run(sections, out)                      # the same command again
  assert summary["slabs_skipped"] == {"yz": 6, "xz": len(done["xz"])}
  assert _windows(calls) == (0, (5 - len(done["xz"])) * 8)  # only the unfinished XZ slabs ran
  assert _names(tmp_path) == ["iso" + ext, "log1"]           # committed; work folder gone

  ref = tmp_path / f"ref{ext}"
  run(sections, ref)                                       # uninterrupted
  np.testing.assert_array_equal(io.read_volume(out)[0], io.read_volume(ref)[0])


def test_different_model_starts_over_and_says_so(tmp_path, sections, capfd):
  out = tmp_path / "iso.tif"
  with pytest.raises(KeyboardInterrupt) as stopped:
    run(sections, out, fail_after=60)                      # stopped in the YZ pass
  assert "run the same command again" in " ".join(stopped.value.__notes__) and os.path.isdir(work_path(out))

  summary, calls = run(sections, out, fingerprint="model-2")
  err = capfd.readouterr().err
  assert "starting iso.tif over" in err and "fingerprint" in err
  assert summary["slabs_skipped"] == {"yz": 0, "xz": 0} and _windows(calls) == (48, 40)
  ref = tmp_path / "ref.tif"
  run(sections, ref, fingerprint="model-2")
  np.testing.assert_array_equal(io.read_volume(out)[0], io.read_volume(ref)[0])


def test_interrupted_then_resumed_in_process_after_the_first_pass(tmp_path, sections, capfd):
  out = tmp_path / "iso.ome.zarr"
  with pytest.raises(KeyboardInterrupt):
    run(sections, out, fail_after=48 + 20)                 # 2 XZ slabs done, the 3rd cut
  capfd.readouterr()
  summary, calls = run(sections, out)
  assert "resuming iso.ome.zarr: 8 of 11 slabs" in capfd.readouterr().err
  assert summary["slabs_skipped"] == {"yz": 6, "xz": 2} and _windows(calls) == (0, 24)


def test_changed_input_starts_over(tmp_path, sections, capfd):
  src = tmp_path / "sections.tif"
  src.write_bytes(sections.read_bytes())
  out = tmp_path / "iso.tif"
  with pytest.raises(KeyboardInterrupt):
    run(src, out, fail_after=20)
  data = io.read_volume(src)[0]
  io.write_volume(src, 255 - data, (40.0, 10.0, 10.0))
  capfd.readouterr()
  summary, _ = run(src, out)
  err = capfd.readouterr().err
  assert "starting iso.tif over" in err and "input" in err
  assert summary["slabs_skipped"] == {"yz": 0, "xz": 0}


def _zarr_copy(sections, folder):
  """`sections` as a zarr v2 array with nested chunks (2 x 8 x 8: 180 chunk files in sub-folders)."""
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  data, _ = io.read_volume(sections)
  store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(folder)},
                   "metadata": {"shape": list(data.shape), "chunks": [2, 8, 8], "dtype": "|u1",
                                "dimension_separator": "/", "fill_value": 0}}, create=True).result()
  store[...] = data
  return store, data


def test_a_chunk_rewritten_deep_inside_a_folder_input_starts_over(tmp_path, sections, capfd):
  """The scenario of a resume that mixed two inputs: a chunk of the input zarr rewritten between the killed run
  and its rerun (nothing changes at the folder's top level) must not be resumed from."""
  src = tmp_path / "in.zarr"
  store, data = _zarr_copy(sections, src)
  top = sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(src))
  out = tmp_path / "iso.tif"
  with pytest.raises(KeyboardInterrupt):
    run(src, out, fail_after=48 + 20)                      # the YZ pass done, 2 XZ slabs
  store[4:6, 8:16, 8:16] = 255 - data[4:6, 8:16, 8:16]     # chunk 2/1/1 rewritten in place
  assert sorted((e.name, e.stat().st_mtime_ns) for e in os.scandir(src)) == top
  capfd.readouterr()
  summary, calls = run(src, out)
  err = capfd.readouterr().err
  assert "starting iso.tif over" in err and "other input data" in err and "rewritten" in err
  assert summary["slabs_skipped"] == {"yz": 0, "xz": 0} and _windows(calls) == (48, 40)
  ref = tmp_path / "ref.tif"
  run(src, ref)                                            # a fresh run on the new input
  np.testing.assert_array_equal(io.read_volume(out)[0], io.read_volume(ref)[0])


def test_input_identity_sees_every_file_of_a_folder_and_the_file_of_an_hdf5_dataset(tmp_path, sections):
  import h5py  # pylint: disable=g-import-not-at-top
  src = tmp_path / "in.zarr"
  store, data = _zarr_copy(sections, src)
  with io.open_volume(src) as vol:
    before = resume.input_identity(vol)
  store[0:2, 0:8, 0:8] = data[0:2, 0:8, 0:8] ^ 1
  with io.open_volume(src) as vol:
    after = resume.input_identity(vol)
  assert before["files"] == after["files"] == 6 * 5 * 6 + 1 and before["listing"] != after["listing"]
  h5 = tmp_path / "f.h5"
  with h5py.File(h5, "w") as f:
    f.create_dataset("volumes/raw", data=data)
    f.create_dataset("volumes/labels", data=data)
  with io.open_volume(f"{h5}/volumes/raw") as vol:
    ident = resume.input_identity(vol)
  assert ident["path"] == os.path.abspath(f"{h5}/volumes/raw") and ident["size"] == os.path.getsize(h5)
