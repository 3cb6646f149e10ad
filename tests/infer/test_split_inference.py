"""Inference split across processes (`io.Part`): each writes its rows of one OME-Zarr, and the result equals
one process's, bit for bit; two real processes under jax.distributed with a local coordinator."""
import os
import subprocess
import sys

import numpy as np
import pytest

from jax_iso import infer, io
from jax_iso.cli.main import main
from jax_iso.degrade import grid
from jax_iso.errors import UserError
from jax_iso.infer.tiles import predict_planes
from jax_iso.io import shared_sink

from local_processes import free_port

SAMPLE = os.path.join(os.path.dirname(io.__file__), "..", "samples", "flyem_medulla_fibsem_10nm_iso_160.tif")


def _model(x):
  """A numpy "model" whose output depends on the position inside the tile, so tile seams show."""
  return np.tanh(2.0 * x) * 0.8 + 0.1 * np.roll(x, 1, axis=-1)


@pytest.mark.parametrize("cols", [(0, 64), (64, 128), (100, 300), (5, 6), (299, 300)])
def test_tiles_of_a_column_range_equal_the_whole_plane(cols):
  planes = np.random.default_rng(0).random((3, 70, 300), dtype=np.float32)
  kw = dict(tile=64, overlap=16, margin=8, batch_size=4, multiple=4, exact_batch=True)
  whole = predict_planes(_model, planes, **kw)
  np.testing.assert_array_equal(predict_planes(_model, planes, cols=cols, **kw), whole[..., cols[0]:cols[1]])


@pytest.mark.parametrize("n_y,count", [(160, 2), (160, 3), (250, 4), (30, 2), (64, 1), (1000, 7)])
def test_parts_cover_the_rows_once_in_whole_chunks(n_y, count):
  rows = [io.Part(i, count).rows(n_y) for i in range(count)]
  assert rows[0][0] == 0 and rows[-1][1] == n_y
  assert all(a[1] == b[0] for a, b in zip(rows, rows[1:]))                      # contiguous, disjoint
  chunk = min(64, n_y)
  assert all(y0 % chunk == 0 for y0, _ in rows)                                  # no chunk has two writers
  with pytest.raises(UserError, match="process_index=2 with process_count=2"):
    io.Part(2, 2)


def _sections(n_y=100):
  rng = np.random.default_rng(1)
  return (rng.random((12, n_y, 90)) * 255).astype(np.uint8)


@pytest.mark.parametrize("fuse", ["mean", "yz", "xz"])
def test_planes_split_in_parts_equal_one_process(fuse):
  sections = _sections(150)
  shape = (grid.fine_count(12, 4.0),) + sections.shape[1:]
  tiling = infer.Tiling(tile=32, overlap=8, margin=8, batch_size=4, multiple=4)
  kw = dict(factor=4.0, intensity=io.intensity_of(sections), fuse=fuse, memory=infer.Memory(slabs=16),
            progress=False)
  whole = np.zeros(shape, np.uint8)
  infer.reconstruct_planes(sections, whole, _model, tiling, **kw)
  split = np.zeros(shape, np.uint8)
  for i in range(3):
    summary = infer.reconstruct_planes(sections, split, _model, tiling, rows=io.Part(i, 3).rows(150), **kw)
    assert summary["rows"] == list(io.Part(i, 3).rows(150))
  np.testing.assert_array_equal(split, whole)


def test_shared_output_is_completed_by_the_last_part(tmp_path):
  data = _sections(130)
  path = tmp_path / "out.ome.zarr"
  parts = [io.Part(i, 2) for i in range(2)]
  sinks = [io.create_volume(path, data.shape, np.uint8, (40.0, 4.0, 4.0), part=p) for p in parts]  # 0 opens first
  for part, sink in zip(parts, sinks):
    y0, y1 = part.rows(130)
    sink[:, y0:y1, :] = data[:, y0:y1, :]
  sinks[1].commit()
  assert sinks[1].parts_done == 1 and not sinks[1].committed and not path.exists()
  sinks[0].commit()
  assert sinks[0].committed and sinks[0].parts_done == 2
  out, spacing = io.read_volume(path)
  np.testing.assert_array_equal(out, data)
  assert spacing == (40.0, 4.0, 4.0) and not (tmp_path / ".out.ome.zarr.work").exists()


