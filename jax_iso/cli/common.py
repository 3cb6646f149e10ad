"""Flag helpers shared by the `jax-iso` subcommands."""
from __future__ import annotations

import os

from absl import flags

from jax_iso import io
from jax_iso.errors import UserError
from jax_iso.io import hdf5


def define_volume_selection(fv: flags.FlagValues) -> None:
  """--dataset, --channel and --timepoint: pick one 3D volume out of an HDF5 file or a 4D/5D array."""
  flags.DEFINE_string("dataset", None, "HDF5 input: the dataset to read (e.g. volumes/raw) when the file holds "
                      "several 3D ones; the same as giving FILE.h5/volumes/raw.", flag_values=fv)
  flags.DEFINE_integer("channel", None, "Channel (C axis) to use in a multi-channel file, from 0.", flag_values=fv)
  flags.DEFINE_integer("timepoint", None, "Time point (T axis) to use in a time series, from 0.", flag_values=fv)
  define_missing_chunks(fv)


def define_missing_chunks(fv: flags.FlagValues) -> None:
  """--missing_chunks: what absent chunks of a zarr / N5 / precomputed input do (cli.main applies it)."""
  flags.DEFINE_enum("missing_chunks", "warn", ["warn", "error"], "zarr / N5 / precomputed inputs with absent "
                    "chunks (read as the fill value, e.g. 0): warn (count them, one line) or error (refuse the "
                    "input: an incomplete copy).", flag_values=fv)


def selected(fv: flags.FlagValues, path: str | None) -> str | None:
  """`path` with --dataset applied (HDF5 inputs)."""
  return selected_all(fv, path)[0]


def selected_all(fv: flags.FlagValues, *paths: str | None) -> list[str | None]:
  """`paths` with --dataset applied to those that are HDF5 files; --dataset with none of them HDF5 is an error."""
  if not fv.dataset:
    return list(paths)
  out = [p and hdf5.with_dataset(p, fv.dataset) for p in paths]
  given = [p for p in paths if p and os.path.exists(p)]
  if given and out == list(paths):
    raise UserError(f"--dataset={fv.dataset} picks a dataset inside an HDF5 file, but {', '.join(given)} "
                    f"{'is' if len(given) == 1 else 'are'} not HDF5; leave --dataset out")
  return out


def define_ome_version(fv: flags.FlagValues) -> None:
  """--ome_version: the NGFF version of the OME-Zarr volumes the command writes (cli.main applies it)."""
  flags.DEFINE_enum("ome_version", "0.4", ["0.4", "0.5"], "OME-Zarr outputs (.ome.zarr): NGFF 0.4 (zarr v2, "
                    "what napari-ome-zarr and Fiji read today) or 0.5 (zarr v3).", flag_values=fv)


def define_processes(fv: flags.FlagValues) -> None:
  """--process_index, --process_count, --distributed, --coordinator: one of several processes writing one
  OME-Zarr output, each its own rows (`io.Part`)."""
  flags.DEFINE_integer("process_index", None, "This process's part of the output, 0 to --process_count - 1 "
                       "(e.g. a cluster job array's task index); with --distributed: this process's id.",
                       flag_values=fv)
  flags.DEFINE_integer("process_count", None, "How many processes write the output together (an .ome.zarr on a "
                       "file system they all see), each its own rows; the last to finish completes it.",
                       flag_values=fv)
  flags.DEFINE_bool("distributed", False, "Start jax.distributed (coordinator from --coordinator or "
                    "JAX_COORDINATOR_ADDRESS, else the cluster's environment: SLURM, Open MPI, ...) and take the "
                    "part from the process id and count; a model fitted on the input is trained by the processes "
                    "together first.", flag_values=fv)
  flags.DEFINE_string("coordinator", None, "With --distributed: the coordinator's host:port (process 0's).",
                      flag_values=fv)


def part(fv: flags.FlagValues):
  """The `io.Part` this process writes, or None (one process writes everything)."""
  if fv.distributed:
    import jax  # pylint: disable=g-import-not-at-top
    try:
      jax.distributed.initialize(coordinator_address=fv.coordinator, num_processes=fv.process_count,
                                 process_id=fv.process_index)
    except (ValueError, RuntimeError) as err:
      raise UserError(f"--distributed: jax.distributed could not start ({' '.join(str(err).split())[:200]}); "
                      "give --coordinator=HOST:PORT --process_count=N --process_index=I, or run under a "
                      "cluster scheduler") from err
    return io.Part(jax.process_index(), jax.process_count())
  if fv.coordinator:
    raise UserError("--coordinator is for --distributed; add --distributed, or leave --coordinator out")
  if (fv.process_index is None) != (fv.process_count is None):
    raise UserError("--process_index and --process_count go together: give both (e.g. --process_index=0 "
                    "--process_count=4), or neither")
  if fv.process_count is None:
    return None
  return io.Part(fv.process_index, fv.process_count)


