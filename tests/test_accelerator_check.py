"""`experiments/accelerator_check.py --quick` on the CPU: the script a GPU or TPU run will use still runs every
learned method's train step and inference tile end to end, and its JSON holds what the README quotes (times,
FLOP/s against the matmul peak, memory, parity with the CPU).

It runs once, in a subprocess (its own JAX state, the CPU backend forced, the persistent compilation cache of
the tests), for all the tests of this module: a few minutes on 2 CPU cores, mostly tracing and compiling.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jax_iso import methods

from shared_data import ROOT

SCRIPT = ROOT / "experiments" / "accelerator_check.py"
pytestmark = [pytest.mark.slow, pytest.mark.ci]   # CI runs accelerator_check.py --quick (`make test-ci`)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
  """The JSON of one `--quick` run on the CPU."""
  out = tmp_path_factory.mktemp("accelerator") / "accelerator_cpu.json"
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.2",
         "JAX_COMPILATION_CACHE_DIR": os.environ.get("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".cache" / "jax"))}
  run = subprocess.run([sys.executable, str(SCRIPT), "--quick", f"--out={out}"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=3600, check=False)
  assert run.returncode == 0, f"accelerator_check.py failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
  assert "parity" in run.stdout and "GFLOP/s" in run.stdout            # the table is printed
  return json.loads(out.read_text())


def _measured(report: dict):
  """(method, part name, part) of every train step and tile."""
  for row in report["rows"]:
    for part in ("train_step", "tile"):
      yield row["method"], part, row[part]


def test_quick_run_records_the_machine_and_the_matmul_peak(report):
  assert report["backend"] == "cpu" and report["sizes"] == "tiny" and report["quick"] is True
  assert report["device_kind"] and report["jax"] and report["cpu"]
  assert report["matmul_peak"]["float32"]["flop_per_s"] > 0
  assert "bfloat16" not in report["matmul_peak"]                        # measured off the CPU only


def test_every_learned_method_has_a_row_without_errors(report):
  rows = {row["method"]: row for row in report["rows"]}
  assert sorted(rows) == sorted(methods.names(learned=True))
  for name, row in rows.items():
    assert "error" not in row, row
    assert row["variant"] == "tiny", name
    for part in ("train_step", "tile"):
      assert "error" not in row[part], (name, part, row[part])


def test_every_step_and_tile_has_a_time_flops_and_memory(report):
  for name, part, r in _measured(report):
    assert r["seconds"] > 0 and len(r["times_s"]) == 3, (name, part)
    assert r["flops"] > 0 and r["flop_per_s"] > 0 and r["fraction_of_peak"] > 0, (name, part)
    assert r["memory"]["estimate_bytes"] > 0 and r["memory"]["argument_size_in_bytes"] > 0, (name, part)
    assert "device_peak_bytes" in r["memory"], (name, part)              # None on a CPU: no memory_stats()


def test_parity_with_a_second_compilation_is_within_the_float32_bound(report):
  bound = report["bounds"]["float32"]["rel"]
  assert report["parity_reference"].startswith("same backend")
  for row in report["rows"]:
    assert row["compute"] == "float32", row["method"]
  for name, part, r in _measured(report):
    parity = r["parity"]
    assert parity["within"] and parity["rel_diff"] <= bound == parity["bound"], (name, part, parity)
  for row in report["rows"]:                       # a diffusion tile's parity is taken on the network's output
    assert ("of" in row["tile"]["parity"]) == (row["strategy"] in ("diffusion", "between")), row["method"]


def test_rows_that_share_a_network_say_so(report):
  rows = {row["method"]: row for row in report["rows"]}
  assert rows["emdiffuse_r"]["same_network_as"] == "emdiffuse_n"
  assert rows["vemdiffuse_i"]["same_network_as"] == "vemdiffuse_a"
  assert rows["unet"]["same_network_as"] == "unet"
  assert rows["vemdiffuse_i"]["tile"]["same_as"] == "vemdiffuse_a"     # the same computation is measured once
  assert "same_as" not in rows["emdiffuse_r"]["train_step"]              # its own pair maker
