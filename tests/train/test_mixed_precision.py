"""Mixed precision (`jax_iso.models.precision`): `model.dtype` "auto" is float32 on a CPU and bfloat16 on a TPU or a
GPU of compute capability >= 8.0; a bad value is one line; every method keeps its norms, softmax and loss in
float32 under bfloat16 compute, and its parameters and optimizer state in float32; and (slow) a short bfloat16 fit
of every method follows the float32 fit of the same seed and batches within LOSS_RTOL at every step."""
import collections
import json
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tifffile

from jax_iso import mesh as mesh_lib, methods, runconfig
from jax_iso.degrade import pairs
from jax_iso.errors import UserError
from jax_iso.models import build_model, init_params, loader, precision
from jax_iso.samples import FIBSEM_10NM
from jax_iso.train import engine, resolve, run
from jax_iso.train.inputs import crop_spec

LEARNED = methods.names(learned=True)
STEPS = 8
# bfloat16 keeps 8 significant bits (epsilon 2^-8 = 0.4 %, each rounding off by up to half of it). A loss is a
# float32 mean over thousands of pixels of a float32 head's output, so the roundings inside the network mostly
# average out, and the two fits drift apart only slowly over the steps: measured on the 2-core CPU, at most
# 6.1e-3 relative (A2I; EMformer 3.6e-3, U-Net 6.3e-4, the diffusion methods and ssTEM restoration <= 1.5e-4,
# whose zero-initialised heads still damp the body's share of the loss after 8 steps; other batches gave A2I
# 4.9e-3). 2e-2 (5 epsilons) leaves three times that for another machine's kernels and batches; a network that
# computes something else in bfloat16, overflows or stops training alike lands beyond it. Subtler mistakes are
# below any such bound (a U-Net whose output head and residual ran in bfloat16 stayed within 4.5e-3): the traced
# check below catches the ones that matter most, a norm, softmax or loss reduced in bfloat16.
LOSS_RTOL = 2e-2
# Reductions and transcendental functions that norms (mean, variance, rsqrt), softmax (max, exp, sum) and the
# losses (means, SSIM, PDL's sort, the diffusion MSE) are made of: none may run in bfloat16.
FLOAT32_ONLY = ("exp", "log", "rsqrt", "sqrt", "reduce_sum", "reduce_max", "reduce_min", "sort", "cumsum")
COMPUTE = ("dot_general", "conv_general_dilated")


def _device(platform, capability=None):
  """A stand-in for a jax.Device: its platform and, for a GPU, its CUDA compute capability."""
  return types.SimpleNamespace(platform=platform, compute_capability=capability)


def _engine(name: str, dtype: str, **sections) -> tuple[engine.Engine, tuple[int, ...], int]:
  """(engine, crop size, batch size) of method `name`'s tiny config with model.dtype=`dtype` (and `sections`
  merged): the step training runs, resolved without data (uint8 crops, no section noise)."""
  config = runconfig.replace(methods.get(name).default_config("tiny"), **sections)
  config = runconfig.replace(config, model={"dtype": dtype})
  pair_fn = pairs.make_batch_fn(config.pairs)
  _, size = crop_spec(config)
  sample = jax.eval_shape(lambda k, x: pair_fn(k, x)[0], jax.random.key(0),
                          jax.ShapeDtypeStruct((1, *size), jnp.float32))
  config = runconfig.replace(config, resolved={
      "factor": config.pairs.get("factor"), "intensity": {"lo": 0.0, "hi": 255.0, "dtype": "uint8"},
      "input_shape": list(sample.shape[1:])})
  return engine.build(config, mesh_lib.make_mesh(config.mesh)), tuple(size), int(config.data.batch_size)


def test_auto_is_float32_on_this_cpu():
  assert jax.devices()[0].platform == "cpu"
  assert precision.compute_dtype("auto") == "float32"
  model = build_model(methods.get("unet").default_config("tiny").model)
  assert methods.get("unet").default_config("tiny").model.dtype == "auto"
  assert model.dtype == jnp.float32 and model.param_dtype == jnp.float32


