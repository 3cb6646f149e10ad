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
  options = ocp.CheckpointManagerOptions(create=False, read_only=True, save_interval_steps=0)
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


def _read_json(path: pathlib.Path, what: str, fix: str) -> Any:
  """The JSON in `path`; a file that is not JSON is a UserError naming it, `what` it is and the `fix`."""
  try:
    return json.loads(path.read_text(encoding="utf-8"))
  except UnicodeDecodeError:
    raise UserError(f"{path} is not text: the {what} is damaged; {fix}") from None
  except json.JSONDecodeError as err:
    raise UserError(f"{path} is not valid JSON ({err.msg} at line {err.lineno}): the {what} is damaged; {fix}") \
        from None


def _checked_config(stored: Any, where: pathlib.Path, fix: str) -> runconfig.Frozen:
  """The run config a workdir or bundle holds, checked against its method's own config: a known method, and
  numbers, flags and sections where that config has them."""
  from jax_iso import methods  # pylint: disable=g-import-not-at-top  (the registry: names; configs load lazily)
  if not isinstance(stored, dict) or not isinstance(stored.get("method"), str):
    raise UserError(f"{where} holds no run config with a method; {fix}")
  if stored["method"] not in methods.METHODS or not methods.METHODS[stored["method"]].learned:
    raise UserError(f"{where} holds a model of method {stored['method']!r}, which this jax_iso does not know; "
                    f"{fix}")
  wrong = runconfig.type_mismatch(stored, methods.get(stored["method"]).default_config())
  if wrong:
    raise UserError(f"{where}: its config has {wrong}; the config is damaged: {fix}")
  return runconfig.freeze(stored)


def _damaged(where: pathlib.Path, what: str, err: Exception, fix: str) -> UserError:
  """The error for parameters that orbax cannot read back."""
  reason = " ".join(str(err).split())[:200] or type(err).__name__
  return UserError(f"{where}: {what} cannot be read ({reason}); the files are damaged or incomplete: {fix}")


def _model_of(config: runconfig.Frozen, where: pathlib.Path) -> nn.Module:
  try:
    return build_model(config.model)
  except UserError as err:
    raise UserError(f"{where} holds a model this jax_iso cannot build ({err}); train or export it again") from None


def _load_workdir(workdir: pathlib.Path) -> LoadedModel:
  config_path = workdir / CONFIG_FILE
  fix = "train it again (a new workdir), or pass another model"
  step = latest_step(workdir) if config_path.exists() else None
  if step is None:
    raise UserError(f"{workdir} holds no finished training (no {CONFIG_FILE} or no checkpoint); train first with "
                    "`jax-iso train` (workdir=...) or pass model=BUNDLE")
  config = _checked_config(_read_json(config_path, "training workdir's config", fix), config_path, fix)
  model = _model_of(config, workdir)
  name = "ema_params" if float(config.train.ema) > 0 else "params"
  state = workdir / CHECKPOINTS / str(step) / STATE_ITEM
  try:
    params = _restore_subtree(state, name, abstract_params(model, config))
  except (ValueError, KeyError, OSError, TypeError) as err:
    raise _damaged(state, f"the checkpoint of step {step}", err,
                   f"remove {state.parent} to use the checkpoint before it, or {fix}") from None
  return LoadedModel(model, params, config, int(step), str(workdir))


def _load_bundle(path: pathlib.Path) -> LoadedModel:
  fix = "export it again (`jax-iso export`: workdir=RUN, output=...)"
  meta = _read_json(path / BUNDLE_FILE, "bundle's description", fix)
  if not isinstance(meta, dict):
    raise UserError(f"{path / BUNDLE_FILE} does not describe a bundle; {fix}")
  if meta.get("format_version") != BUNDLE_VERSION:
    raise UserError(f"{path} is a bundle of format {meta.get('format_version')}; this jax_iso reads format "
                    f"{BUNDLE_VERSION}: export it again with this version (`jax-iso export`)")
  step = meta.get("step")
  if isinstance(step, bool) or not isinstance(step, int) or step < 0:
    raise UserError(f"{path / BUNDLE_FILE} gives the training step as {step!r}, not a whole number; the bundle is "
                    f"damaged: {fix}")
  if "config" not in meta:
    raise UserError(f"{path / BUNDLE_FILE} has no model config; the bundle is damaged: {fix}")
  config = _checked_config(meta["config"], path / BUNDLE_FILE, fix)
  model = _model_of(config, path)
  try:
    with ocp.StandardCheckpointer() as loader:
      params = loader.restore((path / BUNDLE_PARAMS).absolute(), abstract_params(model, config))
  except (ValueError, KeyError, OSError, TypeError) as err:
    raise _damaged(path / BUNDLE_PARAMS, "its parameters", err, fix) from None
  return LoadedModel(model, params, config, step, str(path))


def read_config(path: str | os.PathLike) -> runconfig.Frozen:
  """The run config of a bundle or training workdir, checked, without loading its parameters."""
  path = pathlib.Path(path)
  if not path.exists():
    raise UserError(f"{path} does not exist; pass a training workdir or a bundle made by `jax-iso export`")
  if (path / BUNDLE_FILE).exists():
    fix = "export it again (`jax-iso export`: workdir=RUN, output=...)"
    meta = _read_json(path / BUNDLE_FILE, "bundle's description", fix)
    if not isinstance(meta, dict) or "config" not in meta:
      raise UserError(f"{path / BUNDLE_FILE} has no model config; the bundle is damaged: {fix}")
    return _checked_config(meta["config"], path / BUNDLE_FILE, fix)
  if not (path / CONFIG_FILE).exists():
    raise UserError(f"{path} holds no finished training (no {CONFIG_FILE}); train first with `jax-iso train` "
                    "(workdir=...) or pass a bundle")
  fix = "train it again (a new workdir), or pass another model"
  return _checked_config(_read_json(path / CONFIG_FILE, "training workdir's config", fix), path / CONFIG_FILE, fix)


def load_model(path: str | os.PathLike) -> LoadedModel:
  """The model and parameters of a bundle, or of a training workdir's latest checkpoint (EMA if kept)."""
  path = pathlib.Path(path)
  if not path.exists():
    raise UserError(f"{path} does not exist; pass a training workdir or a bundle made by `jax-iso export`")
  if (path / BUNDLE_FILE).exists():
    return _load_bundle(path)
  return _load_workdir(path)