def test_a_part_waits_for_process_0_and_tiff_is_refused(tmp_path, monkeypatch):
  monkeypatch.setattr(shared_sink, "WAIT_SECONDS", 0.5)
  with pytest.raises(UserError, match="process 0 did not open .* within"):
    io.create_volume(tmp_path / "o.ome.zarr", (4, 8, 8), np.uint8, None, part=io.Part(1, 2))
  with pytest.raises(UserError, match="only as OME-Zarr"):
    io.create_volume(tmp_path / "o.tif", (4, 8, 8), np.uint8, None, part=io.Part(0, 2))


def test_an_interrupted_part_runs_again_into_the_same_output(tmp_path):
  data = _sections(130)
  path = tmp_path / "out.ome.zarr"
  first = io.create_volume(path, data.shape, np.uint8, None, part=io.Part(0, 2))
  first[:, :64, :] = data[:, :64, :]
  first.commit()                                           # part 0 done; part 1 is killed before it writes
  again = io.create_volume(path, data.shape, np.uint8, None, part=io.Part(1, 2))
  again[:, 64:, :] = data[:, 64:, :]
  again.commit()
  assert again.committed
  np.testing.assert_array_equal(io.read_volume(path)[0], data)


def test_cli_parts_of_a_reconstruction_equal_one_process(tmp_path, capsys):
  aniso = tmp_path / "aniso.tif"
  assert main(["jax-iso", "simulate", f"--input={SAMPLE}", f"--output={aniso}", "--factor=4"]) == 0
  assert main(["jax-iso", "reconstruct", f"--input={aniso}", f"--output={tmp_path}/one.ome.zarr"]) == 0
  for index in (0, 1):    # one after the other, as a job array may run them
    args = [f"--input={aniso}", f"--output={tmp_path}/two.ome.zarr", f"--process_index={index}",
            "--process_count=2"]
    assert main(["jax-iso", "reconstruct", *args]) == 0
  printed = capsys.readouterr().out
  assert "part 0 of 2: wrote rows 0 to 64" in printed and "part 1 of 2: wrote rows 64 to 160" in printed
  assert "completed" in printed.splitlines()[-1]
  np.testing.assert_array_equal(io.read_volume(tmp_path / "two.ome.zarr")[0],
                                io.read_volume(tmp_path / "one.ome.zarr")[0])


@pytest.mark.slow
@pytest.mark.ci
def test_two_processes_under_jax_distributed_equal_one(tmp_path):
  aniso = tmp_path / "aniso.tif"
  volume = io.read_volume(SAMPLE)[0][:, :130, :96]
  io.write_volume(tmp_path / "iso.tif", volume, (10.0, 10.0, 10.0))
  assert main(["jax-iso", "simulate", f"--input={tmp_path}/iso.tif", f"--output={aniso}", "--factor=4"]) == 0
  assert main(["jax-iso", "reconstruct", f"--input={aniso}", f"--output={tmp_path}/one.ome.zarr"]) == 0
  port = free_port()
  env = {**os.environ, "JAX_ISO_PROGRESS": "0", "JAX_PLATFORMS": "cpu"}
  procs = [subprocess.Popen([sys.executable, "-m", "jax_iso", "reconstruct", f"--input={aniso}",
                             f"--output={tmp_path}/two.ome.zarr", "--distributed", f"--coordinator=localhost:{port}",
                             "--process_count=2", f"--process_index={i}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True) for i in range(2)]
  outs = [p.communicate(timeout=240)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs
  assert sum("completed" in out for out in outs) == 1, outs
  np.testing.assert_array_equal(io.read_volume(tmp_path / "two.ome.zarr")[0],
                                io.read_volume(tmp_path / "one.ome.zarr")[0])
