"""`reconstruct`'s fit across processes: `jax-iso reconstruct --method=unet --distributed` in 2 local CPU processes
with a local coordinator (one CPU device each) against the same command in 1 process, on the tiny U-Net fitted
for a few steps on a small real EM crop.

The two processes train the model together, as `jax-iso train --distributed` does (each reads its block of every
global batch of the same 4 crops), in one hidden folder beside the output that process 0 names and removes, then
each writes its rows of the one OME-Zarr. The output equals the 1-process output within ATOL: the 2-process
fit's mean loss and gradients are two per-process partial sums joined by an all-reduce instead of one sum over the
batch, so its parameters may differ from the 1-process fit's in the last float32 bits (the loss curves of
`tests/train/test_multiprocess_train.py` differ by at most 1.7e-7 relative), and the network's output carries
that on at a few float32 ulps of its [0, 1] intensities (measured: at most 1.2e-7, one ulp, at 4.9 % of the
voxels); ATOL leaves a hundred of them. The input is the crop as
float32 in [0, 1] so that the output is float32 too (a uint8 output would round such differences to 0 or 1 grey
level).
"""
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pytest

from jax_iso import io
from local_processes import distributed_flags, ended, free_port
from shared_data import write_sample_sections

ROOT = pathlib.Path(__file__).resolve().parents[2]
STEPS = 6
ATOL = 1e-5          # intensities in [0, 1]; float32 eps is 1.2e-7 (reason: module docstring)
TIMEOUT = 400        # seconds a command may take (2 loaded cores: start-up, compiles, 6 steps, inference)


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
  """24 sections (x4, 40 nm) of 128 x 128 of the real 10 nm FIB-SEM sample, float32 in [0, 1]: the output's
  rows split into two chunks of 64, one per process."""
  folder = tmp_path_factory.mktemp("data")
  sections = write_sample_sections(folder / "u8.tif", 128, depth=96)
  data, spacing = io.read_volume(sections)
  path = folder / "crop.tif"
  io.write_volume(path, data.astype(np.float32) / 255.0, spacing)
  return path


def _reconstruct(crop: pathlib.Path, output: pathlib.Path, *, processes: int) -> list[str]:
  """Runs `processes` processes of the same reconstruct command (under jax.distributed when more than one) to the
  end; returns their output."""
  flags = [f"--input={crop}", f"--output={output}", "--method=unet", "--variant=tiny", f"--train_steps={STEPS}"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_ISO_PROGRESS": "0",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
  port, logs = free_port(), []
  with ended([]) as procs:
    for i in range(processes):
      logs.append(output.parent / f"{output.name}-{i}.log")
      with logs[-1].open("w") as log:
        procs.append(subprocess.Popen([sys.executable, "-m", "jax_iso", "reconstruct", *flags,
                                       *distributed_flags(port, processes, i)],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT
    codes = [p.wait(timeout=max(1.0, deadline - time.monotonic())) for p in procs]
  outs = [log.read_text() for log in logs]
  assert codes == [0] * processes, "\n".join(o[-3000:] for o in outs)
  return outs


@pytest.mark.slow
@pytest.mark.long
def test_two_processes_fit_together_and_write_the_one_process_output(crop, tmp_path):
  one, two = tmp_path / "one.ome.zarr", tmp_path / "two.ome.zarr"
  _reconstruct(crop, one, processes=1)
  outs = _reconstruct(crop, two, processes=2)
  assert sum(f"fitted unet on the input, 2 processes together: {STEPS} steps" in out for out in outs) == 2, outs
  assert sum("wrote rows 0 to 64" in out for out in outs) == 1 and sum("wrote rows 64 to 128" in out
                                                                          for out in outs) == 1, outs
  assert sum("completed" in out for out in outs) == 1, outs
  assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".log")) == [one.name, two.name]  # no
  a, spacing_a = io.read_volume(one)                                               # fit folder or work left
  b, spacing_b = io.read_volume(two)
  assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (96, 128, 128) and spacing_a == spacing_b
  np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)