def print_part(out: dict) -> bool:
  """What one part of a split output did (True), or nothing when the output was written whole (False)."""
  info = out.get("part")
  if not info:
    return False
  y0, y1 = info["rows"]
  done = (f"completed {out['output']}: {shape_str(out['output_shape'])}, spacing {spacing_str(out['spacing_nm'])}"
          if info["completed_output"] else
          f"{info['parts_done']} of {info['count']} parts done; the last to finish completes {out['output']}")
  print(f"part {info['index']} of {info['count']}: wrote rows {y0} to {y1} in {out['seconds']:.1f} s; {done}")
  return True


def define_spacing(fv: flags.FlagValues, help_text: str) -> None:
  flags.DEFINE_string("spacing", None, help_text, flag_values=fv)


def spacing(fv: flags.FlagValues):
  """The parsed --spacing as (z, y, x) nm, or None."""
  return None if fv.spacing is None else io.parse_spacing(fv.spacing)


def define_outputs(fv: flags.FlagValues) -> None:
  """--uncertainty and --flags: the maps a method's strategy may also write."""
  flags.DEFINE_string("uncertainty", None, "Also write the per-voxel uncertainty here: emformer the standard "
                      "deviation of its 8 test-time orientations (the output's units); the diffusion methods that "
                      "of the K samples (float32, intensity in [0, 1]).", flag_values=fv)
  flags.DEFINE_string("flags", None, "Diffusion methods: also write the flag mask here (uint8: 255 where the "
                      "samples' standard deviation exceeds --threshold).", flag_values=fv)


def define_sampling(fv: flags.FlagValues) -> None:
  """--samples, --sample_steps, --sampler, --threshold: what a diffusion method's sampler is asked."""
  flags.DEFINE_integer("samples", None, "Diffusion methods: samples per voxel, K (default: the config's; >= 2 for "
                       "--uncertainty).", flag_values=fv)
  flags.DEFINE_integer("sample_steps", None, "Diffusion methods: sampler steps per sample (default: the config's).",
                       flag_values=fv)
  flags.DEFINE_string("sampler", None, "Diffusion methods: ddpm, ddim or dpm2m (default: the config's).",
                      flag_values=fv)
  flags.DEFINE_float("threshold", None, "Diffusion methods: uncertainty above which a voxel is flagged (default "
                     "0.12, the paper's).", flag_values=fv)


def define_init(fv: flags.FlagValues) -> None:
  """--init: where a learned method's model starts."""
  flags.DEFINE_string("init", None, "Learned methods: where the model starts: pretrained (the model shipped for "
                      "the method, `jax-iso models`; the default where one ships, fine-tuned briefly on the input), "
                      "scratch (fitted on the input alone; the default elsewhere), a shipped model's name, or a "
                      "bundle or training workdir. A trained model is used as it is with --train_steps=0, or "
                      "fine-tuned on the input for --train_steps=N.", flag_values=fv)


def define_training(fv: flags.FlagValues, *, variant: bool = True) -> None:
  """--train_steps, --workdir (and --variant): how a learned method's model is trained."""
  flags.DEFINE_integer("train_steps", None, "Learned methods: training steps (default: the method config's).",
                       flag_values=fv)
  flags.DEFINE_string("workdir", None, "Learned methods: keep the trained model here (default: a temporary folder, "
                      "removed after); rerun to resume.", flag_values=fv)
  if variant:
    flags.DEFINE_string("variant", None, "Config variant to train: cpu, tiny, or 'default' for the reference's "
                        "sizes (default: cpu on a CPU).", flag_values=fv)


SAMPLING = ("samples", "sample_steps", "sampler", "threshold")
SOURCE = ("channel", "timepoint", "factor")


def settings(fv: flags.FlagValues, *names: str) -> dict:
  """The values of the flags `names` that the command has and that were given (the jobs' settings of the same
  names), with --spacing parsed."""
  out = {n: fv[n].value for n in names if n in fv and fv[n].value is not None}
  if "spacing" in fv and fv.spacing is not None:
    out["spacing"] = io.parse_spacing(fv.spacing)
  return out


