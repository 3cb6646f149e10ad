"""A JAX function of one fixed-shape float32 array -> an ONNX model, by walking its jaxpr.

    model = to_onnx(lambda x: unet.apply(params, x), (1, 1, 96, 96))    # an onnx.ModelProto, opset OPSET
    onnx.save(model, "weights.onnx")

Why not `jax2onnx` (PyPI): version 0.17 pins orbax-checkpoint < 0.11.37, older than the one jax_iso runs on, pulls
in equinox, dm-pix, huggingface-hub and netron, and its patched `flax.linen.max_pool` rejects our U-Net's call.
Our models need few primitives, so the conversion is written here on the `onnx` package alone:

- the function is traced once (`jax.make_jaxpr`) at the fixed input shape; calls (`jit`, `custom_jvp_call`,
  `custom_vjp_call`) are inlined;
- every equation whose inputs are all known (the parameters, iotas, masks, bias-table gathers) is evaluated by JAX
  at conversion time, so the graph holds only the work that depends on the input, plus the folded constants as
  initializers (uniform ones as `ConstantOfShape`);
- each remaining primitive becomes ONNX nodes (`onnx_ops.RULES`); one this module does not know is a
  NotImplementedError naming it.
Shapes are static (batch included): the ONNX model takes exactly the traced shape.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from onnx import helper, numpy_helper

from jax_iso.zoo import onnx_ops

OPSET = 18            # ReduceMax/ReduceMin take their axes as an input from opset 18
IR_VERSION = 8        # the IR of opset 18: runtimes older than the `onnx` package still read it
_INLINE = ("jaxpr", "call_jaxpr")    # the params naming the body of a call primitive


class Graph:
  """The ONNX graph under construction: nodes, initializers, fresh names."""

  def __init__(self):
    self.nodes: list[onnx.NodeProto] = []
    self.initializers: list[onnx.TensorProto] = []
    self._count = 0
    self._scalars: dict[tuple, str] = {}

  def name(self, hint: str = "t") -> str:
    self._count += 1
    return f"{hint}_{self._count}"

  def node(self, op: str, inputs: Sequence[str], n_out: int = 1, **attrs) -> str | list[str]:
    """Adds `op(inputs)` and returns its output name (a list when `n_out` > 1)."""
    outs = [self.name(op.lower()) for _ in range(n_out)]
    self.nodes.append(helper.make_node(op, list(inputs), outs, name=self.name("n"), **attrs))
    return outs[0] if n_out == 1 else outs

  def const(self, value, dtype=None) -> str:
    """An initializer holding `value`; uniform arrays of more than 16 elements become `ConstantOfShape`."""
    arr = np.asarray(value, dtype=dtype)
    if arr.dtype == np.float64:
      arr = arr.astype(np.float32)
    if arr.size > 16 and np.all(arr == arr.flat[0]):
      fill = numpy_helper.from_array(arr.flat[:1].copy().reshape(1))
      return self.node("ConstantOfShape", [self.const(np.asarray(arr.shape, np.int64))], value=fill)
    key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 16 else None
    if key is not None and key in self._scalars:
      return self._scalars[key]
    name = self.name("c")
    self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
    if key is not None:
      self._scalars[key] = name
    return name

  def ints(self, values: Sequence[int]) -> str:
    return self.const(np.asarray(values, np.int64))


class Value:
  """A jaxpr variable's value during the walk: a known array (`const`) or an ONNX tensor name (`name`)."""
  __slots__ = ("const", "name", "aval")

  def __init__(self, aval, const=None, name: str | None = None):
    self.aval, self.const, self.name = aval, const, name

  @property
  def known(self) -> bool:
    return self.name is None

  @property
  def shape(self) -> tuple[int, ...]:
    return tuple(self.aval.shape)

  def tensor(self, graph: Graph) -> str:
    """The ONNX name of the value (an initializer for a known one)."""
    if self.name is None:
      self.name = graph.const(np.asarray(self.const))
    return self.name


def _read(env: dict, var) -> Value:
  if hasattr(var, "val"):                                    # a Literal
    return Value(var.aval, const=np.asarray(var.val, dtype=var.aval.dtype))
  return env[var]


def _walk(graph: Graph, jaxpr, consts: Sequence, args: Sequence[Value]) -> list[Value]:
  env = {}
  for var, c in zip(jaxpr.constvars, consts):
    env[var] = Value(var.aval, const=np.asarray(c))
  for var, a in zip(jaxpr.invars, args):
    env[var] = a
  for eqn in jaxpr.eqns:
    ins = [_read(env, v) for v in eqn.invars]
    body = next((eqn.params[k] for k in _INLINE if k in eqn.params), None)
    if body is not None:
      inner = body.jaxpr if hasattr(body, "jaxpr") else body
      outs = _walk(graph, inner, getattr(body, "consts", ()), ins)
    elif all(v.known for v in ins):
      result = eqn.primitive.bind(*(jnp.asarray(v.const) for v in ins), **eqn.params)
      result = result if eqn.primitive.multiple_results else [result]
      outs = [Value(o.aval, const=np.asarray(r)) for o, r in zip(eqn.outvars, result)]
    else:
      rule = onnx_ops.RULES.get(eqn.primitive.name)
      if rule is None:
        raise NotImplementedError(f"no ONNX conversion for the JAX primitive {eqn.primitive.name!r}")
      names = rule(graph, eqn, ins)
      names = names if isinstance(names, list) else [names]
      outs = [Value(o.aval, name=n) for o, n in zip(eqn.outvars, names)]
    for var, out in zip(eqn.outvars, outs):
      env[var] = out
  return [_read(env, v) for v in jaxpr.outvars]


def to_onnx(fn: Callable[[jax.Array], jax.Array], shape: Sequence[int], *, input_name: str = "input0",
            output_name: str = "output0", graph_name: str = "jax_iso", doc: str = "") -> onnx.ModelProto:
  """`fn` (float32 array of `shape` -> one float32 array) as a checked ONNX model of opset OPSET."""
  closed = jax.make_jaxpr(fn)(jax.ShapeDtypeStruct(tuple(shape), jnp.float32))
  graph = Graph()
  (x_var,) = closed.jaxpr.invars
  (out,) = _walk(graph, closed.jaxpr, closed.consts, [Value(x_var.aval, name=input_name)])
  graph.nodes.append(helper.make_node("Identity", [out.tensor(graph)], [output_name], name=graph.name("n")))
  out_aval = closed.jaxpr.outvars[0].aval
  g = helper.make_graph(
      graph.nodes, graph_name,
      [helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, list(shape))],
      [helper.make_tensor_value_info(output_name, helper.np_dtype_to_tensor_dtype(np.dtype(out_aval.dtype)),
                                     list(out_aval.shape))],
      graph.initializers)
  model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="jax_iso",
                            doc_string=doc)
  model.ir_version = IR_VERSION
  onnx.checker.check_model(model, full_check=True)
  return model
