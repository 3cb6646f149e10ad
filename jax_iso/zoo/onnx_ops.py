"""JAX primitives as ONNX nodes: the rules `onnx_export` applies to every equation that depends on the input.

A rule is `rule(graph, eqn, ins) -> output name (or names)`: `ins` are `onnx_export.Value`s (known arrays or
ONNX tensors), shapes are static. Only what the feed-forward models (U-Net, A2I-3DEM) compute on their input is
covered; convolutions, pooling and gathers are written for any layout JAX gives them (they are transposed to and
from ONNX's channels-first layout).
"""
from __future__ import annotations

import string

import numpy as np
from onnx import helper

_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max", "min": "Min", "pow": "Pow",
           "ge": "GreaterOrEqual", "gt": "Greater", "le": "LessOrEqual", "lt": "Less", "eq": "Equal",
           "and": "And", "or": "Or"}
_UNARY = {"neg": "Neg", "exp": "Exp", "log": "Log", "tanh": "Tanh", "logistic": "Sigmoid", "abs": "Abs",
          "sqrt": "Sqrt", "erf": "Erf", "floor": "Floor", "ceil": "Ceil", "not": "Not", "sin": "Sin", "cos": "Cos",
          "stop_gradient": "Identity", "copy": "Identity", "copy_p": "Identity", "optimization_barrier": "Identity"}
_REDUCE = {"reduce_sum": "ReduceSum", "reduce_max": "ReduceMax", "reduce_min": "ReduceMin"}


def _shape_out(eqn) -> tuple[int, ...]:
  return tuple(eqn.outvars[0].aval.shape)


def _binary(op):
  def rule(g, eqn, ins):
    if op == "Div" and not np.issubdtype(np.dtype(eqn.outvars[0].aval.dtype), np.floating):
      raise NotImplementedError("integer division has no exact ONNX equivalent here")
    return g.node(op, [v.tensor(g) for v in ins])
  return rule


def _unary(op):
  return lambda g, eqn, ins: g.node(op, [ins[0].tensor(g)])


def _reduce(op):
  return lambda g, eqn, ins: g.node(op, [ins[0].tensor(g), g.ints(eqn.params["axes"])], keepdims=0)


def _ne(g, eqn, ins):
  return g.node("Not", [g.node("Equal", [v.tensor(g) for v in ins])])


def _square(g, eqn, ins):
  x = ins[0].tensor(g)
  return g.node("Mul", [x, x])


def _rsqrt(g, eqn, ins):
  return g.node("Reciprocal", [g.node("Sqrt", [ins[0].tensor(g)])])


def _integer_pow(g, eqn, ins):
  """x ** n by repeated squaring, as XLA expands it."""
  n, x = int(eqn.params["y"]), ins[0].tensor(g)
  if n == 0:
    return g.const(np.ones(ins[0].shape, ins[0].aval.dtype))
  result, base, k = None, x, abs(n)
  while k:
    if k & 1:
      result = base if result is None else g.node("Mul", [result, base])
    k >>= 1
    if k:
      base = g.node("Mul", [base, base])
  return g.node("Reciprocal", [result]) if n < 0 else result


def _convert(g, eqn, ins):
  to = helper.np_dtype_to_tensor_dtype(np.dtype(eqn.params["new_dtype"]))
  return g.node("Cast", [ins[0].tensor(g)], to=to)


def _reshape(g, eqn, ins):
  return g.node("Reshape", [ins[0].tensor(g), g.ints(_shape_out(eqn))])


def _transpose(g, eqn, ins):
  return g.node("Transpose", [ins[0].tensor(g)], perm=[int(p) for p in eqn.params["permutation"]])


def _broadcast_in_dim(g, eqn, ins):
  out = _shape_out(eqn)
  ranked = [1] * len(out)
  for src, dst in enumerate(eqn.params["broadcast_dimensions"]):
    ranked[dst] = ins[0].shape[src]
  x = g.node("Reshape", [ins[0].tensor(g), g.ints(ranked)])
  return g.node("Expand", [x, g.ints(out)])


def _concatenate(g, eqn, ins):
  return g.node("Concat", [v.tensor(g) for v in ins], axis=int(eqn.params["dimension"]))


def _slice(g, eqn, ins):
  starts, limits = eqn.params["start_indices"], eqn.params["limit_indices"]
  steps = eqn.params["strides"] or (1,) * len(starts)
  return g.node("Slice", [ins[0].tensor(g), g.ints(starts), g.ints(limits), g.ints(range(len(starts))),
                          g.ints(steps)])


def _dynamic_slice(g, eqn, ins):
  if not all(v.known for v in ins[1:]):
    raise NotImplementedError("dynamic_slice with start indices that depend on the input")
  sizes, shape = eqn.params["slice_sizes"], ins[0].shape
  starts = [int(np.clip(int(v.const), 0, n - s)) for v, n, s in zip(ins[1:], shape, sizes)]
  return g.node("Slice", [ins[0].tensor(g), g.ints(starts), g.ints([s + k for s, k in zip(starts, sizes)]),
                          g.ints(range(len(sizes)))])


