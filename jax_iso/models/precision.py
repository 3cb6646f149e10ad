"""Mixed precision: a model's compute dtype (`model.dtype`) and weight dtype (`model.param_dtype`), resolved from
the config in one place, `model_dtypes`, which `build_model` calls for training, inference and export alike.

    compute_dtype("auto", jax.devices()[0])    # "float32" on a CPU; "bfloat16" on a TPU or a GPU of compute
                                               # capability >= 8.0 (A100, H100, ...)
    model_dtypes({"dtype": "auto", "param_dtype": "float32"})   # {"dtype": jnp.float32, ...} on this machine

- `model.dtype`: "auto" (every shipped config), "float32" or "bfloat16". Convolutions, dense layers and
  attention products run in it; LayerNorm/GroupNorm statistics, softmax, the model's output head and the losses
  (pixel losses, SSIM, PDL, the diffusion MSE) run in float32 whatever it is. "auto" is decided by the device the
  model runs on when it is built, not stored: a config or bundle saved with "auto" trains in bfloat16 on a TPU
  and predicts in float32 on a laptop CPU from the same float32 parameters. bfloat16 is not the CPU default: the
  2-core CPU ran the A2I step 1.90 -> 2.42 s and EMformer's 15.5 -> 17.2 s in it (docs/results.md); a GPU
  below compute capability 8.0 (V100, T4) has no bfloat16 tensor cores.
- `model.param_dtype`: "float32", the only value: parameters, their moving average and the optimizer state stay
  float32 (bfloat16 keeps 8 bits of mantissa: a weight moves only by steps of 0.4-0.8 % of itself, and EMDiffuse's
  Adam at 5e-5 moves a weight of 0.05 by 0.1 % a step, which would round away).
float16 is refused: its 5-bit exponent underflows small gradients without loss scaling, which the trainer does
not do.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jax_iso.errors import UserError

COMPUTE_DTYPES = ("auto", "float32", "bfloat16")   # model.dtype
PARAM_DTYPES = ("float32",)                        # model.param_dtype
BFLOAT16_GPU = (8, 0)                              # the first CUDA compute capability with bfloat16 tensor cores
_JNP = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def supports_bfloat16(device: Any) -> bool:
  """Whether "auto" picks bfloat16 compute on `device` (a `jax.Device`, or anything with its `platform` and, for
  a GPU, `compute_capability` such as "8.0"): a TPU, or a CUDA GPU of compute capability >= 8.0."""
  platform = str(getattr(device, "platform", "")).lower()
  if platform == "tpu":
    return True
  if platform in ("gpu", "cuda"):
    try:
      major, minor = (int(p) for p in (str(getattr(device, "compute_capability", "")).split(".") + ["0"])[:2])
    except ValueError:          # none given, or not a CUDA one (ROCm's "gfx90a"): float32, the safe choice
      return False
    return (major, minor) >= BFLOAT16_GPU
  return False


def compute_dtype(setting: Any, device: Any = None) -> str:
  """The compute dtype name that `model.dtype` = `setting` means on `device` (default: JAX's first device);
  a UserError for a value not in COMPUTE_DTYPES."""
  if setting not in COMPUTE_DTYPES:
    raise UserError(f"model.dtype={setting!r} is unknown; choose one of {', '.join(COMPUTE_DTYPES)} (auto: "
                    "bfloat16 on a TPU or a GPU of compute capability >= 8.0, float32 elsewhere)")
  if setting != "auto":
    return setting
  return "bfloat16" if supports_bfloat16(jax.devices()[0] if device is None else device) else "float32"


def param_dtype(setting: Any) -> str:
  """The weight dtype name of `model.param_dtype` = `setting`: float32; a UserError otherwise."""
  if setting not in PARAM_DTYPES:
    raise UserError(f"model.param_dtype={setting!r} is not supported: parameters and optimizer state stay "
                    "float32 (bfloat16 rounds Adam's small updates away); for bfloat16 compute set "
                    "model.dtype=bfloat16 (or auto)")
  return setting


def model_dtypes(cfg: Mapping, device: Any = None) -> dict:
  """{"dtype": ..., "param_dtype": ...} as jnp dtypes for the fields of a `model` section that has them (a model
  without them keeps its module's float32 defaults); "auto" resolved for `device` (default: JAX's first)."""
  out = {}
  if "dtype" in cfg:
    out["dtype"] = _JNP[compute_dtype(cfg["dtype"], device)]
  if "param_dtype" in cfg:
    out["param_dtype"] = _JNP[param_dtype(cfg["param_dtype"])]
  return out


def describe(cfg: Mapping, device: Any = None) -> str:
  """E.g. "compute bfloat16 (model.dtype=auto on tpu), parameters float32"."""
  device = jax.devices()[0] if device is None else device
  setting = cfg.get("dtype", "float32")
  how = f" (model.dtype=auto on {device.platform})" if setting == "auto" else ""
  return f"compute {compute_dtype(setting, device)}{how}, parameters {param_dtype(cfg.get('param_dtype', 'float32'))}"
