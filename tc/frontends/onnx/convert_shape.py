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
        return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
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
    if min(pads) < 0:  # negative pads crop: a Slice first, then the non-negative rest
        shape = x.type.shape
        starts = [max(-p, 0) for p in pads[:rank]]
        ends = [n - max(-p, 0) for n, p in zip(shape, pads[rank:])]
        x, = cv.emit("Slice", [x], slice_attrs(shape, starts, ends), node,
                     [node.output[0] + "_crop"])
        pads = [max(p, 0) for p in pads]
    cv.emit("Pad", [x], {"pads": tuple(pads), "mode": mode, "value": value}, node)


# --- Expand / Slice / Split / Tile / DepthToSpace / SpaceToDepth / Trilu -----------------

@converter("Expand")
def _expand(cv, node, attrs):
    from ...compiler.ops.common import broadcast_shapes
    x = cv.value(node.input[0])
    shape = [int(d) for d in cv.const_array(node.input[1], "Expand's shape input")]
    cv.emit("Expand", [x], {"shape": broadcast_shapes(x.type.shape, shape)}, node)


def slice_attrs(shape, starts, ends, axes=None, steps=None) -> dict:
    """Canonical Slice attributes from ONNX's starts/ends/axes/steps (clamped as ONNX does)."""
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else [normalize_axis(a, rank) for a in axes]
    steps = [1] * len(starts) if steps is None else list(steps)
    out_starts, out_steps, sizes = [0] * rank, [1] * rank, list(shape)
    for a, s, e, st in zip(axes, starts, ends, steps):
        n, s, e, st = shape[a], int(s), int(e), int(st)
        if st == 0:
            raise FrontendError("Slice step 0 is invalid")
        s, e = (s + n if s < 0 else s), (e + n if e < 0 else e)
        if st > 0:
            s, e = min(max(s, 0), n), min(max(e, 0), n)
        else:
            s, e = min(max(s, 0), n - 1), min(max(e, -1), n - 1)
        size = max(0, -((e - s) // -st) if st > 0 else -((s - e) // st))
        out_starts[a], out_steps[a], sizes[a] = (s if size else 0), st, size
    return {"starts": tuple(out_starts), "steps": tuple(out_steps), "sizes": tuple(sizes)}


@converter("Slice")
def _slice(cv, node, attrs):
    x = cv.value(node.input[0])
    if cv.opset < 10:
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        starts = cv.const_array(node.input[1], "Slice's starts input")
        ends = cv.const_array(node.input[2], "Slice's ends input")
        axes = cv.optional_const(node, 3, "Slice's axes input")
        steps = cv.optional_const(node, 4, "Slice's steps input")
        axes = None if axes is None else [int(a) for a in axes]
    cv.emit("Slice", [x], slice_attrs(x.type.shape, starts, ends, axes, steps), node)


@converter("Split")
def _split(cv, node, attrs):
    x = cv.value(node.input[0])
    shape = x.type.shape
    axis = normalize_axis(attrs.get("axis", 0), len(shape))
    n_out = len(node.output)
    split = attrs.get("split") if cv.opset < 13 else cv.optional_const(node, 1, "Split's split input")
    if split is not None:
        split = [int(s) for s in split]
    elif "num_outputs" in attrs:
        chunk = -(-shape[axis] // int(attrs["num_outputs"]))
        split = [min(chunk, shape[axis] - chunk * k) for k in range(int(attrs["num_outputs"]))]
    else:
        if shape[axis] % n_out:
            raise FrontendError(f"Split {node.name!r}: dim {shape[axis]} does not divide into "
                                f"{n_out} outputs")
        split = [shape[axis] // n_out] * n_out
    if sum(split) != shape[axis] or len(split) != n_out:
        raise FrontendError(f"Split {node.name!r}: sizes {split} do not cover dim "
                            f"{shape[axis]} with {n_out} outputs")
    start = 0
    for size, out in zip(split, node.output):
        sl = slice_attrs(shape, [start], [start + size], [axis])
        if out:
            cv.emit("Slice", [x], sl, node, [out])
        start += size


@converter("Tile")
def _tile(cv, node, attrs):
    x = cv.value(node.input[0])
    repeats = [int(r) for r in cv.const_array(node.input[1], "Tile's repeats input")]
    cv.emit("Tile", [x], {"repeats": tuple(repeats)}, node)


@converter("DepthToSpace")
def _depth_to_space(cv, node, attrs):
    cv.emit("DepthToSpace", cv.inputs(node)[:1],
            {"blocksize": int(attrs["blocksize"]), "mode": attrs.get("mode", "DCR")}, node)


@converter("SpaceToDepth")
def _space_to_depth(cv, node, attrs):
    cv.emit("SpaceToDepth", cv.inputs(node)[:1],
            {"blocksize": int(attrs["blocksize"]), "mode": attrs.get("mode", "DCR")}, node)


@converter("Trilu")
def _trilu(cv, node, attrs):
    x = cv.value(node.input[0])
    k = cv.optional_const(node, 1, "Trilu's k input")
    cv.emit("Trilu", [x], {"upper": int(attrs.get("upper", 1)),
                           "k": 0 if k is None else int(np.asarray(k).reshape(-1)[0])}, node)


# --- ops whose value is known at compile time: Size, Range, EyeLike, NonZero -------------

@converter("Size")
def _size(cv, node, attrs):
    cv.constant(np.array(cv.value(node.input[0]).type.size, np.int64), node.output[0])


@converter("Range")
def _range(cv, node, attrs):
    start, limit, delta = (cv.const_array(n, f"Range's {w} input")
                           for n, w in zip(node.input, ("start", "limit", "delta")))
    dtype = np.asarray(start).dtype
    s, l, d = (np.asarray(v).reshape(-1)[0].item() for v in (start, limit, delta))
    n = max(int(np.ceil((l - s) / d)), 0)
    values = np.array([s + k * d for k in range(n)], dtype=dtype) if n else np.zeros(0, dtype)
    cv.constant(values, node.output[0])


@converter("EyeLike")
def _eye_like(cv, node, attrs):
    from .importer import np_dtype
    x = cv.value(node.input[0])
    dtype = np_dtype(int(attrs["dtype"])) if "dtype" in attrs else x.type.dtype
    rows, cols = x.type.shape
    cv.constant(np.eye(rows, cols, int(attrs.get("k", 0)), dtype=dtype), node.output[0])


@converter("NonZero")
def _nonzero(cv, node, attrs):
    x = cv.const_array(node.input[0], "NonZero's input (its output shape depends on it)")
    cv.constant(np.array(np.nonzero(x), dtype=np.int64).reshape(x.ndim, -1), node.output[0])


@converter("CenterCropPad")
def _center_crop_pad(cv, node, attrs):
    x = cv.value(node.input[0])
    shape = x.type.shape
    target = [int(s) for s in cv.const_array(node.input[1], "CenterCropPad's shape input")]
    axes = [normalize_axis(a, len(shape)) for a in attrs.get("axes", range(len(shape)))]
    starts, ends, pads = [], [], [0] * (2 * len(shape))
    for a, t in zip(axes, target):
        n = shape[a]
        if t < n:
            off = (n - t) // 2
            starts.append(off), ends.append(off + t)
        else:
            starts.append(0), ends.append(n)
            pads[a], pads[len(shape) + a] = (t - n) // 2, t - n - (t - n) // 2
    cropped, = cv.emit("Slice", [x], slice_attrs(shape, starts, ends, axes), node,
                       [node.output[0] + "_crop"])
    cv.emit("Pad", [cropped], {"pads": tuple(pads), "mode": "constant", "value": 0}, node)