def shape_str(shape) -> str:
  return " x ".join(str(n) for n in shape)


def spacing_str(spacing) -> str:
  return "unknown" if spacing is None else ",".join(f"{s:g}" for s in spacing) + " nm"


def print_fit(out: dict, what: str) -> None:
  """The training line of a job that fitted or fine-tuned its model (nothing otherwise)."""
  fit = out.get("fit")
  if fit:
    print(f"{what}: {fit['steps']} steps in {fit['seconds']:.0f} s; held-out PSNR {fit['eval_psnr']:.2f} dB "
          f"(input {fit['eval_psnr_input']:.2f} dB)")


def print_clip_outputs(out: dict) -> None:
  """What --inpaint, --uncertainty and --flags did, one line each."""
  strategy = out.get("strategy") or {}
  if strategy.get("inpainted"):
    print(f"inpainted section(s) {', '.join(str(k) for k in strategy['inpainted'])} before the isotropic pass")
  if strategy.get("samples") is not None:
    print(f"sampled: mean of {strategy['samples']} samples ({strategy['sampler']} {strategy['steps']} steps, "
          f"{strategy.get('noise', 'own')} noise)")
    _print_sample_outputs(strategy)
  elif strategy.get("uncertainty"):
    print(f"wrote {strategy['uncertainty']}: standard deviation of {strategy['orientations']} orientations")


def _print_sample_outputs(strategy: dict) -> None:
  """The flagged share and the uncertainty and flag files of a diffusion strategy's summary."""
  if strategy.get("flagged_fraction") is not None:
    print(f"uncertainty above {strategy['threshold']:g}: {strategy['flagged_fraction']:.2%} of the voxels")
  for name in ("uncertainty", "flags"):
    if strategy.get(name):
      print(f"wrote {strategy[name]}: {name}")


def define_diffusion(fv: flags.FlagValues, task: str) -> None:
  """The flags `denoise` and `superres` share: the model or its training, the sampling and its outputs."""
  flags.DEFINE_string("input", None, f"Volume (or stack of 2D images, one per Z section) to {task}: TIFF, HDF5, "
                      "zarr / OME-Zarr, N5 or precomputed.", flag_values=fv)
  flags.DEFINE_string("output", None, "Volume to write, the mean of the samples: .tif or .ome.zarr.", flag_values=fv)
  flags.DEFINE_string("model", None, "A trained model (bundle or training workdir) instead of training one "
                      "(the same as --init=BUNDLE).", flag_values=fv)
  define_init(fv)
  define_sampling(fv)
  flags.DEFINE_string("mean", None, "What the output is: pass (the one-pass posterior mean of a model trained for "
                      "it, the default for such a model: samples are drawn only for --uncertainty and --flags) or "
                      "samples (the mean of the K samples, the default otherwise).", flag_values=fv)
  define_outputs(fv)
  flags.DEFINE_string("report", None, "Draw input | mean | uncertainty | flags of the middle section into this "
                      ".png.", flag_values=fv)
  define_training(fv)
  define_spacing(fv, "Voxel size Z,Y,X in nm of the input, overriding the file's metadata.")
  define_volume_selection(fv)
  define_ome_version(fv)


def diffusion_settings(fv: flags.FlagValues) -> dict:
  """The settings of `jobs.denoise` / `jobs.superres` from the shared flags."""
  return settings(fv, "model", "init", "workdir", "train_steps", "variant", "report", "uncertainty", "flags", "mean",
                  *SAMPLING, *SOURCE)


def print_diffusion(out: dict) -> None:
  """What `denoise` / `superres` did, a few lines."""
  print_fit(out, f"trained {out['method']}")
  s = out["strategy"]
  if s.get("mean") == "pass":
    how = "one-pass posterior mean" + (f"; uncertainty from {s['samples']} samples, {s['sampler']} {s['steps']} "
                                       "steps" if s["samples"] else "")
  else:
    how = f"mean of {s['samples']} samples, {s['sampler']} {s['steps']} steps"
  model = f"; the shipped model {out['model_name']}" if out.get("model_name") else ""
  print(f"wrote {out['output']}: {shape_str(out['output_shape'])} from {shape_str(out['input_shape'])} "
        f"({out['method']}, {how}{model}), spacing {spacing_str(out['spacing_nm'])} in {out['seconds']:.1f} s")
  _print_sample_outputs(s)
  if out.get("report"):
    print(f"wrote {out['report']}: input | mean | uncertainty | flags")
