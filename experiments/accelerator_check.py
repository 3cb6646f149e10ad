"""Every learned method's train step and inference tile on whatever backend JAX has: time, FLOP/s against the
backend's matmul peak, memory, and agreement with the CPU.

  python experiments/accelerator_check.py --out=results/accelerator_h100.json   # GPU / TPU: the default sizes
  python experiments/accelerator_check.py --quick --out=/tmp/accelerator.json   # CPU, `tiny` sizes: minutes (CI)
  ... --methods=unet,a2i   ... --dtype=float32   ... --noparity   ... --sizes=cpu

Sizes (`--sizes=auto`): on a GPU or TPU each method's accelerator config (`get_config()`, A2I-3DEM's `paper`
variant, the same network); on a CPU its `cpu` variant, or with `--quick` its `tiny` one (the accelerator sizes
take tens of seconds a step on a CPU). Every pair maker with a factor runs at x4; "auto" inference sizes (which
inference derives from the device's memory) are measured at AUTO_TILE and AUTO_BATCH; an "auto" training batch
is derived as training derives it (`jax_iso/train/auto_batch.py`: the largest batch whose compiled step fits the
device's memory; on a CPU 8), and the row says how (`batch_size_auto`). The compute dtype is the
config's `model.dtype` as the model resolves it on this device ("auto": bfloat16 on a TPU or a GPU of compute
capability >= 8.0, float32 elsewhere), or `--dtype`'s; each row records it. Per method:
- train step: the jitted step training runs (`jax_iso.train.engine`: pairs made on the device, the objective, the
  optimizer, EMA; the state replicated and the crops split over the mesh, the state donated), on a batch of the
  config's size of random uint8 crops;
- inference tile: one call of the function inference runs on one batch of tiles of the config's `infer` sizes
  (already on the device: the transfer of each batch that inference also does is not timed):
  the plane methods' and ssTEM restoration's `make_apply_fn` ([B, h, w] tiles with their margins; [B, 4, h, w]),
  EMformer's on [B, frames, tile / 4 sections, tile] clips (one tile^3 block of the fine grid), and the diffusion
  methods' `make_tile_sampler` with its K samples for ONE sampler step (one network evaluation of K x B tiles;
  a whole tile is `diffusion.steps` of them, the count is recorded; its parity is taken on the network's
  prediction, `network_parity`);
- the median wall time of several calls after warm-up (`block_until_ready`), XLA's FLOP count of the compiled
  executable (`cost_analysis`; per device under sharding; a loop body counted once), achieved FLOP/s and its
  fraction of the matmul peak measured in the same run (a jitted jnp.dot of float32, and of bfloat16 off the CPU;
  the fraction uses the peak of the model's compute dtype);
- memory: `compiled.memory_analysis()` (arguments, outputs, temporaries; `estimate_bytes` = arguments + outputs
  - aliased + temporaries) and the device's `peak_bytes_in_use` (`memory_stats()`, None on a CPU; the peak since
  the process started, so cumulative over the rows in the order they ran);
- parity: the step's first loss and the tile's outputs recomputed with the same parameters and batch on the CPU
  backend (the function inside the timed jit, jitted there with no shardings or donation); on the CPU backend
  itself that is a second compilation of the same function, which guards the engine's shardings and donation
  and is expected to agree to the bit (running it op by op under `jax.disable_jit` agreed to the bit as well on
  the `tiny` U-Net, at a minute a step: too slow for CI). The model keeps its dtype there (a bfloat16 model
  computes in bfloat16 on the CPU too), while float32 matmuls are exact float32 on the CPU. The relative
  difference must lie within a bound set by the compute precision of the timed run (BOUNDS: float32; TF32, JAX's
  default for float32 matmuls on NVIDIA GPUs; bfloat16, a bfloat16 model's or TPU's default for float32).
  Parameters: the initial ones, with every all-zero leaf (output layers initialised at zero, biases) given small
  random values, so the output depends on the whole network.
vEMDiffuse-a/-i share one network (as EMDiffuse-n/-r do); their rows differ in the train step's pair maker, and
`same_network_as` says which earlier row has the same network. A method that fails (out of memory) gets its error
in its row and the others go on.
"""
from __future__ import annotations

