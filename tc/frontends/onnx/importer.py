"""Loading an ONNX model, checking its ops, and the conversion state (``Converter``)."""
from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np

from ...compiler.graph import Graph, GraphBuilder, Value
from ...compiler.ops.registry import apply_reference
from ..registry import converter_decorator

#: Oldest default-domain opset read directly; older models are upgraded to UPGRADE_TO
#: with onnx's version converter first (legacy broadcast attributes and the like).
MIN_OPSET = 7
UPGRADE_TO = 13


class FrontendError(ValueError):
    """A model that a tc frontend cannot turn into a graph."""


class UnsupportedOpsError(FrontendError):
    """The model uses ops tc cannot lower; ``ops`` maps each op type to its node names."""

    def __init__(self, ops: dict[str, list[str]], opset: int):
        self.ops, self.opset = ops, opset
        lines = [f"  {op}: used by {len(names)} node(s): {', '.join(names[:5])}"
                 + (", ..." if len(names) > 5 else "") for op, names in sorted(ops.items())]
        super().__init__(
            f"the model (opset {opset}) uses {len(ops)} op type(s) tc does not support:\n"
            + "\n".join(lines)
            + "\nReplace them in the exporter, or rewrite the model (e.g. onnx-simplifier).")


class NotConstantError(FrontendError):
    """A value that must be known at compile time (a shape, axes, pads) depends on a graph
    input; ``name`` is the ONNX name of that value, ``inputs`` the graph inputs it is
    computed from (binding their values makes it a constant)."""

    def __init__(self, name: str, message: str, inputs: tuple[str, ...] = ()):
        super().__init__(message)
        self.name = name
        self.inputs = tuple(inputs)


class ModelLoadError(FrontendError):
    """The model file is missing, truncated or not ONNX."""


def from_onnx(model, input_shapes: Mapping[str, tuple] | None = None) -> Graph:
    """Convert an ONNX model (a ``ModelProto`` or a path to a .onnx file) to a ``Graph``.

    ``input_shapes`` overrides the shapes of graph inputs by name: required for any
    input whose shape has symbolic or unknown dims, since tc compiles static shapes.
    Raises ``ModelLoadError`` for an unreadable file, ``UnsupportedOpsError`` listing
    every unsupported op, and ``FrontendError`` for anything else it cannot convert.
    """
    proto = _load(model)
    opset = _default_opset(proto)
    if opset < MIN_OPSET:
        proto, opset = _upgrade(proto, opset), UPGRADE_TO
    _check_supported(proto, opset)
    return Converter(proto, opset, dict(input_shapes or {})).run()


# --- loading and up-front checks -------------------------------------------------------

def _load(model):
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"from_onnx takes an onnx.ModelProto or a path, got {type(model).__name__}")
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise ModelLoadError(f"ONNX model file {path!r} does not exist; check the path")
    try:
        proto = onnx.load(path)
    except Exception as e:  # protobuf raises several types for damaged files
        raise ModelLoadError(
            f"cannot read ONNX model {path!r} ({type(e).__name__}: {e}); the file is truncated "
            "or not an ONNX model: re-export or re-download it") from None
    if not proto.graph.node and not proto.graph.output:
        raise ModelLoadError(f"ONNX model {path!r} has an empty graph; the file is probably "
                             "truncated: re-export or re-download it")
    return proto


def _default_opset(proto) -> int:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return imp.version
    raise FrontendError("the model imports no default-domain ONNX opset")


def _upgrade(proto, opset: int):
    """The model converted to opset ``UPGRADE_TO`` by onnx's version converter."""
    from onnx import version_converter

    try:
        return version_converter.convert_version(proto, UPGRADE_TO)
    except Exception as e:
        raise FrontendError(
            f"the model uses ONNX opset {opset}; tc reads opset {MIN_OPSET} and later, and "
            f"onnx's version converter could not upgrade it ({type(e).__name__}: {e}); "
            "re-export the model with a newer opset") from None


