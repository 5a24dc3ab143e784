"""Shape and layout ATen ops: views, expand, permutes, concatenation, stacking and splits,
select, slice, flip, roll, repeat, pixel (un)shuffle, and padding.

Besides the core ATen ops a decomposed program calls, the composite ones a program
exported without decomposition calls (split.Tensor, chunk, unbind, stack, narrow, movedim,
tile, pad, roll, ...) have converters: ``exported`` lowers such a program as it is when
every op it calls has one."""
from __future__ import annotations

import math

from ...compiler.ops.common import normalize_axis
from ..onnx.convert_shape import slice_attrs
from .lowering import Lowering, UnsupportedTorchOpsError, arg, converter


@converter("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default",
           "aten.unsqueeze.default", "aten.squeeze.default", "aten.squeeze.dim",
           "aten.squeeze.dims", "aten.flatten.using_ints", "aten.unflatten.int")
def _reshape(cv: Lowering, node):
    return cv.emit("Reshape", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


@converter("aten.expand.default")
def _expand(cv: Lowering, node):
    return cv.emit("Expand", [cv.value(node.args[0])], {"shape": cv.out_shape(node)}, node)


def _permute_to(cv: Lowering, x, node, perm):
    rank = len(x.type.shape)
    return cv.emit("Transpose", [x], {"perm": tuple(normalize_axis(d, rank) for d in perm)},
                   node)


@converter("aten.permute.default")
def _permute(cv: Lowering, node):
    return _permute_to(cv, cv.value(node.args[0]), node, node.args[1])


@converter("aten.movedim.int", "aten.movedim.intlist")
def _movedim(cv: Lowering, node):
    x = cv.value(node.args[0])
    rank = len(x.type.shape)
    src, dst = node.args[1], node.args[2]
    src = [normalize_axis(d, rank) for d in ([src] if isinstance(src, int) else src)]
    dst = [normalize_axis(d, rank) for d in ([dst] if isinstance(dst, int) else dst)]
    rest = iter(d for d in range(rank) if d not in src)
    moved = dict(zip(dst, src))
    return _permute_to(cv, x, node, [moved[d] if d in moved else next(rest)
                                     for d in range(rank)])


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


@converter("aten.stack.default")
def _stack(cv: Lowering, node):
    xs = [cv.value(t) for t in node.args[0]]
    shape = tuple(xs[0].type.shape)
    axis = normalize_axis(arg(node, 1, "dim", 0), len(shape) + 1)
    unsqueezed = shape[:axis] + (1,) + shape[axis:]
    xs = [cv.emit("Reshape", [x], {"shape": unsqueezed}, node) for x in xs]
    return cv.emit("Concat", xs, {"axis": axis}, node)


def slice_dim(cv: Lowering, x, node, dim: int, start, end, step: int = 1):
    """``x[..., start:end:step, ...]`` along ``dim`` (Python slice rules: negative and
    out-of-range bounds are clamped)."""
    return cv.emit("Slice", [x], slice_attrs(x.type.shape, [start], [end], [dim], [step]),
                   node)


@converter("aten.select.int")
def _select(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dim = normalize_axis(node.args[1], len(shape))
    index = int(node.args[2]) % shape[dim]
    part = slice_dim(cv, x, node, dim, index, index + 1)
    return cv.emit("Reshape", [part], {"shape": cv.out_shape(node)}, node)


@converter("aten.slice.Tensor")
def _slice(cv: Lowering, node):
    x = cv.value(node.args[0])
    dim = normalize_axis(arg(node, 1, "dim", 0), len(x.type.shape))
    start, end = arg(node, 2, "start"), arg(node, 3, "end")
    return slice_dim(cv, x, node, dim, 0 if start is None else start,
                     x.type.shape[dim] if end is None else end, int(arg(node, 4, "step", 1)))


@converter("aten.narrow.default")
def _narrow(cv: Lowering, node):
    x = cv.value(node.args[0])
    dim = normalize_axis(node.args[1], len(x.type.shape))
    start = int(node.args[2]) % x.type.shape[dim]
    return slice_dim(cv, x, node, dim, start, start + int(node.args[3]))


def _split_sizes(cv: Lowering, x, node, dim: int, sizes):
    """``x`` cut along ``dim`` into consecutive parts of ``sizes``."""
    parts, start = [], 0
    for size in sizes:
        parts.append(slice_dim(cv, x, node, dim, start, start + int(size)))
        start += int(size)
    return tuple(parts)


@converter("aten.split_with_sizes.default", "aten.split.Tensor", "aten.chunk.default")
def _split(cv: Lowering, node):
    """The parts' sizes are those torch recorded (for split.Tensor's last, smaller part
    and chunk's rounding)."""
    x = cv.value(node.args[0])
    dim = normalize_axis(arg(node, 2, "dim", 0), len(x.type.shape))
    return _split_sizes(cv, x, node, dim, [v.shape[dim] for v in node.meta["val"]])


@converter("aten.unbind.int")
def _unbind(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = tuple(x.type.shape)
    dim = normalize_axis(arg(node, 1, "dim", 0), len(shape))
    return tuple(cv.emit("Reshape", [part], {"shape": shape[:dim] + shape[dim + 1:]}, node)
                 for part in _split_sizes(cv, x, node, dim, [1] * shape[dim]))


@converter("aten.flip.default")
def _flip(cv: Lowering, node):
    x = cv.value(node.args[0])
    shape = x.type.shape
    dims = sorted({normalize_axis(d, len(shape)) for d in node.args[1]})
    return cv.emit("Slice", [x], slice_attrs(shape, [shape[d] - 1 for d in dims],
                                             [-shape[d] - 1 for d in dims], dims,
                                             [-1] * len(dims)), node)


def _roll_dim(cv: Lowering, x, node, shift: int, dim: int):
    """``x`` rolled by ``shift`` along ``dim``: its last ``shift`` entries moved first."""
    n = x.type.shape[dim]
    shift %= n
    if not shift:
        return x
    tail = slice_dim(cv, x, node, dim, n - shift, n)
    head = slice_dim(cv, x, node, dim, 0, n - shift)
    return cv.emit("Concat", [tail, head], {"axis": dim}, node)


@converter("aten.roll.default")
def _roll(cv: Lowering, node):
    x = cv.value(node.args[0])
    shifts, dims = list(node.args[1]), list(arg(node, 2, "dims", []))
    if not dims:  # rolled as one flat vector
        flat = cv.emit("Reshape", [x], {"shape": (math.prod(x.type.shape),)}, node)
        rolled = _roll_dim(cv, flat, node, int(shifts[0]), 0)
        return cv.emit("Reshape", [rolled], {"shape": cv.out_shape(node)}, node)
    for shift, dim in zip(shifts, dims):
        x = _roll_dim(cv, x, node, int(shift), normalize_axis(dim, len(x.type.shape)))
    return x


def _tile(cv: Lowering, x, node, repeats):
    """``x`` repeated ``repeats`` times along its trailing dims (``torch.Tensor.repeat``):
    x gets leading dims of 1 when there are more repeats than its rank."""
    repeats = tuple(int(r) for r in repeats)
    extra = len(repeats) - len(x.type.shape)
    if extra:
        x = cv.emit("Reshape", [x], {"shape": (1,) * extra + tuple(x.type.shape)}, node)
    return cv.emit("Tile", [x], {"repeats": repeats}, node)


@converter("aten.repeat.default")
def _repeat(cv: Lowering, node):
    return _tile(cv, cv.value(node.args[0]), node, node.args[1])


@converter("aten.tile.default")
def _tile_op(cv: Lowering, node):
    x = cv.value(node.args[0])
    repeats = list(node.args[1])  # fewer repeats than dims leave the leading dims alone
    return _tile(cv, x, node, [1] * (len(x.type.shape) - len(repeats)) + repeats)


def _as_4d(cv: Lowering, node, x, build):
    """``build`` on ``x`` (..., C, H, W) viewed as (N, C, H, W), the result viewed with
    ``x``'s leading dims again."""
    shape = tuple(x.type.shape)
    if len(shape) != 4:
        x = cv.emit("Reshape", [x], {"shape": (math.prod(shape[:-3]),) + shape[-3:]}, node)
    y = build(x)
    return y if len(shape) == 4 else cv.emit("Reshape", [y], {"shape": cv.out_shape(node)},
                                             node)


@converter("aten.pixel_shuffle.default")
def _pixel_shuffle(cv: Lowering, node):
    attrs = {"blocksize": int(node.args[1]), "mode": "CRD"}  # channel c * r * r + i * r + j
    return _as_4d(cv, node, cv.value(node.args[0]),
                  lambda x: cv.emit("DepthToSpace", [x], attrs, node))


@converter("aten.pixel_unshuffle.default")
def _pixel_unshuffle(cv: Lowering, node):
    attrs = {"blocksize": int(node.args[1]), "mode": "CRD"}
    return _as_4d(cv, node, cv.value(node.args[0]),
                  lambda x: cv.emit("SpaceToDepth", [x], attrs, node))


# --- padding ----------------------------------------------------------------------------

#: torch's pad modes as tc Pad modes
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
              "circular": "wrap"}


def _pad(cv: Lowering, x, node, pad, mode: str, value):
    """``x`` padded as ``F.pad``: ``pad`` is (begin, end) pairs from the last dim backwards;
    negative constant pads crop."""
    rank = len(x.type.shape)
    begin, end = [0] * rank, [0] * rank
    for i, p in enumerate(pad):
        (begin if i % 2 == 0 else end)[rank - 1 - i // 2] = int(p)
    if min(begin + end) < 0:
        if mode != "constant":
            raise UnsupportedTorchOpsError(f"{node.name}: negative {mode} padding is not "
                                           "supported")
        shape = x.type.shape
        x = cv.emit("Slice", [x], slice_attrs(shape, [max(-b, 0) for b in begin],
                                              [n - max(-e, 0) for n, e in zip(shape, end)]),
                    node)
        begin, end = [max(b, 0) for b in begin], [max(e, 0) for e in end]
    if not any(begin + end):
        return x
    return cv.emit("Pad", [x], {"pads": tuple(begin + end), "mode": _PAD_MODES[mode],
                                "value": value or 0}, node)


@converter("aten.constant_pad_nd.default")
def _constant_pad_nd(cv: Lowering, node):
    return _pad(cv, cv.value(node.args[0]), node, node.args[1], "constant",
                arg(node, 2, "value", 0))


@converter("aten.pad.default")
def _pad_any_mode(cv: Lowering, node):
    """``F.pad`` whole (a program exported without decomposition calls it; decomposed,
    its reflect, replicate and circular modes gather through computed index tensors)."""
    mode = arg(node, 2, "mode", "constant")
    if mode not in _PAD_MODES:
        raise UnsupportedTorchOpsError(f"{node.name}: pad mode {mode!r} is not supported")
    return _pad(cv, cv.value(node.args[0]), node, node.args[1], mode, arg(node, 3, "value"))