import os
import time
import traceback

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from common import cpu_name, write_json  # experiments/common.py
from jax_iso import mesh as mesh_lib, methods, runconfig
from jax_iso.diffusion.conditional import Conditional
from jax_iso.infer.apply_fn import make_apply_fn
from jax_iso.infer.diffusion_tiles import make_tile_sampler
from jax_iso.infer.tiles import Tiling, device_batch
from jax_iso.models import build_model
from jax_iso.train import engine
from jax_iso.train.inputs import crop_spec
from speed import resolved, train_batch  # experiments/speed.py

SIZES = ("auto", "tiny", "cpu", "accelerator")
PARTS = ("train_step", "tile")
FACTOR = 4.0
SHORT = {"float32": "f32", "tensorfloat32": "tf32", "bfloat16": "bf16"}   # compute precisions in the table
AUTO_TILE, AUTO_BATCH = 256, 8   # infer sizes measured where a config leaves them "auto" (sized at run time)
flags.DEFINE_string("out", None, "Write the numbers to this JSON file.")
flags.DEFINE_bool("quick", False, "On a CPU the `tiny` sizes (with --sizes=auto); 3 timed calls instead of 5-20.")
flags.DEFINE_enum("sizes", "auto", SIZES, "Which config variants: auto (accelerator sizes on a GPU/TPU, `cpu` on "
                  "a CPU, `tiny` with --quick), or one for every backend.")
flags.DEFINE_list("methods", None, "Methods to run (default: every learned method).")
flags.DEFINE_bool("parity", True, "Recompute the loss and the tile on the CPU backend.")
flags.DEFINE_enum("dtype", None, ["auto", "float32", "bfloat16"], "Set every config's model.dtype (default: the "
                  "config's own; \"auto\" is bfloat16 on a TPU or a GPU of compute capability >= 8.0).")
FLAGS = flags.FLAGS

# The parity bound by the compute precision of the timed run: (largest relative difference, why).
BOUNDS = {
    "float32": (1e-4, "float32 on both sides: the two compilations sum in other orders and fuse differently; an "
                "n-term float32 sum is off by ~sqrt(n) x 6e-8 (n <= ~1e4: < 1e-5), and tens of such layers stay "
                "well under 1e-4 of the output's scale"),
    "tensorfloat32": (1e-2, "float32 matmuls and convolutions on TF32 tensor cores (JAX's default on NVIDIA GPUs "
                      "from Ampere on): inputs rounded to 10 mantissa bits, 5e-4 each, accumulated in float32; "
                      "tens of layers stay under 1e-2 of the output's scale against exact float32"),
    "bfloat16": (5e-2, "bfloat16 products (TPU's default for float32 matmuls, or a bfloat16 model): 8 mantissa "
                 "bits, 4e-3 each; tens of layers stay under 5e-2 of the output's scale"),
}


