"""ONNX -> tc graph IR.

``from_onnx`` normalizes opsets 9 to 21 (and later, with the latest semantics) into the
canonical op set documented in ``tc.compiler.ops``: attribute defaults filled, auto_pad
resolved into pads, inputs that became data-dependent across opsets (Reshape's shape,
Unsqueeze/Squeeze axes, Clip bounds, Pad pads, ConstantOfShape's shape) turned back into
attributes, and pre-13 Softmax semantics rewritten. Graph inputs that have an initializer
are constants. Every unsupported op is reported at once, before conversion starts.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping

import numpy as np

from ..compiler.graph import Graph, GraphBuilder, TensorType, Value
from ..compiler.ops.common import normalize_axis
from ..compiler.ops.registry import apply_reference
from ..compiler.ops.window import resolve_auto_pad

#: Oldest default-domain opset accepted (older models: use onnx.version_converter).
MIN_OPSET = 7


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
    _check_supported(proto, opset)
    return _Converter(proto, opset, dict(input_shapes or {})).run()


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
            if imp.version < MIN_OPSET:
                raise FrontendError(
                    f"the model uses ONNX opset {imp.version}; tc reads opset {MIN_OPSET} and "
                    "later: upgrade it with onnx.version_converter.convert_version(model, 13)")
            return imp.version
    raise FrontendError("the model imports no default-domain ONNX opset")


def _check_supported(proto, opset: int) -> None:
    bad: dict[str, list[str]] = {}
    for i, node in enumerate(proto.graph.node):
        domain = node.domain if node.domain not in ("", "ai.onnx") else ""
        if domain or node.op_type not in _CONVERTERS:
            key = f"{domain}::{node.op_type}" if domain else node.op_type
            bad.setdefault(key, []).append(node.name or f"#{i} ({node.op_type})")
    if bad:
        raise UnsupportedOpsError(bad, opset)


# --- conversion ------------------------------------------------------------------------

def _np_dtype(elem_type: int) -> str:
    from onnx import helper

    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)))
    except Exception:
        raise FrontendError(f"ONNX element type {elem_type} is not supported by tc") from None


def _attrs(node) -> dict:
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


class _Converter:
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
                _CONVERTERS[node.op_type](self, node, _attrs(node))
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
            self.values[inp.name] = self.b.input(inp.name, shape, _np_dtype(tt.elem_type))

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
            raise FrontendError(f"{what} ({name!r}) must be known at compile time, but it "
                                "depends on a graph input; tc compiles static shapes")
        return array

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

_CONVERTERS: dict[str, Callable] = {}


def _converter(*ops: str):
    def register(fn):
        for op in ops:
            _CONVERTERS[op] = fn
        return fn
    return register


@_converter("Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Floor", "Ceil",
            "Erf", "Reciprocal", "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean",
            "MatMul", "Identity", "GlobalAveragePool", "GlobalMaxPool")
def _plain(cv: _Converter, node, attrs):
    cv.emit(node.op_type, cv.inputs(node), {}, node)


@_converter("Pow")
def _pow(cv, node, attrs):
    base, exponent = cv.inputs(node)
    if exponent.type.dtype != base.type.dtype:
        exponent, = cv.emit("Cast", [exponent], {"to": base.type.dtype}, node,
                            [node.output[0] + "_exponent"])
    cv.emit("Pow", [base, exponent], {}, node)


def _window_common(x: Value, kernel, attrs) -> dict:
    n = len(x.type.shape) - 2
    strides = tuple(attrs.get("strides", (1,) * n))
    dilations = tuple(attrs.get("dilations", (1,) * n))
    auto_pad = attrs.get("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = tuple(attrs.get("pads", (0,) * 2 * n))
    else:
        pads = resolve_auto_pad(auto_pad, x.type.shape[2:], kernel, strides, dilations)
    return {"strides": strides, "pads": pads, "dilations": dilations}


@_converter("Conv")
def _conv(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    kernel = tuple(attrs.get("kernel_shape", ins[1].type.shape[2:]))
    canon = _window_common(ins[0], kernel, attrs)
    canon["group"] = int(attrs.get("group", 1))
    cv.emit("Conv", ins, canon, node)


@_converter("MaxPool", "AveragePool")
def _pool(cv, node, attrs):
    (x,) = cv.inputs(node)[:1]
    cv.check_unused_outputs(node, 1, "tc's MaxPool does not compute Indices")
    kernel = tuple(attrs["kernel_shape"])
    canon = _window_common(x, kernel, attrs)
    canon.update(kernel_shape=kernel, ceil_mode=int(attrs.get("ceil_mode", 0)))
    if node.op_type == "AveragePool":
        canon["count_include_pad"] = int(attrs.get("count_include_pad", 0))
    cv.emit(node.op_type, [x], canon, node, node.output[:1])


@_converter("BatchNormalization")
def _batchnorm(cv, node, attrs):
    if attrs.get("training_mode", 0):
        raise FrontendError(f"BatchNormalization {node.name!r} is in training mode; tc compiles "
                            "inference models: export the model in eval mode")
    if not attrs.get("spatial", 1):
        raise FrontendError(f"BatchNormalization {node.name!r} has spatial=0, which tc does "
                            "not support")
    cv.check_unused_outputs(node, 1, "tc's BatchNormalization is the inference form")
    cv.emit("BatchNormalization", cv.inputs(node)[:5],
            {"epsilon": float(attrs.get("epsilon", 1e-5))}, node, node.output[:1])


@_converter("Softmax", "LogSoftmax")
def _softmax(cv, node, attrs):
    (x,) = cv.inputs(node)
    shape = x.type.shape
    rank = len(shape)
    if cv.opset >= 13:
        cv.emit(node.op_type, [x], {"axis": normalize_axis(attrs.get("axis", -1), rank)}, node)
        return
    axis = normalize_axis(attrs.get("axis", 1), rank)
    if axis == rank - 1:  # the old coerce-to-2-D semantics agree with the new ones here
        cv.emit(node.op_type, [x], {"axis": axis}, node)
        return
    flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    out = node.output[0]
    x2, = cv.emit("Reshape", [x], {"shape": flat}, node, [out + "_2d"])
    y2, = cv.emit(node.op_type, [x2], {"axis": 1}, node, [out + "_2d_out"])
    cv.emit("Reshape", [y2], {"shape": shape}, node)


@_converter("LRN")
def _lrn(cv, node, attrs):
    cv.emit("LRN", cv.inputs(node), {"size": int(attrs["size"]),
                                     "alpha": float(attrs.get("alpha", 1e-4)),
                                     "beta": float(attrs.get("beta", 0.75)),
                                     "bias": float(attrs.get("bias", 1.0))}, node)


@_converter("Gemm")
def _gemm(cv, node, attrs):
    ins = [v for v in cv.inputs(node) if v is not None]
    cv.emit("Gemm", ins, {"alpha": float(attrs.get("alpha", 1.0)),
                          "beta": float(attrs.get("beta", 1.0)),
                          "transA": int(attrs.get("transA", 0)),
                          "transB": int(attrs.get("transB", 0))}, node)


@_converter("Reshape")
def _reshape(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 5:
        target = list(attrs["shape"])
    else:
        target = [int(d) for d in cv.const_array(node.input[1], "Reshape's shape input")]
    shape = list(x.type.shape)
    if not attrs.get("allowzero", 0):
        target = [shape[i] if d == 0 else d for i, d in enumerate(target)]
    if target.count(-1) > 1:
        raise FrontendError(f"Reshape {node.name!r}: target {target} has more than one -1")
    if -1 in target:
        known = int(np.prod([d for d in target if d != -1]))
        if known == 0 or x.type.size % known:
            raise FrontendError(f"Reshape {node.name!r}: cannot reshape {tuple(shape)} "
                                f"to {target}")
        target[target.index(-1)] = x.type.size // known
    cv.emit("Reshape", [x], {"shape": tuple(target)}, node)


@_converter("Flatten")
def _flatten(cv, node, attrs):
    (x,) = cv.inputs(node)
    rank = len(x.type.shape)
    axis = int(attrs.get("axis", 1))
    cv.emit("Flatten", [x], {"axis": axis + rank if axis < 0 else axis}, node)


@_converter("Transpose")
def _transpose(cv, node, attrs):
    (x,) = cv.inputs(node)
    rank = len(x.type.shape)
    cv.emit("Transpose", [x], {"perm": tuple(attrs.get("perm", range(rank - 1, -1, -1)))}, node)


@_converter("Concat")
def _concat(cv, node, attrs):
    ins = cv.inputs(node)
    cv.emit("Concat", ins, {"axis": normalize_axis(attrs["axis"], len(ins[0].type.shape))}, node)


def _axes(cv, node, attrs, what) -> list[int] | None:
    if cv.opset >= 13:
        axes = cv.optional_const(node, 1, f"{node.op_type}'s axes input")
        return None if axes is None else [int(a) for a in axes]
    return None if "axes" not in attrs else [int(a) for a in attrs["axes"]]


@_converter("Unsqueeze")
def _unsqueeze(cv, node, attrs):
    x = cv.value(node.input[0])
    axes = _axes(cv, node, attrs, "Unsqueeze")
    rank = len(x.type.shape) + len(axes)
    cv.emit("Unsqueeze", [x], {"axes": tuple(sorted(normalize_axis(a, rank) for a in axes))}, node)


@_converter("Squeeze")
def _squeeze(cv, node, attrs):
    x = cv.value(node.input[0])
    shape = x.type.shape
    axes = _axes(cv, node, attrs, "Squeeze")
    if axes is None:
        axes = [d for d, s in enumerate(shape) if s == 1]
    cv.emit("Squeeze", [x], {"axes": tuple(sorted(normalize_axis(a, len(shape))
                                                   for a in axes))}, node)


@_converter("Dropout")
def _dropout(cv, node, attrs):
    x = cv.value(node.input[0])
    cv.emit("Identity", [x], {}, node, node.output[:1])
    if len(node.output) > 1 and node.output[1] and node.output[1] in cv.used:
        # inference: nothing is dropped, the mask is all true
        cv.emit("ConstantOfShape", [], {"shape": x.type.shape, "value": True, "dtype": "bool"},
                node, node.output[1:2])


def _scalar_of(tensor_proto, to_array) -> tuple[object, str]:
    array = to_array(tensor_proto)
    return array.reshape(-1)[0].item(), str(array.dtype)


@_converter("ConstantOfShape")
def _constant_of_shape(cv, node, attrs):
    shape = tuple(int(d) for d in cv.const_array(node.input[0], "ConstantOfShape's shape"))
    value, dtype = (0.0, "float32")
    if "value" in attrs:
        value, dtype = _scalar_of(attrs["value"], cv._to_array)
    cv.emit("ConstantOfShape", [], {"shape": shape, "value": value, "dtype": dtype}, node)


@_converter("Constant")
def _constant(cv, node, attrs):
    if "value" in attrs:
        array = cv._to_array(attrs["value"])
    elif "value_float" in attrs or "value_int" in attrs:
        array = np.array(attrs.get("value_float", attrs.get("value_int")),
                         "float32" if "value_float" in attrs else "int64")
    elif "value_floats" in attrs or "value_ints" in attrs:
        array = np.array(attrs.get("value_floats", attrs.get("value_ints")),
                         "float32" if "value_floats" in attrs else "int64")
    else:
        raise FrontendError(f"Constant {node.name!r} holds {sorted(attrs)}; tc supports "
                            "dense numeric constants only")
    cv.constant(array, node.output[0])


@_converter("Shape")
def _shape(cv, node, attrs):
    shape = cv.value(node.input[0]).type.shape
    dims = np.array(shape[slice(attrs.get("start", 0), attrs.get("end"))], dtype=np.int64)
    cv.constant(dims, node.output[0])  # static shapes: a Shape is a constant


@_converter("Cast")
def _cast(cv, node, attrs):
    cv.emit("Cast", cv.inputs(node), {"to": _np_dtype(int(attrs["to"]))}, node)


@_converter("Clip")
def _clip(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 11:
        lo, hi = attrs.get("min"), attrs.get("max")
    else:
        lo = cv.optional_const(node, 1, "Clip's min input")
        hi = cv.optional_const(node, 2, "Clip's max input")
        lo = None if lo is None else lo.item()
        hi = None if hi is None else hi.item()
    bounds = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
    cv.emit("Clip", [x], bounds, node)


@_converter("Pad")
def _pad(cv, node, attrs):
    x = cv.value(node.input[0])
    rank = len(x.type.shape)
    mode = attrs.get("mode", "constant")
    if cv.opset < 11:
        pads, value = list(attrs.get("pads", attrs.get("paddings"))), attrs.get("value", 0.0)
    else:
        pads = [int(p) for p in cv.const_array(node.input[1], "Pad's pads input")]
        cval = cv.optional_const(node, 2, "Pad's constant_value input")
        value = 0 if cval is None else cval.item()
        axes = cv.optional_const(node, 3, "Pad's axes input")
        if axes is not None:  # opset 18: pads for the listed axes only
            full = [0] * (2 * rank)
            k = len(axes)
            for j, a in enumerate(axes):
                a = normalize_axis(int(a), rank)
                full[a], full[rank + a] = pads[j], pads[k + j]
            pads = full
    cv.emit("Pad", [x], {"pads": tuple(pads), "mode": mode, "value": value}, node)
