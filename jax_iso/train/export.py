"""Inference bundles: the parameters to predict with plus the config needed to rebuild the model.

    export_bundle("runs/unet", "unet.bundle")     # what `jax-iso export` does
    loaded = load_model("unet.bundle")           # or load_model("runs/unet"): a workdir works too
    loaded.model.apply(loaded.params, planes)

A bundle is a directory: `bundle.json` (format version, method, model / infer / pairs config, the factor and
intensity window the model was trained with, the training step) and `params/` (an orbax checkpoint). It is
written atomically (built in a hidden temporary directory, renamed when complete).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import tempfile
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp
from flax import linen as nn

import jax_iso
from jax_iso.errors import UserError
from jax_iso.models import build_model
from jax_iso.train import checkpoint, optim, state as state_lib
from jax_iso.train.loop import CONFIG_FILE

BUNDLE_FILE = "bundle.json"
BUNDLE_VERSION = 1


@dataclasses.dataclass
class LoadedModel:
  model: nn.Module
  params: Any
  config: dict          # the run's config, with config["resolved"] = factor, spacing, intensity
  step: int
  source: str


def _sample(config: dict, model: nn.Module) -> jax.ShapeDtypeStruct:
  edge = max(int(config["data"]["crop"]), getattr(model, "multiple", 1))
  return jax.ShapeDtypeStruct((1, edge, edge), jnp.float32)


def _load_workdir(workdir: pathlib.Path) -> LoadedModel:
  config_path = workdir / CONFIG_FILE
  # Only open the checkpoints of a workdir (opening creates the folder: a failed load must write nothing).
  ckpt = checkpoint.Checkpointer(workdir) if config_path.exists() and checkpoint.exists(workdir) else None
  step = ckpt.latest_step() if ckpt is not None else None
  if step is None:
    if ckpt is not None:
      ckpt.close()
    raise UserError(f"{workdir} holds no finished training (no {CONFIG_FILE} or no checkpoint); train first with "
                    "`jax-iso train --workdir=...` or pass --model=BUNDLE")
  config = json.loads(config_path.read_text())
  model = build_model(config["model"])
  optimizer, _ = optim.make_optimizer(config["optim"], int(config["train"]["steps"]))
  repl = jax.sharding.NamedSharding(jax.sharding.Mesh(jax.devices()[:1], ("d",)), jax.sharding.PartitionSpec())
  abstract = state_lib.abstract_state(model, optimizer, _sample(config, model),
                                      ema=float(config["train"]["ema"]) > 0, sharding=repl)
  try:
    state, _ = ckpt.restore(abstract, step)
  finally:
    ckpt.close()
  return LoadedModel(model, state.eval_params, config, int(step), str(workdir))


def _load_bundle(path: pathlib.Path) -> LoadedModel:
  meta = json.loads((path / BUNDLE_FILE).read_text())
  if meta.get("format_version") != BUNDLE_VERSION:
    raise UserError(f"{path} is a bundle of format {meta.get('format_version')}; this jax_iso reads format "
                    f"{BUNDLE_VERSION}: export it again with this version (`jax-iso export`)")
  config = meta["config"]
  try:
    model = build_model(config["model"])
  except ValueError as err:
    raise UserError(f"{path} holds a model this jax_iso cannot build ({err}); export it again") from None
  abstract = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros(_sample(config, model).shape))
  try:
    with ocp.StandardCheckpointer() as loader:
      params = loader.restore((path / "params").absolute(), abstract)
  except (ValueError, KeyError, FileNotFoundError) as err:
    raise UserError(f"{path}: its parameters do not fit its model config ({str(err).splitlines()[0]}); "
                    "export it again") from None
  return LoadedModel(model, params, config, int(meta["step"]), str(path))


def load_model(path: str | os.PathLike) -> LoadedModel:
  """The model and parameters of a training workdir (latest checkpoint, EMA if kept) or of a bundle."""
  path = pathlib.Path(path)
  if not path.exists():
    raise UserError(f"{path} does not exist; pass a training --workdir or a bundle made by `jax-iso export`")
  if (path / BUNDLE_FILE).exists():
    return _load_bundle(path)
  return _load_workdir(path)


def export_bundle(workdir: str | os.PathLike, output: str | os.PathLike) -> pathlib.Path:
  """Writes the inference bundle of `workdir`'s latest checkpoint to `output` (a directory)."""
  loaded = _load_workdir(pathlib.Path(workdir))
  output = pathlib.Path(output).absolute()
  if output.exists() and not (output / BUNDLE_FILE).exists():
    raise UserError(f"{output} exists and is not a bundle; choose another --output")
  if not output.parent.is_dir():
    raise UserError(f"the folder of {output} does not exist; create it first")
  tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
  try:
    with ocp.StandardCheckpointer() as saver:
      saver.save(tmp / "params", loaded.params)
      saver.wait_until_finished()
    meta = {"format_version": BUNDLE_VERSION, "jax_iso_version": jax_iso.__version__,
            "method": loaded.config.get("method"), "step": loaded.step, "config": loaded.config}
    (tmp / BUNDLE_FILE).write_text(json.dumps(meta, indent=1))
    if output.exists():
      shutil.rmtree(output)
    os.replace(tmp, output)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return output