def main(argv):
  del argv
  backend = jax.default_backend()
  sizes = _sizes(FLAGS.sizes, backend, FLAGS.quick)
  peaks = {"float32": matmul_peak(jnp.float32, backend)}
  if backend != "cpu":
    peaks["bfloat16"] = matmul_peak(jnp.bfloat16, backend)
  names = FLAGS.methods or list(methods.names(learned=True))
  rows, seen = [], {"network": {}, **{part: {} for part in PARTS}}
  for name in names:
    print(f"{name} ...", flush=True)
    row = method_row(name, sizes, backend, peaks, seen)
    rows.append(row)
    print(_row_line(row), flush=True)
  device = jax.devices()[0]
  out = {"backend": backend, "device_kind": device.device_kind, "device": str(device),
         "device_count": jax.device_count(), "platform_version": _platform_version(), "cpu": cpu_name(),
         "jax": jax.__version__, "jaxlib": _jaxlib_version(), "sizes": sizes, "quick": FLAGS.quick,
         "factor": FACTOR, "matmul_peak": peaks,
         "parity_reference": _reference(backend) if FLAGS.parity else None,
         "bounds": {k: {"rel": v[0], "why": v[1]} for k, v in BOUNDS.items()},
         "rows": rows, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
  print(table(out))
  write_json(FLAGS.out, out)


def _sizes(flag: str, backend: str, quick: bool) -> str:
  """The config sizes to run: the flag, or by backend ("accelerator" off the CPU, "tiny" / "cpu" on it)."""
  if flag != "auto":
    return flag
  if backend != "cpu":
    return "accelerator"
  return "tiny" if quick else "cpu"


def variant_of(method: methods.Method, sizes: str) -> str | None:
  """The config variant of `method` at `sizes`: the accelerator config is `get_config()` (A2I-3DEM's `paper`,
  the same network trained as the paper does); `cpu` and `tiny` where the method has them."""
  if sizes == "accelerator":
    return "paper" if "paper" in method.variants() else None
  return sizes if sizes in method.variants() else None


def prepared(config) -> runconfig.Frozen:
  """The config with its pair maker's factor (and EMformer's) set to FACTOR where it has one, `--dtype` applied,
  and numbers for "auto" inference sizes (AUTO_TILE, AUTO_BATCH: inference sizes them from the device's memory)."""
  cfg = runconfig.freeze(config)
  if FLAGS.dtype:
    cfg = runconfig.replace(cfg, model={"dtype": FLAGS.dtype})
  infer = {name: fallback for name, fallback in (("tile", AUTO_TILE), ("batch_size", AUTO_BATCH))
           if not isinstance(cfg["infer"].get(name), (int, tuple, list))}
  if infer:
    cfg = runconfig.replace(cfg, infer=infer)
  if "factor" in cfg["pairs"]:
    cfg = runconfig.replace(cfg, pairs={"factor": FACTOR})
  if "factor" in cfg["model"]:
    cfg = runconfig.replace(cfg, model={"factor": FACTOR})
  return cfg


def method_row(name: str, sizes: str, backend: str, peaks: dict, seen: dict) -> dict:
  """One method's row: its train step and inference tile measured (an error recorded in place of either). A
  part whose computation an earlier row already measured (`seen`: vEMDiffuse-i's `tiny` config is -a's; EMDiffuse-r
  samples with -n's network and tiles) is copied from it with `same_as`."""
  method = methods.get(name)
  variant = variant_of(method, sizes)
  row = {"method": name, "variant": variant or "default", "strategy": method.strategy}
  try:
    cfg = prepared(method.default_config(variant))
    plain = runconfig.to_json(cfg)
    keys = {"network": repr(plain["model"]),                                  # what each part depends on
            "train_step": repr({**plain, "method": method.loss}),
            "tile": repr([method.strategy, plain["model"], plain["infer"], plain.get("diffusion")])}
    dtype = jnp.dtype(getattr(build_model(cfg.model), "dtype", jnp.float32)).name    # "auto" resolved here
    row.update({"model": cfg.model.name, "dtype": dtype,
                "same_network_as": seen["network"].setdefault(keys["network"], name),
                "compute": compute_precision(backend, dtype),
                "peak_key": "bfloat16" if dtype in ("bfloat16", "float16") else "float32"})
    todo = [part for part in PARTS if keys[part] not in seen[part]]
    if todo:
      peak = peaks.get(row["peak_key"], peaks["float32"])["flop_per_s"]
      cfg, how = train_batch(cfg)
      if how:
        row["batch_size_auto"] = how
      batch = int(cfg.data.batch_size)
      built = engine.build(resolved(cfg, (batch,) + tuple(crop_spec(cfg)[1])), mesh_lib.make_mesh(cfg.mesh))
      host_state = jax.device_get(built.init(jax.random.key(0)))
      params = perturbed(host_state.params)
      host_state = host_state.replace(params=params, ema_params=None if host_state.ema_params is None else params)
  except Exception as e:  # noqa: BLE001  a method that cannot even be built is reported, not fatal
    return {**row, "error": _error(e)}
  bound = BOUNDS[row["compute"]][0]
  measure = {"train_step": lambda: train_step_row(built, cfg, host_state, peak, bound),
             "tile": lambda: tile_row(method, built, cfg, params, peak, bound)}
  for part in PARTS:
    if part in todo:
      row[part] = _guarded(measure[part])
      seen[part][keys[part]] = (name, row[part])
    else:
      earlier, measured = seen[part][keys[part]]
      row[part] = {**measured, "same_as": earlier}
  return row


def _guarded(measure) -> dict:
  """`measure()`, or its error (out of memory, a compile failure) as {"error": ...}."""
  try:
    return measure()
  except Exception as e:  # noqa: BLE001  one failing part must not stop the others
    return {"error": _error(e)}


def _error(e: BaseException) -> str:
  """The error's type and first line, and where it was raised."""
  lines = str(e).strip().splitlines()
  where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
  place = f" ({os.path.basename(where.filename)}:{where.lineno})" if where else ""
  return f"{type(e).__name__}: {lines[0][:400] if lines else ''}{place}"


def perturbed(params, scale: float = 0.02, seed: int = 0):
  """`params` (host arrays) with every all-zero leaf replaced by N(0, scale^2) values: zero-initialised output
  layers would make the outputs, and so the parity check, independent of the rest of the network."""
  rng = np.random.default_rng(seed)

  def one(p):
    p = np.asarray(p)
    if p.size and not np.any(p):
      return (rng.standard_normal(p.shape) * scale).astype(p.dtype)
    return p
  return jax.tree.map(one, params)


def train_step_row(built: engine.Engine, cfg, host_state, peak: float, bound: float) -> dict:
  """The engine's jitted train step compiled, run and timed from `host_state` on random uint8 crops."""
  size = tuple(crop_spec(cfg)[1])
  crops_np = np.random.default_rng(0).integers(0, 256, (int(cfg.data.batch_size),) + size, np.uint8)
  crops = mesh_lib.global_batch(crops_np, built.batch_sharding)
  key = jax.random.key(1)
  state = jax.tree.map(lambda a, x: jax.device_put(x, a.sharding), built.abstract, host_state)
  t = time.perf_counter()
  compiled = built.train_step.lower(state, crops, key).compile()
  compile_s = time.perf_counter() - t
  holder = {"state": state}

  def call():
    holder["state"], metrics = compiled(holder["state"], crops, key)
    jax.block_until_ready((holder["state"], metrics))
    return metrics
  first = {k: float(v) for k, v in call().items()}          # also the first warm-up
  times = timed(call)
  out = {"crops": list(crops_np.shape), "input_shape": list(built.sample.shape), "loss": first["loss"],
         "grad_norm": first["grad_norm"], "compile_s": round(compile_s, 3),
         **speed(times, compiled, peak), "memory": memory(compiled)}
  if FLAGS.parity:
    def parity():
      ref = reference(built.train_step.__wrapped__, (host_state, crops_np, key))[1]
      return {**scalar_parity(first["loss"], float(ref["loss"]), bound),
              "grad_norm_rel_diff": _rel(first["grad_norm"], float(ref["grad_norm"]))}
    out["parity"] = _guarded(parity)
  return out


def tile_row(method: methods.Method, built: engine.Engine, cfg, params, peak: float, bound: float) -> dict:
  """Inference's tile function of the method, compiled, run and timed on one batch of random tiles."""
  fn, inputs, what = tile_call(method, built.model, cfg, params)
  jitted, bound_params = fn.func, fn.args
  t = time.perf_counter()
  compiled = jitted.lower(*bound_params, *inputs).compile()
  compile_s = time.perf_counter() - t
  on_device = jax.device_put(inputs, tuple(compiled.input_shardings[0][len(bound_params):]))

  def call():
    return jax.block_until_ready(compiled(*bound_params, *on_device))
  result = np.asarray(call())
  times = timed(call)
  out = {"what": what, "input_shape": list(inputs[0].shape), "output_shape": list(result.shape),
         "compile_s": round(compile_s, 3), **speed(times, compiled, peak), "memory": memory(compiled)}
  diffusion = method.strategy in ("diffusion", "between")
  if diffusion:
    out["sampler_steps_per_tile"] = int(cfg.diffusion.steps)
  if FLAGS.parity and diffusion:
    out["parity"] = _guarded(lambda: network_parity(built.model, cfg, params, inputs[0], bound))
  elif FLAGS.parity:
    out["parity"] = _guarded(lambda: array_parity(result, np.asarray(reference(jitted.__wrapped__,
                                                                                (params, *inputs))), bound))
  return out


def network_parity(model, cfg, params, tiles: np.ndarray, bound: float) -> dict:
  """Parity of a diffusion tile, on the network's prediction for the tiles' conditions at log-SNR 0 (alpha =
  sigma), jitted as inference jits it (sharded) against the CPU reference. The timed sampler step starts at t = 1,
  where its clean estimate divides the network's error by alpha(1) (~0.007 for EMDiffuse's schedule) and is then
  clipped to [-1, 1], mostly saturated: no measure of agreement."""
  cond = (tiles.transpose(0, 2, 3, 1) if tiles.ndim == 4 else tiles[..., None]) * 2.0 - 1.0   # [B, h, w, C]
  z = np.random.default_rng(3).standard_normal(cond.shape[:-1] + (model.out_channels,)).astype(np.float32)
  args = (params, cond, z, np.zeros(len(tiles), np.float32))
  conditional = Conditional(cfg.diffusion)

  def predict(p, c, z_t, level):
    return conditional.denoiser(model, p, c)(z_t, level)
  mesh = mesh_lib.make_mesh(local=True)
  repl, batch = mesh_lib.replicated(mesh), mesh_lib.batch_sharding(mesh)
  sharded = jax.jit(predict, in_shardings=(repl, batch, batch, batch), out_shardings=batch)
  out = np.asarray(jax.block_until_ready(sharded(*args)))
  return {**array_parity(out, np.asarray(reference(predict, args)), bound),
          "of": "the network's prediction at log-SNR 0 for the tiles' conditions"}


def tile_call(method: methods.Method, model, cfg, params):
  """(the inference function as `functools.partial(jitted, params)`, its inputs as numpy, a description) of one
  batch of tiles of the method's `infer` sizes."""
  rng = np.random.default_rng(1)
  infer, multiple = cfg.infer, getattr(model, "multiple", 1)
  batch = device_batch(int(infer.batch_size))
  if method.strategy == "clips":
    frames, tile = int(infer.frames), int(infer.tile)
    sections = max(2, round(tile / FACTOR))
    clips = rng.random((batch, frames, sections, tile), np.float32)
    return (make_apply_fn(model, params), (clips,),
            f"{batch} clips of {frames} frames x {sections} sections x {tile} (a {tile}^3 block at x{FACTOR:g})")
  h, w = Tiling.from_config(infer, multiple).plan((1 << 14, 1 << 14)).window
  if method.strategy in ("diffusion", "between"):
    k, chans = int(infer.samples), (3 if method.strategy == "between" else None)
    tiles = rng.random((batch,) + ((chans,) if chans else ()) + (h, w), np.float32)
    if chans:
      tiles[:, 2] = 0.25                                   # the position between the two sections
    origins = np.stack([np.zeros(batch), np.arange(batch) * h, np.zeros(batch)], axis=1).astype(np.int32)
    draw = make_tile_sampler(Conditional(cfg.diffusion), model, params, jax.random.key(2), samples=k,
                             between=FACTOR if chans else None, steps=1)
    return draw, (tiles, origins), f"one sampler step of {k} samples x {batch} tiles of {h} x {w}"
  if method.strategy == "sections":
    tiles = rng.random((batch, 4, h, w), np.float32)
    tiles[:, 3] = 0.0
    tiles[:, 3, h // 4:h // 2] = 1.0                       # a damaged band
    return (make_apply_fn(model, params, output="fused"), (tiles,),
            f"{batch} tiles of 4 x {h} x {w} (below, damaged, above, mask)")
  tiles = rng.random((batch, h, w), np.float32)
  return make_apply_fn(model, params, factor=FACTOR), (tiles,), f"{batch} tiles of {h} x {w}"


def reference(fn, args):
  """`fn(*args)` as the parity reference: `fn` (the function inside the timed jit) jitted plainly, with no
  shardings and no donation, its arguments on the CPU backend."""
  return jax.block_until_ready(jax.jit(fn)(*jax.device_put(args, jax.devices("cpu")[0])))


def _reference(backend: str) -> str:
  if backend == "cpu":
    return ("same backend: the timed executable (the engine's jit with its shardings and the state donated; "
            "inference's sharded jit) against the same function compiled apart by a plain jax.jit on the CPU")
  return f"the same functions jitted on the CPU backend (float32) against the timed run on {backend}"


def compute_precision(backend: str, dtype: str) -> str:
  """The precision of the products in the timed run: a bfloat16 model's, else the backend's default for float32
  matmuls and convolutions (jax_default_matmul_precision when set)."""
  if dtype in ("bfloat16", "float16"):
    return "bfloat16"
  setting = str(jax.config.jax_default_matmul_precision or "").lower()
  if setting in ("highest", "float32", "f32_f32_f32"):
    return "float32"
  if setting in ("tensorfloat32", "high", "tf32_tf32_f32"):
    return "tensorfloat32"
  if setting in ("bfloat16", "fastest", "default", "bf16_bf16_f32"):
    return "float32" if backend == "cpu" else "bfloat16"
  return {"cpu": "float32", "gpu": "tensorfloat32"}.get(backend, "bfloat16")


def scalar_parity(value: float, ref: float, bound: float) -> dict:
  rel = _rel(value, ref)
  return {"value": value, "reference": ref, "abs_diff": abs(value - ref), "rel_diff": rel, "bound": bound,
          "within": bool(np.isfinite(value) and rel <= bound)}


def array_parity(out: np.ndarray, ref: np.ndarray, bound: float) -> dict:
  """Max absolute difference, and relative to the reference's largest magnitude (elementwise ratios blow up
  near zero)."""
  diff = float(np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64))))
  scale = float(np.max(np.abs(ref))) or 1.0
  return {"max_abs_diff": diff, "ref_max_abs": scale, "rel_diff": diff / scale, "bound": bound,
          "within": bool(np.all(np.isfinite(out)) and diff / scale <= bound)}


