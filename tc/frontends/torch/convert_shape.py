"""Shape and layout ATen ops: views, expand, permutes, concatenation, select and slice."""
from __future__ import annotations

from ...compiler.ops.common import normalize_axis
from .lowering import Lowering, arg, converter


@converter("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
           "aten.unsqueeze.default", "aten.squeeze.dim", "aten.squeeze.dims",
           "aten.flatten.using_ints")
def _reshape(cv: Lowering, node):
    return cv.emit("Reshape", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


@converter("aten.expand.default")
def _expand(cv: Lowering, node):
    return cv.emit("Expand", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


@converter("aten.permute.default")
def _permute(cv: Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    return cv.emit("Transpose", [x], {"perm": tuple(normalize_axis(d, rank)
                                                    for d in node.args[1])}, node)


@converter("aten.t.default", "aten.transpose.int")
def _transpose(cv: Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    perm = list(range(rank))
    if rank >= 2:
        i = normalize_axis(arg(node, 1, "dim0", 0), rank)
        j = normalize_axis(arg(node, 2, "dim1", 1), rank)
        perm[i], perm[j] = perm[j], perm[i]
    return cv.emit("Transpose", [x], {"perm": tuple(perm)}, node)


@converter("aten.cat.default")
def _cat(cv: Lowering, node):
    xs = [cv.value(t) for t in node.args[0]]
    axis = normalize_axis(arg(node, 1, "dim", 0), len(xs[0].type.shape))
    return cv.emit("Concat", xs, {"axis": axis}, node)


@converter("aten.select.int")
def _select(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dim = normalize_axis(node.args[1], len(shape))
    index = int(node.args[2]) % shape[dim]
    starts = tuple(index if d == dim else 0 for d in range(len(shape)))
    sizes = tuple(1 if d == dim else n for d, n in enumerate(shape))
    part = cv.emit("Slice", [x], {"starts": starts, "steps": (1,) * len(shape),
                                  "sizes": sizes}, node)
    return cv.emit("Reshape", [part], {"shape": cv.out_shape(node)}, node)


@converter("aten.slice.Tensor")
def _slice(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dim = normalize_axis(arg(node, 1, "dim", 0), len(shape))
    step = int(arg(node, 4, "step", 1))
    start = arg(node, 2, "start", 0) or 0
    start = max(min(start + shape[dim] if start < 0 else start, shape[dim]), 0)
    size = cv.out_shape(node)[dim]
    starts = tuple(start if d == dim else 0 for d in range(len(shape)))
    steps = tuple(step if d == dim else 1 for d in range(len(shape)))
    sizes = tuple(size if d == dim else n for d, n in enumerate(shape))
    return cv.emit("Slice", [x], {"starts": starts, "steps": steps, "sizes": sizes}, node)