def _crop_and_pad(g, x: str, shape, lows, highs, value: str | None = None) -> str:
  """x padded by (lows, highs) per axis with `value` (zero by default); negative amounts crop."""
  if any(lo < 0 or hi < 0 for lo, hi in zip(lows, highs)):
    starts = [max(0, -lo) for lo in lows]
    ends = [n - max(0, -hi) for n, hi in zip(shape, highs)]
    x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(range(len(shape)))])
  pads = [max(0, lo) for lo in lows] + [max(0, hi) for hi in highs]
  if any(pads):
    x = g.node("Pad", [x, g.ints(pads)] + ([value] if value is not None else []), mode="constant")
  return x


def _dilate(g, x: str, shape, factors) -> str:
  """Inserts factor - 1 zeros between neighbours along each axis (lhs / interior dilation)."""
  for axis, f in enumerate(factors):
    if f == 1:
      continue
    n = shape[axis]
    split = list(shape[:axis + 1]) + [1] + list(shape[axis + 1:])
    x = g.node("Reshape", [x, g.ints(split)])
    pads = [0] * len(split) * 2
    pads[len(split) + axis + 1] = f - 1
    x = g.node("Pad", [x, g.ints(pads)], mode="constant")
    merged = list(shape[:axis]) + [n * f] + list(shape[axis + 1:])
    x = g.node("Reshape", [x, g.ints(merged)])
    x = g.node("Slice", [x, g.ints([0]), g.ints([(n - 1) * f + 1]), g.ints([axis])])
    shape = list(shape[:axis]) + [(n - 1) * f + 1] + list(shape[axis + 1:])
  return x


def _pad(g, eqn, ins):
  config = [(int(lo), int(hi), int(interior)) for lo, hi, interior in eqn.params["padding_config"]]
  shape = ins[0].shape
  x, value = ins[0].tensor(g), ins[1].tensor(g)
  if any(c[2] for c in config):
    if not (ins[1].known and float(ins[1].const) == 0.0):
      raise NotImplementedError("interior padding with a non-zero value")
    x = _dilate(g, x, shape, [c[2] + 1 for c in config])
    shape = [(n - 1) * (c[2] + 1) + 1 if n else 0 for n, c in zip(shape, config)]
  return _crop_and_pad(g, x, shape, [c[0] for c in config], [c[1] for c in config], value)


def _select_n(g, eqn, ins):
  if len(ins) != 3:
    raise NotImplementedError("select_n with more than two cases")
  which = ins[0].tensor(g)
  if np.dtype(ins[0].aval.dtype) != np.bool_:
    which = g.node("Cast", [which], to=helper.np_dtype_to_tensor_dtype(np.dtype(np.bool_)))
  return g.node("Where", [which, ins[2].tensor(g), ins[1].tensor(g)])