def _rel(value: float, ref: float) -> float:
  return abs(value - ref) / max(abs(ref), 1e-30)


def timed(call) -> list[float]:
  """Wall times of `call()` (which blocks), after the caller's first call and one more warm-up: 3 with --quick,
  else 5 to 20 (more while under 10 s in all)."""
  if not FLAGS.quick:
    call()
  times = []
  while len(times) < 3 if FLAGS.quick else (len(times) < 5 or (len(times) < 20 and sum(times) < 10.0)):
    t = time.perf_counter()
    call()
    times.append(time.perf_counter() - t)
  return times


def speed(times: list[float], compiled, peak: float) -> dict:
  """Median seconds, XLA's FLOPs of one call, achieved FLOP/s and its fraction of `peak`."""
  sec = float(np.median(times))
  cost = compiled.cost_analysis()
  flops = float((cost[0] if isinstance(cost, list) else cost or {}).get("flops", 0.0))
  return {"seconds": sec, "times_s": [round(t, 5) for t in times], "flops": flops, "flop_per_s": flops / sec,
          "fraction_of_peak": flops / sec / peak}


def memory(compiled) -> dict:
  """`compiled.memory_analysis()` in bytes, its estimate of the executable's peak, and the device's peak."""
  stats = compiled.memory_analysis()
  fields = ("argument_size_in_bytes", "output_size_in_bytes", "alias_size_in_bytes", "temp_size_in_bytes",
            "generated_code_size_in_bytes")
  out = {f: int(getattr(stats, f, 0) or 0) for f in fields} if stats is not None else {}
  if out:
    out["estimate_bytes"] = (out["argument_size_in_bytes"] + out["output_size_in_bytes"]
                             - out["alias_size_in_bytes"] + out["temp_size_in_bytes"])
  device_stats = jax.local_devices()[0].memory_stats()
  out["device_peak_bytes"] = int(device_stats["peak_bytes_in_use"]) if device_stats and \
      "peak_bytes_in_use" in device_stats else None
  return out