@pytest.mark.parametrize("device, want", [
    (_device("cpu"), "float32"),
    (_device("tpu"), "bfloat16"),
    (_device("gpu", "8.0"), "bfloat16"),       # A100
    (_device("gpu", "9.0"), "bfloat16"),       # H100
    (_device("gpu", "12.0"), "bfloat16"),
    (_device("gpu", "8.6"), "bfloat16"),
    (_device("gpu", "7.5"), "float32"),        # T4: no bfloat16 tensor cores
    (_device("gpu", "7.0"), "float32"),        # V100
    (_device("gpu", None), "float32"),         # capability unknown
    (_device("gpu", "gfx90a"), "float32"),     # not a CUDA capability
    (_device("METAL"), "float32"),
])
def test_auto_resolves_by_device(device, want):
  assert precision.compute_dtype("auto", device) == want
  for explicit in ("float32", "bfloat16"):              # an explicit setting is kept on every device
    assert precision.compute_dtype(explicit, device) == explicit


def test_build_model_resolves_auto_for_the_device_and_keeps_float32_parameters():
  cfg = methods.get("unet").default_config("tiny").model
  model = build_model(cfg, device=_device("tpu"))
  assert model.dtype == jnp.bfloat16 and model.param_dtype == jnp.float32
  params = jax.eval_shape(lambda k: init_params(model, k, (1, 32, 32)), jax.random.key(0))
  assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
  assert build_model(cfg, device=_device("gpu", "7.0")).dtype == jnp.float32


@pytest.mark.parametrize("field, value, names", [
    ("dtype", "float8", ("model.dtype='float8'", "auto, float32, bfloat16")),
    ("dtype", "float16", ("model.dtype='float16'", "auto, float32, bfloat16")),
    ("param_dtype", "bfloat16", ("model.param_dtype='bfloat16'", "float32", "model.dtype=bfloat16")),
])
def test_a_bad_value_is_one_line_naming_the_setting_and_the_allowed_values(field, value, names):
  cfg = runconfig.replace(methods.get("unet").default_config("tiny"), model={field: value}).model
  with pytest.raises(UserError) as err:
    build_model(cfg)
  assert "\n" not in str(err.value) and all(n in str(err.value) for n in names), str(err.value)


def test_saved_configs_with_float32_or_auto_load_and_resume(tmp_path):
  """A workdir's config.json from before "auto" (model.dtype float32) loads as float32 and may be resumed by the
  same run with today's config ("auto"); the compute dtype changes no parameter."""
  config = methods.get("unet").default_config("tiny")
  saved = runconfig.to_json(config)
  saved["model"]["dtype"] = "float32"
  (tmp_path / loader.CONFIG_FILE).write_text(json.dumps(saved))
  assert build_model(loader.read_config(tmp_path).model).dtype == jnp.float32
  run.check_resume(tmp_path, runconfig.freeze(config))                # "auto" against the saved float32: allowed
  with pytest.raises(UserError, match="different model config"):     # another network is still refused
    run.check_resume(tmp_path, runconfig.replace(config, model={"width": 16}))
  saved["model"]["dtype"] = "auto"
  (tmp_path / loader.CONFIG_FILE).write_text(json.dumps(saved))
  assert build_model(loader.read_config(tmp_path).model).dtype == jnp.float32      # on this CPU


def test_the_resolved_line_names_the_compute_dtype():
  config = runconfig.replace(methods.get("unet").default_config("tiny"), resolved={
      "factor": 4.0, "spacing_nm": None, "intensity": {"lo": 0.0, "hi": 255.0, "dtype": "uint8"},
      "section_noise": {"mode": "off"}, "input_shape": [32, 32]})
  assert resolve.describe(config).endswith("; compute float32 (model.dtype=auto on cpu), parameters float32")


def _subjaxprs(value):
  if hasattr(value, "jaxpr") and hasattr(value, "consts"):        # a ClosedJaxpr
    yield value.jaxpr
  elif hasattr(value, "eqns"):
    yield value
  elif isinstance(value, (tuple, list)):
    for v in value:
      yield from _subjaxprs(v)


def _ops(jaxpr, found: collections.Counter) -> collections.Counter:
  """(primitive, dtype of an operand) of every equation, nested ones (jit, custom_vjp, scan...) included."""
  for eqn in jaxpr.eqns:
    for dtype in {str(v.aval.dtype) for v in eqn.invars if hasattr(getattr(v, "aval", None), "dtype")}:
      found[(eqn.primitive.name, dtype)] += 1
    for value in eqn.params.values():
      for sub in _subjaxprs(value):
        _ops(sub, found)
  return found