def _dot_general(g, eqn, ins):
  """Einsum over the contracting and batch dimensions; a Dense layer ([..., K] x [K, N]) as MatMul."""
  (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
  lhs, rhs = ins
  if not lb and len(rhs.shape) == 2 and tuple(lc) == (len(lhs.shape) - 1,) and tuple(rc) == (0,):
    return g.node("MatMul", [lhs.tensor(g), rhs.tensor(g)])
  letters = iter(string.ascii_letters)
  left = [next(letters) for _ in lhs.shape]
  right = [next(letters) for _ in rhs.shape]
  for i, j in list(zip(lc, rc)) + list(zip(lb, rb)):
    right[j] = left[i]
  free_l = [left[i] for i in range(len(left)) if i not in lc and i not in lb]
  free_r = [right[j] for j in range(len(right)) if j not in rc and j not in rb]
  out = [left[i] for i in lb] + free_l + free_r
  equation = f"{''.join(left)},{''.join(right)}->{''.join(out)}"
  return g.node("Einsum", [lhs.tensor(g), rhs.tensor(g)], equation=equation)


def _to_channels_first(g, value, spec) -> str:
  """A value laid out by a JAX dimension spec (batch/out-feature, feature, spatial...) as ONNX's NC... layout."""
  perm = [int(d) for d in spec]
  if value.known:
    return g.const(np.transpose(np.asarray(value.const), perm))
  return g.node("Transpose", [value.tensor(g)], perm=perm) if perm != sorted(perm) else value.tensor(g)


def _conv(g, eqn, ins):
  p = eqn.params
  if p["batch_group_count"] != 1:
    raise NotImplementedError("conv_general_dilated with batch_group_count > 1")
  lhs_spec, rhs_spec, out_spec = p["dimension_numbers"]
  x = _to_channels_first(g, ins[0], lhs_spec)
  w = _to_channels_first(g, ins[1], rhs_spec)
  shape = [ins[0].shape[d] for d in lhs_spec]
  if any(d != 1 for d in p["lhs_dilation"]):                   # transposed convolution: zeros between inputs
    x = _dilate(g, x, shape, [1, 1] + [int(d) for d in p["lhs_dilation"]])
    shape = shape[:2] + [(n - 1) * int(d) + 1 for n, d in zip(shape[2:], p["lhs_dilation"])]
  lows = [int(lo) for lo, _ in p["padding"]]
  highs = [int(hi) for _, hi in p["padding"]]
  x = _crop_and_pad(g, x, shape, [0, 0] + [min(lo, 0) for lo in lows], [0, 0] + [min(hi, 0) for hi in highs])
  y = g.node("Conv", [x, w], strides=[int(s) for s in p["window_strides"]],
             dilations=[int(d) for d in p["rhs_dilation"]], group=int(p["feature_group_count"]),
             pads=[max(lo, 0) for lo in lows] + [max(hi, 0) for hi in highs])
  back = [int(i) for i in np.argsort([int(d) for d in out_spec])]
  return g.node("Transpose", [y], perm=back) if back != sorted(back) else y


def _reduce_window_max(g, eqn, ins):
  p = eqn.params
  if any(d != 1 for d in tuple(p["base_dilation"]) + tuple(p["window_dilation"])):
    raise NotImplementedError("reduce_window_max with dilation")
  shape, window, strides = ins[0].shape, p["window_dimensions"], p["window_strides"]
  pooled = [i for i in range(len(shape)) if window[i] != 1 or strides[i] != 1 or any(p["padding"][i])]
  kept = [i for i in range(len(shape)) if i not in pooled]
  x = g.node("Transpose", [ins[0].tensor(g)], perm=kept + pooled)
  lead = int(np.prod([shape[i] for i in kept]))
  x = g.node("Reshape", [x, g.ints([1, lead] + [shape[i] for i in pooled])])
  y = g.node("MaxPool", [x], kernel_shape=[int(window[i]) for i in pooled],
             strides=[int(strides[i]) for i in pooled],
             pads=[int(p["padding"][i][0]) for i in pooled] + [int(p["padding"][i][1]) for i in pooled])
  out = _shape_out(eqn)
  y = g.node("Reshape", [y, g.ints([out[i] for i in kept] + [out[i] for i in pooled])])
  return g.node("Transpose", [y], perm=[int(i) for i in np.argsort(kept + pooled)])


def _gather(g, eqn, ins):
  """A gather at known indices: Gather along one axis where it is a `take`, else from the flattened operand."""
  operand, indices = ins
  if not indices.known:
    raise NotImplementedError("gather at indices that depend on the input")
  dn, sizes = eqn.params["dimension_numbers"], eqn.params["slice_sizes"]
  shape, idx = operand.shape, np.asarray(indices.const)
  if (len(dn.collapsed_slice_dims) == 1 and tuple(dn.start_index_map) == tuple(dn.collapsed_slice_dims)
      and not dn.operand_batching_dims and idx.shape[-1] == 1):
    axis = dn.collapsed_slice_dims[0]
    batch_pos = [i for i in range(len(_shape_out(eqn))) if i not in dn.offset_dims]
    full = all(sizes[i] == shape[i] for i in range(len(shape)) if i != axis)
    if full and batch_pos == list(range(axis, axis + idx.ndim - 1)) and np.all((idx >= 0) & (idx < shape[axis])):
      return g.node("Gather", [operand.tensor(g), g.const(idx[..., 0].astype(np.int64))], axis=axis)
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  flat = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape)
  params = dict(eqn.params, fill_value=-1)
  where = np.asarray(eqn.primitive.bind(jnp.asarray(flat), jnp.asarray(idx), **params))
  if np.any(where < 0):
    raise NotImplementedError("gather reading outside its operand")
  flat_x = g.node("Reshape", [operand.tensor(g), g.ints([-1])])
  return g.node("Gather", [flat_x, g.const(where.astype(np.int64))], axis=0)


def _squeeze(g, eqn, ins):
  return _reshape(g, eqn, ins)


RULES = {name: _binary(op) for name, op in _BINARY.items()}
RULES.update({name: _unary(op) for name, op in _UNARY.items()})
RULES.update({name: _reduce(op) for name, op in _REDUCE.items()})
RULES.update({
    "ne": _ne, "square": _square, "rsqrt": _rsqrt, "integer_pow": _integer_pow, "convert_element_type": _convert,
    "reshape": _reshape, "squeeze": _squeeze, "expand_dims": _reshape, "transpose": _transpose,
    "broadcast_in_dim": _broadcast_in_dim, "concatenate": _concatenate, "slice": _slice,
    "dynamic_slice": _dynamic_slice, "pad": _pad, "select_n": _select_n, "dot_general": _dot_general,
    "conv_general_dilated": _conv, "reduce_window_max": _reduce_window_max, "gather": _gather,
})