def matmul_peak(dtype, backend: str, repeats: int = 10) -> dict:
  """FLOP/s of a jitted n x n jnp.dot of `dtype` (n = 2048 on a CPU, 8192 elsewhere), median of `repeats`."""
  n = 2048 if backend == "cpu" else 8192
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
  f = jax.jit(jnp.dot)
  f(a, a).block_until_ready()
  times = []
  for _ in range(repeats):
    t = time.perf_counter()
    f(a, a).block_until_ready()
    times.append(time.perf_counter() - t)
  sec = float(np.median(times))
  return {"n": n, "dtype": jnp.dtype(dtype).name, "seconds": sec, "flop_per_s": 2 * n**3 / sec}


def table(out: dict) -> str:
  """The rows as a fixed-width table, with the backend and the matmul peaks above it."""
  peaks = ", ".join(f"{k} {v['flop_per_s'] / 1e9:,.0f} GFLOP/s (n={v['n']})" for k, v in out["matmul_peak"].items())
  head = (f"backend {out['backend']} ({out['device_kind']}, {out['device_count']} device(s)), jax {out['jax']}, "
          f"sizes {out['sizes']}; matmul peak: {peaks}")
  cols = ["method", "variant", "compute"]
  cols += [f"{part} {c}" for part in ("step", "tile") for c in ("ms", "GFLOP/s", "%peak", "MB")]
  cols += ["loss rel", "tile rel", "parity"]
  return "\n".join([head, _cells(cols)] + [_row_line(row) for row in out["rows"]])


