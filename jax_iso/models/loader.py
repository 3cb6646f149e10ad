"""A trained model for inference, parameters only: from an exported bundle or a training workdir.

    loaded = load_model("unet.bundle")        # or load_model("runs/unet"): a training workdir works too
    loaded.model.apply(loaded.params, planes)

Nothing of training is needed or imported (no optimizer, no data pipeline, no loop): a workdir's checkpoint is
read partially, only the parameters to predict with (the moving average when the run kept one). The file
layouts are defined here; the trainer and the exporter write them:
  workdir: `config.json` (the resolved run config) and `checkpoints/<step>/state` (orbax: step, params,
           opt_state, ema_params) beside `checkpoints/<step>/data` (the data iterator's state);
  bundle:  `bundle.json` (format version, method, step, config) and `params/` (orbax: the parameters).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any

import jax
import orbax.checkpoint as ocp
from flax import linen as nn

from jax_iso import runconfig
from jax_iso.errors import UserError
from jax_iso.models.registry import build_model, init_params

CONFIG_FILE = "config.json"
CHECKPOINTS = "checkpoints"
STATE_ITEM = "state"
DATA_ITEM = "data"
BUNDLE_FILE = "bundle.json"
BUNDLE_PARAMS = "params"
BUNDLE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  model: nn.Module
  params: Any
  config: runconfig.Frozen   # the run's config, with config.resolved = factor, spacing, intensity, input shape
  step: int
  source: str

  @property
  def multiple(self) -> int:
    """The size multiple the model's inputs need (1 for any size)."""
    return getattr(self.model, "multiple", 1)


def input_shape(config: runconfig.Frozen, model: nn.Module) -> tuple[int, ...]:
  """The shape of one training input of the run (`resolved.input_shape`), to build the parameters from."""
  resolved = config.get("resolved") or {}
  shape = resolved.get("input_shape")
  if shape:
    return (1,) + tuple(int(n) for n in shape)
  edge = max(int(config.data.crop), getattr(model, "multiple", 1))     # configs written before input_shape
  return (1, edge, edge)


def abstract_params(model: nn.Module, config: runconfig.Frozen) -> Any:
  """The parameters' shapes and dtypes, computed without allocating them."""
  return jax.eval_shape(lambda k: init_params(model, k, input_shape(config, model)), jax.random.key(0))


def latest_step(workdir: str | os.PathLike) -> int | None:
  """The step of the newest complete checkpoint of a training workdir, or None."""
  folder = pathlib.Path(workdir) / CHECKPOINTS
  if not folder.is_dir():
    return None
  options = ocp.CheckpointManagerOptions(create=False, read_only=True)
  with ocp.CheckpointManager(folder.absolute(), options=options) as manager:
    return manager.latest_step()


def _restore_subtree(path: pathlib.Path, name: str, abstract: Any) -> Any:
  """`name` of the orbax pytree at `path`, leaving the rest of it on disk."""
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  args = ocp.args.PyTreeRestore(
      item={name: abstract}, partial_restore=True,
      restore_args={name: jax.tree.map(lambda _: ocp.ArrayRestoreArgs(sharding=device), abstract)})
  with ocp.PyTreeCheckpointer() as checkpointer:
    return checkpointer.restore(path.absolute(), args=args)[name]


def _model_of(config: runconfig.Frozen, where: pathlib.Path) -> nn.Module:
  try:
    return build_model(config.model)
  except UserError as err:
    raise UserError(f"{where} holds a model this jax_iso cannot build ({err}); train or export it again") from None


def _load_workdir(workdir: pathlib.Path) -> LoadedModel:
  config_path = workdir / CONFIG_FILE
  step = latest_step(workdir) if config_path.exists() else None
  if step is None:
    raise UserError(f"{workdir} holds no finished training (no {CONFIG_FILE} or no checkpoint); train first with "
                    "`jax-iso train --workdir=...` or pass --model=BUNDLE")
  config = runconfig.freeze(json.loads(config_path.read_text()))
  model = _model_of(config, workdir)
  name = "ema_params" if float(config.train.ema) > 0 else "params"
  params = _restore_subtree(workdir / CHECKPOINTS / str(step) / STATE_ITEM, name, abstract_params(model, config))
  return LoadedModel(model, params, config, int(step), str(workdir))


def _load_bundle(path: pathlib.Path) -> LoadedModel:
  meta = json.loads((path / BUNDLE_FILE).read_text())
  if meta.get("format_version") != BUNDLE_VERSION:
    raise UserError(f"{path} is a bundle of format {meta.get('format_version')}; this jax_iso reads format "
                    f"{BUNDLE_VERSION}: export it again with this version (`jax-iso export`)")
  config = runconfig.freeze(meta["config"])
  model = _model_of(config, path)
  try:
    with ocp.StandardCheckpointer() as loader:
      params = loader.restore((path / BUNDLE_PARAMS).absolute(), abstract_params(model, config))
  except (ValueError, KeyError, FileNotFoundError) as err:
    raise UserError(f"{path}: its parameters do not fit its model config ({str(err).splitlines()[0]}); "
                    "export it again") from None
  return LoadedModel(model, params, config, int(meta["step"]), str(path))


def load_model(path: str | os.PathLike) -> LoadedModel:
  """The model and parameters of a bundle, or of a training workdir's latest checkpoint (EMA if kept)."""
  path = pathlib.Path(path)
  if not path.exists():
    raise UserError(f"{path} does not exist; pass a training --workdir or a bundle made by `jax-iso export`")
  if (path / BUNDLE_FILE).exists():
    return _load_bundle(path)
  return _load_workdir(path)