@pytest.mark.parametrize("name", LEARNED)
def test_bfloat16_compute_keeps_norms_softmax_loss_and_state_in_float32(name):
  """Traced, not compiled: the method's pairs, forward pass and per-example loss at model.dtype=bfloat16 run
  convolutions or matmuls in bfloat16 and no reduction, exp, log or sort in it; the loss, the parameters and
  the optimizer state are float32."""
  built, size, batch = _engine(name, "bfloat16")

  def loss(params, crops, key):
    inputs, targets, aux = built.pair_fn(key, crops)
    return built.objective.loss(built.model, params, inputs, targets, key, aux)

  traced = jax.make_jaxpr(loss)(built.abstract.params, jax.ShapeDtypeStruct((batch, *size), jnp.float32),
                                jax.random.key(0))
  ops = _ops(traced.jaxpr, collections.Counter())
  assert any(ops[(op, "bfloat16")] for op in COMPUTE), f"{name}: nothing runs in bfloat16"
  in_bfloat16 = sorted(op for op in FLOAT32_ONLY if ops[(op, "bfloat16")])
  assert not in_bfloat16, f"{name}: {in_bfloat16} run in bfloat16"
  assert [a.dtype for a in traced.out_avals] == [jnp.float32]
  state = {jnp.dtype(a.dtype) for a in jax.tree.leaves((built.abstract.params, built.abstract.opt_state))
           if jnp.issubdtype(a.dtype, jnp.floating)}
  assert state == {jnp.dtype(jnp.float32)}


def _crops(size: tuple[int, ...], batch: int, step: int) -> np.ndarray:
  """[batch, *size] uint8 crops of the shipped 160^3 FIB-SEM sample, drawn by `step`."""
  vol = _VOLUME.get("vol")
  if vol is None:
    vol = _VOLUME["vol"] = tifffile.imread(FIBSEM_10NM)
  rng, full = np.random.default_rng(step), (1,) * (3 - len(size)) + size
  out = []
  for _ in range(batch):
    z, y, x = (int(rng.integers(0, n - s + 1)) for n, s in zip(vol.shape, full))
    out.append(vol[z:z + full[0], y:y + full[1], x:x + full[2]].reshape(size))
  return np.stack(out)


_VOLUME = {}


def _fit(name: str, dtype: str):
  """[STEPS, 2] loss and gradient norm of each train step of the tiny config (seed 0, the same batches and key;
  Adam at a constant 1e-3, so that the zero-initialised output heads grow and the network's body shapes the
  loss within the few steps), and the final state."""
  built, size, batch = _engine(name, dtype, optim={"lr": 1e-3, "warmup_steps": 0, "schedule": "constant"},
                               train={"steps": STEPS})
  state, curve = built.init(jax.random.key(0)), []
  for step in range(STEPS):
    crops = jax.device_put(_crops(size, batch, step), built.batch_sharding)
    state, metrics = built.train_step(state, crops, jax.random.key(1))
    assert metrics["loss"].dtype == jnp.float32
    curve.append((float(metrics["loss"]), float(metrics["grad_norm"])))
  return np.array(curve), jax.device_get(state)


@pytest.mark.slow
@pytest.mark.parametrize("name", [   # the U-Net in CI, the others in `make test-long`
    n if n == "unet" else pytest.param(n, marks=pytest.mark.long) for n in LEARNED])
def test_a_bfloat16_fit_follows_the_float32_fit(name):
  """Compiles two train steps per method (20-100 s each on 2 CPU cores, bfloat16 the slower): slow."""
  want, _ = _fit(name, "float32")
  got, state = _fit(name, "bfloat16")
  rel = np.abs(got - want) / np.abs(want)
  # the gradient norm is printed, not bounded: an L1 loss's gradient flips with the sign of each pixel's error, and
  # the U-Net's differed by 10-30 % between the two fits while its loss agreed to 1e-3
  print(f"{name}: loss float32 {want[:, 0].round(5)} bfloat16 {got[:, 0].round(5)}; largest relative difference: "
        f"loss {rel[:, 0].max():.1e}, gradient norm {rel[:, 1].max():.1e}")
  assert np.all(rel[:, 0] <= LOSS_RTOL), f"{name}: relative loss differences {rel[:, 0]} beyond {LOSS_RTOL}"
  assert not np.array_equal(got, want), f"{name}: bfloat16 gave the float32 numbers bit for bit (not in effect?)"
  assert {jnp.dtype(a.dtype) for a in jax.tree.leaves((state.params, state.opt_state))
          if jnp.issubdtype(a.dtype, jnp.floating)} == {jnp.dtype(jnp.float32)}
