"""Every bad input in the README's table: one clear line on stderr, exit code 2, nothing written."""
import os

import numpy as np
import pytest
import tifffile

from jax_iso import io
from jax_iso.cli.main import main


@pytest.fixture
def files(tmp_path):
  """Small inputs, good and bad, in a temp folder."""
  rng = np.random.default_rng(0)
  vol = rng.integers(0, 256, (16, 24, 24), dtype=np.uint8)
  f = {}
  f["iso"] = tmp_path / "iso.tif"
  io.write_volume(f["iso"], vol, (10.0, 10.0, 10.0))
  f["aniso"] = tmp_path / "aniso.tif"
  io.write_volume(f["aniso"], vol[:4], (40.0, 10.0, 10.0))
  f["nospacing"] = tmp_path / "nospacing.tif"
  tifffile.imwrite(f["nospacing"], vol[:4], photometric="minisblack", metadata={"axes": "ZYX"})
  f["rect"] = tmp_path / "rect.tif"
  io.write_volume(f["rect"], vol[:4], (40.0, 10.0, 5.0))
  f["narrow"] = tmp_path / "narrow.tif"
  io.write_volume(f["narrow"], vol[:4, :20], (40.0, 10.0, 10.0))
  f["img2d"] = tmp_path / "img2d.tif"
  tifffile.imwrite(f["img2d"], vol[0])
  f["czyx"] = tmp_path / "czyx.tif"
  tifffile.imwrite(f["czyx"], np.stack([vol, vol]), metadata={"axes": "CZYX"})
  f["int32"] = tmp_path / "int32.tif"
  tifffile.imwrite(f["int32"], vol.astype(np.int32), metadata={"axes": "ZYX"})
  f["nan"] = tmp_path / "nan.tif"
  bad = vol.astype(np.float32) / 255
  bad[3, 4, 5] = np.nan
  tifffile.imwrite(f["nan"], bad, metadata={"axes": "ZYX"})
  f["inf"] = tmp_path / "inf.tif"
  bad[3, 4, 5] = np.inf
  tifffile.imwrite(f["inf"], bad, metadata={"axes": "ZYX"})
  f["empty"] = tmp_path / "empty.zarr"
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(f["empty"])},
           "metadata": {"shape": [0, 8, 8], "chunks": [1, 8, 8], "dtype": "|u1"}}, create=True).result()
  f["thin"] = tmp_path / "thin.tif"
  io.write_volume(f["thin"], vol[:5], (10.0, 10.0, 10.0))
  f["text"] = tmp_path / "notes.tif"
  f["text"].write_text("not an image")
  f["png"] = tmp_path / "slice.png"
  f["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
  f["afile"] = tmp_path / "afile"
  f["afile"].write_text("x")
  f["small"] = tmp_path / "small.tif"
  io.write_volume(f["small"], vol[:6, :8, :8], (40.0, 10.0, 10.0))
  f["three"] = tmp_path / "three.tif"
  io.write_volume(f["three"], vol[:3], (40.0, 10.0, 10.0))
  f["blank"] = tmp_path / "blank.tif"
  io.write_volume(f["blank"], np.zeros_like(vol[:4]), (40.0, 10.0, 10.0))
  f["two"] = tmp_path / "two.tif"
  io.write_volume(f["two"], vol[:2], (40.0, 10.0, 10.0))
  f["iso16"] = tmp_path / "iso16.tif"
  io.write_volume(f["iso16"], vol.astype(np.uint16) * 256, (10.0, 10.0, 10.0))
  f["h5two"] = tmp_path / "two.h5"
  import h5py  # pylint: disable=g-import-not-at-top
  with h5py.File(f["h5two"], "w") as h5:
    h5.create_dataset("em", data=vol[:4])
    h5.create_dataset("mito", data=vol[:4])
    h5.create_dataset("image2d", data=vol[0])
  _damaged_files(f, tmp_path, vol)
  f["out"] = tmp_path / "out.tif"
  return f


def _damaged_files(f, tmp_path, vol):
  """Damaged copies of a good volume, as an interrupted copy or a failing disk leaves them."""
  import tensorstore as ts  # pylint: disable=g-import-not-at-top
  whole = f["aniso"].read_bytes()
  f["trunc"] = tmp_path / "trunc.tif"
  f["trunc"].write_bytes(whole[:len(whole) // 2])                 # plain ImageJ TIFF cut in half
  f["zlib"] = tmp_path / "zlib.tif"
  tifffile.imwrite(f["zlib"], vol[:8], compression="zlib", metadata={"axes": "ZYX"})
  packed = f["zlib"].read_bytes()
  f["ztrunc"] = tmp_path / "ztrunc.tif"
  f["ztrunc"].write_bytes(packed[:len(packed) // 2])              # zlib TIFF cut in half
  with tifffile.TiffFile(f["zlib"]) as tif:
    offset, count = tif.pages[3].dataoffsets[0], tif.pages[3].databytecounts[0]
  f["zzero"] = tmp_path / "zzero.tif"
  f["zzero"].write_bytes(packed[:offset] + bytes(count) + packed[offset + count:])   # one strip zeroed
  f["zlib"].unlink()
  for name in ("chunks", "gaps"):
    f[name] = tmp_path / f"{name}.zarr"
    store = ts.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(f[name])},
                     "metadata": {"shape": [4, 24, 24], "chunks": [2, 12, 12], "dtype": "|u1",
                                  "dimension_separator": "/"}}, create=True).result()
    store[...] = np.maximum(vol[:4], 1)
  (f["chunks"] / "1" / "0" / "1").write_bytes(b"garbage" * 9)      # a damaged chunk
  (f["gaps"] / "1" / "1" / "0").unlink()                           # a chunk lost in the copy


CASES = {  # name: (argv whose {names} come from the `files` fixture, expected fragment of the message)
    "missing file": (["reconstruct", "--input={tmp}/nope.tif", "--output={out}"], "does not exist"),
    "not a TIFF (text renamed .tif)": (["reconstruct", "--input={text}", "--output={out}"],
                                       "is not a readable TIFF"),
    "not a TIFF/zarr (PNG)": (["reconstruct", "--input={png}", "--output={out}"],
                              "is not a volume jax_iso can read"),
    "2D image": (["simulate", "--input={img2d}", "--output={out}", "--factor=4"], "3D (Z, Y, X)"),
    "4D without --channel": (["simulate", "--input={czyx}", "--output={out}", "--factor=4"], "--channel=N"),
    "--channel out of range": (["simulate", "--input={czyx}", "--output={out}", "--factor=4", "--channel=5"],
                               "out of range"),
    "wrong dtype": (["simulate", "--input={int32}", "--output={out}", "--factor=4"],
                    "convert it to uint8, uint16 or float32"),
    "NaN": (["simulate", "--input={nan}", "--output={out}", "--factor=4"], "1 NaN"),
    "Inf": (["reconstruct", "--input={inf}", "--output={out}", "--factor=4"], "1 Inf"),
    "empty volume": (["simulate", "--input={empty}", "--output={out}", "--factor=4"], "empty"),
    "fewer slices than the factor needs": (["simulate", "--input={thin}", "--output={out}", "--factor=4"],
                                           "needs at least 8"),
    "factor <= 1": (["simulate", "--input={iso}", "--output={out}", "--factor=1"], "must be > 1"),
    "negative factor": (["reconstruct", "--input={nospacing}", "--output={out}", "--factor=-2"], "must be > 1"),
    "absurd factor": (["simulate", "--input={iso}", "--output={out}", "--factor=500"], "absurd"),
    "factor not a number": (["simulate", "--input={iso}", "--output={out}", "--factor=four"], "factor"),
    "output folder missing": (["simulate", "--input={iso}", "--output={tmp}/no/o.tif", "--factor=2"],
                              "does not exist"),
    "output folder is a file": (["simulate", "--input={iso}", "--output={afile}/o.tif", "--factor=2"],
                                "not a directory"),
    "output equal to the input": (["reconstruct", "--input={aniso}", "--output={aniso}"], "is the input"),
    "output format unknown": (["simulate", "--input={iso}", "--output={tmp}/o.png", "--factor=2"], ".tif"),
    "--factor contradicts --spacing": (["reconstruct", "--input={aniso}", "--output={out}", "--factor=3",
                                        "--spacing=40,10,10"], "contradicts"),
    "--factor contradicts the file's spacing": (["reconstruct", "--input={aniso}", "--output={out}",
                                                 "--factor=3"], "contradicts"),
    "no spacing and no factor": (["reconstruct", "--input={nospacing}", "--output={out}"], "--factor=F"),
    "already isotropic": (["reconstruct", "--input={iso}", "--output={out}"], "already isotropic"),
    "non-square pixels": (["reconstruct", "--input={rect}", "--output={out}"], "square pixels"),
    "malformed --spacing": (["reconstruct", "--input={aniso}", "--output={out}", "--spacing=40,4"], "spacing"),
    "flag typo": (["simulate", "--input={iso}", "--output={out}", "--factr=4"], "factr"),
    "missing required flag": (["simulate", "--input={iso}", "--output={out}"], "missing --factor"),
    "unknown method": (["reconstruct", "--input={aniso}", "--output={out}", "--method=magic"],
                       "unknown --method=magic"),
    "unknown subcommand": (["simulte"], "unknown subcommand"),
    "stray argument": (["simulate", "--input={iso}", "--output={out}", "--factor=2", "extra"],
                       "unexpected argument"),
    "evaluate: shapes differ": (["evaluate", "--pred={aniso}", "--ref={narrow}", "--report_dir={tmp}/rep"],
                                "same volume on the same grid"),
    "evaluate: pred is the anisotropic input": (["evaluate", "--pred={aniso}", "--ref={iso}",
                                                 "--report_dir={tmp}/rep"], "same volume on the same grid"),
    "demo: unknown method": (["demo", "--out_dir={tmp}/demo", "--methods=cubic,magic"], "choose among"),
    "demo: no steps": (["demo", "--out_dir={tmp}/demo", "--train_steps=0"], "--train_steps=0 must be >= 1"),
    "evaluate: report dir is a file": (["evaluate", "--pred={iso}", "--report_dir={afile}"], "is a file"),
    "validate: fewer than 4 sections": (["validate", "--input={three}", "--methods=cubic", "--out_dir={tmp}/v"],
                                        "needs at least 4"),
    "validate: unknown method": (["validate", "--input={aniso}", "--methods=cubic,magic", "--out_dir={tmp}/v"],
                                 "unknown --methods=magic"),
    "validate: no methods": (["validate", "--input={aniso}", "--methods=,", "--out_dir={tmp}/v"], "names no method"),
    "validate: twice the factor is absurd": (["validate", "--input={aniso}", "--methods=cubic", "--factor=40",
                                              "--spacing=400,10,10", "--out_dir={tmp}/v"], "twice the factor"),
    "validate: sections too small for SSIM": (["validate", "--input={small}", "--methods=cubic",
                                               "--out_dir={tmp}/v"], "at least 11 x 11"),
    "evaluate: --factor with --ref": (["evaluate", "--pred={iso}", "--ref={iso}", "--factor=4",
                                       "--report_dir={tmp}/rep"], "--factor=4 is for evaluating without --ref="),
    "validate: out_dir is a file": (["validate", "--input={aniso}", "--methods=cubic", "--out_dir={afile}"],
                                    "--out_dir"),
    "validate: no steps": (["validate", "--input={aniso}", "--methods=unet", "--train_steps=0", "--out_dir={tmp}/v"],
                           "--train_steps=0 must be >= 1"),
    "emformer: inpaint index out of range": (["reconstruct", "--input={aniso}", "--output={out}",
                                              "--method=emformer", "--inpaint=2,9"],
                                             "section 9 is out of range: the input has sections 0 to 3"),
    "emformer: inpaint not an index": (["reconstruct", "--input={aniso}", "--output={out}", "--method=emformer",
                                        "--inpaint=first"], "'first' is not a section index"),
    "emformer: every section missing": (["reconstruct", "--input={aniso}", "--output={out}", "--method=emformer",
                                         "--inpaint=0,1,2,3"], "every one of the 4 sections is marked missing"),
    "emformer: every section blank": (["reconstruct", "--input={blank}", "--output={out}", "--method=emformer",
                                       "--inpaint=auto"], "every one of the 4 sections is marked missing"),
    "--uncertainty for a method without it": (["reconstruct", "--input={aniso}", "--output={out}", "--method=cubic",
                                               "--uncertainty={tmp}/u.tif"],
                                              "is not available for --method=cubic; use a method that offers it: emformer"),
    "--inpaint for a method without it": (["reconstruct", "--input={aniso}", "--output={out}", "--method=unet",
                                           "--inpaint=auto"], "--inpaint=auto is not available for --method=unet"),
    "--uncertainty equal to the output": (["reconstruct", "--input={aniso}", "--output={out}", "--method=emformer",
                                           "--uncertainty={out}"], "is also the output"),
    "vemdiffuse_i without --train_iso": (["reconstruct", "--input={aniso}", "--output={out}",
                                          "--method=vemdiffuse_i"], "pass --train_iso=ISO"),
    "--train_iso anisotropic": (["reconstruct", "--input={aniso}", "--output={out}", "--method=vemdiffuse_i",
                                 "--train_iso={aniso}"], "is anisotropic"),
    "--train_iso of another dtype": (["reconstruct", "--input={aniso}", "--output={out}", "--method=vemdiffuse_i",
                                      "--train_iso={iso16}"], "is uint16 but"),
    "--train_iso for a method that learns from the input": (["reconstruct", "--input={aniso}", "--output={out}",
                                                             "--method=vemdiffuse_a", "--train_iso={iso}"],
                                                            "drop --train_iso="),
    "--samples for a method without sampling": (["reconstruct", "--input={aniso}", "--output={out}", "--method=unet",
                                                 "--samples=4"], "--samples=4 is not available for --method=unet"),
    "vemdiffuse --uncertainty with one sample": (["reconstruct", "--input={aniso}", "--output={out}",
                                                  "--method=vemdiffuse_a", "--samples=1", "--uncertainty={tmp}/u.tif"],
                                                 "need at least 2 samples"),
    "--steps, which meant two things": (["reconstruct", "--input={aniso}", "--output={out}", "--method=unet",
                                         "--steps=3"], "--train_steps=N sets a learned method's training steps"),
    "restore: --sections out of range": (["restore", "--input={aniso}", "--output={out}", "--sections=2,9"],
                                         "section 9 is out of range: the volume has sections 0 to 3"),
    "restore: an unknown artifact kind": (["restore", "--input={aniso}", "--output={out}", "--artifacts=fold,smudge"],
                                          "smudge"),
    "restore: fewer than 3 sections": (["restore", "--input={two}", "--output={out}"], "needs at least 3"),
    "restore: --masks equal to --output": (["restore", "--input={aniso}", "--output={out}", "--masks={out}"],
                                           "--masks"),
    "HDF5 with several volumes": (["reconstruct", "--input={h5two}", "--output={out}", "--factor=4"],
                                  "holds 2 volumes: em (4 x 24 x 24 uint8), mito (4 x 24 x 24 uint8); pick one "
                                  "with --dataset=NAME"),
    "HDF5: unknown --dataset": (["reconstruct", "--input={h5two}", "--dataset=raw", "--output={out}", "--factor=4"],
                                "dataset 'raw' of"),
    "--dataset for a file that is not HDF5": (["simulate", "--input={iso}", "--dataset=volumes/raw", "--output={out}",
                                               "--factor=2"], "is not HDF5; leave --dataset out"),
    "unknown --ome_version": (["simulate", "--input={iso}", "--output={tmp}/o.ome.zarr", "--factor=2",
                               "--ome_version=0.6"], "--ome_version"),
    "--process_index without --process_count": (["reconstruct", "--input={aniso}", "--output={tmp}/o.ome.zarr",
                                                  "--process_index=0"], "go together"),
    "--process_index out of range": (["reconstruct", "--input={aniso}", "--output={tmp}/o.ome.zarr",
                                      "--process_index=2", "--process_count=2"], "the index must be 0 to 1"),
    "several processes into a TIFF": (["reconstruct", "--input={aniso}", "--output={out}", "--process_index=0",
                                       "--process_count=2"], "only as OME-Zarr"),
    "several processes, not under jax.distributed, for a method that fits a model": (
        ["reconstruct", "--input={aniso}", "--output={tmp}/o.ome.zarr", "--method=unet", "--process_index=0",
         "--process_count=2"], "2 processes train together only when started under jax.distributed"),
    "several processes for a method whose inference does not split": (
        ["reconstruct", "--input={aniso}", "--output={tmp}/o.ome.zarr", "--method=emformer", "--process_index=0",
         "--process_count=2"], "--method=emformer runs in one process; process_count > 1 is for"),
    "--uncertainty equal to the input": (["reconstruct", "--input={aniso}", "--output={out}", "--method=emformer",
                                          "--uncertainty={aniso}"], "is the input"),
    "truncated TIFF": (["reconstruct", "--input={trunc}", "--output={out}"], "is damaged or truncated"),
    "truncated zlib TIFF": (["reconstruct", "--input={ztrunc}", "--output={out}", "--factor=4"],
                            "is damaged or truncated"),
    "TIFF with an undecodable strip": (["reconstruct", "--input={zzero}", "--output={out}", "--factor=4"],
                                       "cannot be read at z="),
    "zarr with a damaged chunk": (["reconstruct", "--input={chunks}", "--output={out}", "--factor=4"],
                                  "the file is damaged"),
    "zarr with an absent chunk, --missing_chunks=error": (["reconstruct", "--input={gaps}", "--output={out}",
                                                           "--factor=4", "--missing_chunks=error"],
                                                          "1 of 8 chunks are absent"),
    "output inside the input folder": (["reconstruct", "--input={chunks}", "--output={chunks}/o.tif",
                                        "--factor=4"], "is inside the input folder"),
    "--spacing beyond 1 m": (["simulate", "--input={iso}", "--output={out}", "--factor=2", "--spacing=1e308,10,10"],
                             "not a positive number below 1e9 nm"),
    "--sigma with the box profile": (["simulate", "--input={iso}", "--output={out}", "--factor=2", "--sigma=2"],
                                     "--profile=box has none"),
    "training flags for interpolation": (["reconstruct", "--input={aniso}", "--output={out}", "--method=cubic",
                                          "--train_steps=5", "--workdir={tmp}/w"], "--method=cubic learns nothing"),
    "denoise: noise level not a number": (["denoise", "--input={aniso}", "--output={out}", "--train_clean={iso}",
                                           "--noise=gaussian:nan"], "every value must be a finite number"),
    "denoise: noise level beyond the range": (["denoise", "--input={aniso}", "--output={out}",
                                               "--train_clean={iso}", "--noise=gaussian:1e9"],
                                              "give one in [0, 1]"),
    "restore: --model that does not exist": (["restore", "--input={aniso}", "--output={out}",
                                              "--model={tmp}/nope.bundle"], "does not exist"),
    "restore: unknown --variant": (["restore", "--input={aniso}", "--output={out}", "--variant=huge"],
                                   "--variant=huge is not a variant of sstem_restore"),
    "train: a TIFF as the config": (["train", "--config={aniso}", "--workdir={tmp}/w"],
                                    "is not a Python config file"),
    "demo: impossible factor": (["demo", "--out_dir={tmp}/demo", "--factor=0.5"], "must be > 1"),
}




@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gives_one_line_and_exit_code_2(name, files, tmp_path, capsys):
  template, fragment = CASES[name]
  names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path), "out": str(files["out"])}
  argv = [a.format(**names) for a in template]
  before = sorted(os.listdir(tmp_path))
  code = main(["jax-iso"] + argv)
  err = capsys.readouterr().err.strip()
  assert code == 2, (name, err)
  lines = err.splitlines()
  assert len(lines) == 1 and lines[0].startswith("jax-iso "), err
  if fragment:
    assert fragment in lines[0], (fragment, lines[0])
  assert sorted(os.listdir(tmp_path)) == before     # nothing written, no temp left


def test_failed_run_keeps_an_existing_output(files, tmp_path, capsys):
  files["out"].write_bytes(b"previous result")
  code = main(["jax-iso", "simulate", f"--input={files['nan']}", f"--output={files['out']}", "--factor=4"])
  assert code == 2 and "NaN" in capsys.readouterr().err
  assert files["out"].read_bytes() == b"previous result"