def _cells(cells: list) -> str:
  return f"{cells[0]:<14}{cells[1]:<9}{cells[2]:<9}" + "".join(f"{c:>14}" for c in cells[3:])


def _row_line(row: dict) -> str:
  """One row of the table (errors on lines of their own)."""
  if "error" in row:
    return f"{row['method']:<14}{row['variant']:<9}error: {row['error']}"
  cells = [row["method"], row["variant"], SHORT[row["compute"]]]
  for part in PARTS:
    r = row[part]
    cells += ["error", "", "", ""] if "error" in r else [
        f"{r['seconds'] * 1e3:.1f}", f"{r['flop_per_s'] / 1e9:.1f}", f"{100 * r['fraction_of_peak']:.1f}",
        f"{r['memory'].get('estimate_bytes', 0) / 2**20:.1f}"]
  parity = [row[part].get("parity") for part in PARTS]
  cells += [f"{p['rel_diff']:.1e}" if p and "rel_diff" in p else "-" for p in parity]
  cells.append("ok" if all(p and p.get("within") for p in parity) else "-" if not any(parity) else "OUTSIDE")
  notes = [f"{part} {row[part]['same_as']}'s" for part in PARTS if "same_as" in row[part]]
  errors = [f"{part}: {r['error']}" for part in PARTS for r in (row[part], row[part].get("parity") or {})
            if "error" in r]
  return _cells(cells) + (f"  ({', '.join(notes)})" if notes else "") + "".join(f"\n  {e}" for e in errors)


def _platform_version() -> str | None:
  try:
    return str(jax.devices()[0].client.platform_version)
  except Exception:  # noqa: BLE001  informational only
    return None


def _jaxlib_version() -> str | None:
  try:
    import jaxlib  # pylint: disable=g-import-not-at-top
    return jaxlib.__version__
  except Exception:  # noqa: BLE001  informational only
    return None


if __name__ == "__main__":
  app.run(main)