def _check_supported(proto, opset: int) -> None:
    """Raise one error listing every op tc cannot convert, subgraphs (If/Loop/Scan bodies)
    included."""
    bad: dict[str, list[str]] = {}

    def visit(graph, where: str) -> None:
        for i, node in enumerate(graph.node):
            domain = node.domain if node.domain not in ("", "ai.onnx") else ""
            if domain or node.op_type not in CONVERTERS:
                key = f"{domain}::{node.op_type}" if domain else node.op_type
                bad.setdefault(key, []).append(where + (node.name or f"#{i} ({node.op_type})"))
            for attr in node.attribute:
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    visit(sub, f"{where}{node.name or node.op_type}/{attr.name}/")

    visit(proto.graph, "")
    if bad:
        raise UnsupportedOpsError(bad, opset)


# --- conversion ------------------------------------------------------------------------

def np_dtype(elem_type: int) -> str:
    """The numpy dtype name of an ONNX TensorProto element type."""
    from onnx import helper

    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)))
    except Exception:
        raise FrontendError(f"ONNX element type {elem_type} is not supported by tc") from None


def attribute_values(node) -> dict:
    """A node's attributes as Python values (strings decoded)."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, list):
            v = [x.decode() if isinstance(x, bytes) else x for x in v]
        out[a.name] = v
    return out


class Converter:
    """State of one conversion: ONNX names to values, and constant values known so far."""

    def __init__(self, proto, opset: int, input_shapes: dict):
        from onnx import numpy_helper

        self.proto, self.opset = proto, opset
        self.b = GraphBuilder(proto.graph.name or "model")
        self.values: dict[str, Value] = {}
        self.arrays: dict[str, np.ndarray] = {}   # Value name -> known constant array
        self.producer: dict[str, tuple] = {}      # Value name -> (op, inputs, attrs, index)
        self.initializers = {t.name: t for t in proto.graph.initializer}
        self._to_array = numpy_helper.to_array
        self.input_shapes = input_shapes
        self.input_names: list[str] = []          # graph inputs (not initializers), in order
        self.used = {n for node in proto.graph.node for n in node.input if n}
        self.used |= {o.name for o in proto.graph.output}

    def run(self) -> Graph:
        self._inputs()
        for i, node in enumerate(self.proto.graph.node):
            for name in node.input:
                if name and name not in self.values and name not in self.initializers:
                    raise FrontendError(f"node {node.name or i} ({node.op_type}) reads {name!r}, "
                                        "which no earlier node, input or initializer defines")
            try:
                CONVERTERS[node.op_type](self, node, attribute_values(node))
            except FrontendError:
                raise
            except ValueError as e:
                raise FrontendError(f"node {node.name or i} ({node.op_type}, opset "
                                    f"{self.opset}): {e}") from None
        outputs = []
        for o in self.proto.graph.output:
            if o.name not in self.values and o.name not in self.initializers:
                raise FrontendError(f"graph output {o.name!r} is never computed")
            outputs.append(self.value(o.name))
        return self.b.build(outputs)

    def _inputs(self) -> None:
        names = {i.name for i in self.proto.graph.input}
        unknown = set(self.input_shapes) - names
        if unknown:
            raise FrontendError(f"input_shapes names {sorted(unknown)}, which are not graph "
                                f"inputs; the inputs are {sorted(names - set(self.initializers))}")
        for inp in self.proto.graph.input:
            if inp.name in self.initializers:
                continue  # a weight listed as an input: a constant
            tt = inp.type.tensor_type
            if not inp.type.HasField("tensor_type"):
                raise FrontendError(f"graph input {inp.name!r} is not a tensor")
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                    for d in tt.shape.dim]
            if inp.name in self.input_shapes:
                shape = tuple(int(d) for d in self.input_shapes[inp.name])
                if len(shape) != len(dims) or any(isinstance(d, int) and d != s
                                                  for d, s in zip(dims, shape)):
                    raise FrontendError(f"input_shapes gives {inp.name!r} shape {shape}, which "
                                        f"does not match the model's {tuple(dims)}")
            else:
                for pos, d in enumerate(dims):
                    if not isinstance(d, int):
                        raise FrontendError(
                            f"graph input {inp.name!r} has a dynamic dim {d!r} at position "
                            f"{pos} (shape {tuple(dims)}); tc compiles static shapes: pass "
                            f"input_shapes={{{inp.name!r}: (...)}} to from_onnx")
                shape = tuple(dims)
            self.values[inp.name] = self.b.input(inp.name, shape, np_dtype(tt.elem_type))
            self.input_names.append(inp.name)

    # values -----------------------------------------------------------------------------

    def value(self, name: str) -> Value:
        """The Value of ONNX name ``name``, making initializers constants on first use."""
        if name not in self.values:
            self.constant(self._to_array(self.initializers[name]), name)
        return self.values[name]

    def constant(self, array: np.ndarray, name: str) -> Value:
        v = self.b.constant(np.asarray(array, order="C"), name)
        self.values[name] = v
        self.arrays[v.name] = array
        return v

    def const_array(self, name: str, what: str) -> np.ndarray:
        """The value of ONNX name ``name``, which must be known at compile time."""
        v = self.value(name)
        array = self._evaluate(v)
        if array is None:
            inputs = self._graph_inputs_of(v)
            raise NotConstantError(name, f"{what} ({name!r}) must be known at compile time, but it "
                                   f"depends on graph input(s) {', '.join(map(repr, inputs))}; "
                                   "tc compiles static shapes", inputs)
        return array

    def _graph_inputs_of(self, v: Value) -> list[str]:
        """The graph inputs ``v`` is computed from, in graph input order."""
        seen, stack = set(), [v]
        while stack:
            x = stack.pop()
            if x.name not in seen:
                seen.add(x.name)
                stack.extend(self.producer[x.name][1] if x.name in self.producer else ())
        return [name for name in self.input_names if name in seen]

    def _evaluate(self, v: Value):
        if v.name in self.arrays:
            return self.arrays[v.name]
        if v.name not in self.producer:
            return None  # a graph input
        op, inputs, attrs, index = self.producer[v.name]
        args = [self._evaluate(i) for i in inputs]
        if any(a is None for a in args):
            return None
        self.arrays[v.name] = apply_reference(op, args, attrs)[index]
        return self.arrays[v.name]

    def emit(self, op: str, inputs: list[Value], attrs: dict, node, outputs=None) -> list[Value]:
        """Append a canonical node; ``outputs`` names its results (default: ``node``'s)."""
        names = list(outputs if outputs is not None else node.output)
        outs = self.b.op(op, inputs, attrs, name=node.name, output_names=names)
        for i, (onnx_name, v) in enumerate(zip(names, outs)):
            self.values[onnx_name] = v
            self.producer[v.name] = (op, list(inputs), dict(attrs), i)
        return outs

    def inputs(self, node) -> list[Value | None]:
        return [self.value(n) if n else None for n in node.input]

    def optional_const(self, node, index: int, what: str):
        """The constant at input ``index``, or None when absent."""
        if len(node.input) > index and node.input[index]:
            return self.const_array(node.input[index], what)
        return None

    def check_unused_outputs(self, node, first_unused: int, why: str) -> None:
        for name in node.output[first_unused:]:
            if name and name in self.used:
                raise FrontendError(f"node {node.name or node.op_type}: output {name!r} is "
                                    f"used, but {why}")


# --- op converters ---------------------------------------------------------------------

CONVERTERS: dict[str, Callable] = {}
#: ``@converter("Op", ...)`` registers ``fn(cv: Converter, node, attrs)`` for ONNX ops
converter = converter_decorator(CONVERTERS)


