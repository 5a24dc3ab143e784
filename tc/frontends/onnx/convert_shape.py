"""ONNX converters for shape ops and constants: data-dependent inputs become attributes."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from .importer import FrontendError, converter


@converter("Reshape")
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


@converter("Flatten")
def _flatten(cv, node, attrs):
    (x,) = cv.inputs(node)
    rank = len(x.type.shape)
    axis = int(attrs.get("axis", 1))
    cv.emit("Flatten", [x], {"axis": axis + rank if axis < 0 else axis}, node)


@converter("Transpose")
def _transpose(cv, node, attrs):
    (x,) = cv.inputs(node)
    rank = len(x.type.shape)
    cv.emit("Transpose", [x], {"perm": tuple(attrs.get("perm", range(rank - 1, -1, -1)))}, node)


@converter("Concat")
def _concat(cv, node, attrs):
    ins = cv.inputs(node)
    cv.emit("Concat", ins, {"axis": normalize_axis(attrs["axis"], len(ins[0].type.shape))}, node)


def _axes(cv, node, attrs, what) -> list[int] | None:
    if cv.opset >= 13:
        axes = cv.optional_const(node, 1, f"{node.op_type}'s axes input")
        return None if axes is None else [int(a) for a in axes]
    return None if "axes" not in attrs else [int(a) for a in attrs["axes"]]


@converter("Unsqueeze")
def _unsqueeze(cv, node, attrs):
    x = cv.value(node.input[0])
    axes = _axes(cv, node, attrs, "Unsqueeze")
    rank = len(x.type.shape) + len(axes)
    cv.emit("Unsqueeze", [x], {"axes": tuple(sorted(normalize_axis(a, rank) for a in axes))}, node)


@converter("Squeeze")
def _squeeze(cv, node, attrs):
    x = cv.value(node.input[0])
    shape = x.type.shape
    axes = _axes(cv, node, attrs, "Squeeze")
    if axes is None:
        axes = [d for d, s in enumerate(shape) if s == 1]
    cv.emit("Squeeze", [x], {"axes": tuple(sorted(normalize_axis(a, len(shape))
                                                   for a in axes))}, node)


@converter("Dropout")
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


@converter("ConstantOfShape")
def _constant_of_shape(cv, node, attrs):
    shape = tuple(int(d) for d in cv.const_array(node.input[0], "ConstantOfShape's shape"))
    value, dtype = (0.0, "float32")
    if "value" in attrs:
        value, dtype = _scalar_of(attrs["value"], cv._to_array)
    cv.emit("ConstantOfShape", [], {"shape": shape, "value": value, "dtype": dtype}, node)


@converter("Constant")
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


@converter("Shape")
def _shape(cv, node, attrs):
    shape = cv.value(node.input[0]).type.shape
    dims = np.array(shape[slice(attrs.get("start", 0), attrs.get("end"))], dtype=np.int64)
    cv.constant(dims, node.output[0])  # static shapes: a Shape is a constant


@converter("Pad")
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
