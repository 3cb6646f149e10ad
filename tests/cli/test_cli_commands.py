"""The installed command: help texts, exit codes and a full simulate/reconstruct/evaluate run."""
import json
import pytest
import subprocess
import sys

from jax_iso.cli.main import SUBCOMMANDS, main
from jax_iso.samples import FIBSEM_10NM


def _run(*args):
  return subprocess.run([sys.executable, "-m", "jax_iso", *args], capture_output=True, text=True,
                        env={"JAX_ISO_PROGRESS": "0", "PATH": "/usr/bin:/bin"}, check=False)


def test_help_lists_every_subcommand(capsys):
  assert main(["jax-iso", "help"]) == 0
  text = capsys.readouterr().out
  assert all(name in text for name in SUBCOMMANDS)
  assert main(["jax-iso"]) == 2


def test_subcommand_help_lists_its_flags(capsys):
  for name, flag in [("simulate", "--profile"), ("reconstruct", "--method"), ("evaluate", "--report_dir"),
                     ("train", "--workdir"), ("predict", "--fuse"), ("export", "--output"), ("demo", "--methods")]:
    assert main(["jax-iso", name, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: jax-iso {name}") and flag in text
    assert main(["jax-iso", "help", name]) == 0
    assert capsys.readouterr().out == text


@pytest.mark.slow
@pytest.mark.ci
def test_command_line_end_to_end(tmp_path):
  aniso, rec, rep = tmp_path / "a.tif", tmp_path / "r.tif", tmp_path / "rep"
  done = _run("simulate", f"--input={FIBSEM_10NM}", f"--output={aniso}", "--factor=4")
  assert done.returncode == 0 and "40 x 160 x 160" in done.stdout, done.stderr
  done = _run("reconstruct", f"--input={aniso}", f"--output={rec}", "--method=cubic")
  assert done.returncode == 0 and "160 x 160 x 160" in done.stdout, done.stderr
  done = _run("evaluate", f"--pred={rec}", f"--ref={FIBSEM_10NM}", f"--report_dir={rep}")
  assert done.returncode == 0, done.stderr
  assert "PSNR" in done.stdout and "Z res" in done.stdout
  assert json.loads((rep / "metrics.json").read_text())["psnr"] > 28


@pytest.mark.slow
def test_command_line_bad_input_exit_code(tmp_path):
  done = _run("reconstruct", f"--input={tmp_path / 'missing.tif'}", f"--output={tmp_path / 'o.tif'}")
  assert done.returncode == 2
  assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
  assert not (tmp_path / "o.tif").exists()
