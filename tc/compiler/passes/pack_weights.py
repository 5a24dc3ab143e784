"""Constant matmul and conv weights packed at compile time for the register-tiled kernels.

    %y = MatMul(%x: float32[M, K], %w: const float32[K, N])
becomes
    %y = PackedMatMul(%x, %w_panels: const float32[N / NR, K, NR]; n=N)

and likewise a Gemm (B transposed first when ``transB``), its bias added after.

Each K x NR panel is contiguous, so the micro-kernel's k loop streams through memory
instead of striding a whole row of B per step (at N = 1024 a row is 4 KB: every step
would land in the same L1 set).  NR is ``PANEL_WIDTH``, two AVX2 vectors of float32;
matrices whose N is not a multiple of it stay as they are.

A float32 2-D Conv with constant weights becomes a PackedConv over output-channel blocks
(see ``ops/packed_conv.py``) when its schedule has a good register tile for it
(``conv_block``); 1x1 convs included: measured in resnet50, the channel-vectorized
tile beats the plane-vectorized GEMM tile of the plain Conv (64->256 @56: 36 -> 42,
128->512 @28: 45 -> 52 GFLOP/s; the whole model 182 -> 155 ms).
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import Graph, Node, Value
from ..ops.linalg import pack_panels
from ..ops.packed_conv import pack_conv_weights
from ..schedule.defaults import DEFAULT_LANES, blocked_conv_tile
from .rewrite import Edit, drop_unread_constants

#: columns per panel: the micro-kernel's NR (two 8-lane float32 vectors)
PANEL_WIDTH = 16


def pack_weights(graph: Graph) -> Graph:
    """Rewrite each float32 MatMul (A of rank >= 2) and Gemm (transA 0, alpha 1) whose B
    is a 2-D constant with N a multiple of ``PANEL_WIDTH`` into a PackedMatMul over B's
    panels; a Gemm's ``beta * C`` becomes an Add after it (fused as its epilogue)."""
    edit = Edit(graph)
    for node in graph.nodes:
        if node.op == "Conv":
            _pack_conv(edit, node)
            continue
        w = _packable_weight(edit, node)
        if w is None:
            edit.keep(node)
            continue
        a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
        panels = edit.constant(pack_panels(w, PANEL_WIDTH), f"{b.name}_panels")
        attrs = {"n": w.shape[1]}
        if node.op == "MatMul" or len(node.inputs) < 3:
            edit.emit(Node("PackedMatMul", (a, panels), node.outputs, attrs, node.name))
            continue
        product = Value(edit.fresh(f"{out.name}_product"), out.type)
        edit.emit(Node("PackedMatMul", (a, panels), (product,), attrs, node.name))
        bias = node.inputs[2]
        beta = float(node.attr("beta", 1.0))
        if beta != 1.0:
            bias = edit.constant((edit.const(bias) * beta).astype(out.type.dtype),
                                 f"{bias.name}_scaled")
        edit.emit(Node("Add", (product, bias), (out,), {}, node.name))
    return drop_unread_constants(edit.finish())


def _packable_weight(edit: Edit, node: Node) -> np.ndarray | None:
    """B as a (K, N) float32 array when ``node`` can become a PackedMatMul, else None."""
    if node.op not in ("MatMul", "Gemm") or len(node.inputs) < 2:
        return None
    a, b = node.inputs[:2]
    w = edit.const(b)
    if w is None or w.ndim != 2 or len(a.type.shape) < 2 or w.dtype != np.float32:
        return None
    if node.op == "Gemm":
        if node.attr("transA", 0) or float(node.attr("alpha", 1.0)) != 1.0:
            return None
        if len(node.inputs) > 2 and float(node.attr("beta", 1.0)) != 1.0 \
                and edit.const(node.inputs[2]) is None:
            return None
        w = w.T if node.attr("transB", 0) else w
    return w if w.shape[1] % PANEL_WIDTH == 0 else None


def _pack_conv(edit: Edit, node: Node) -> None:
    w = edit.const(node.inputs[1])
    x, out = node.inputs[0], node.outputs[0]
    group = int(node.attr("group", 1))
    block = None
    if w is not None and w.dtype == np.float32 and w.ndim == 4 and len(x.type.shape) == 4:
        block = conv_block(w.shape, group, out.type.shape)
    if block is None:
        edit.keep(node)
        return
    packed = edit.constant(pack_conv_weights(w, block, group), f"{node.inputs[1].name}_blocks")
    edit.emit(Node("PackedConv", (x, packed) + node.inputs[2:], node.outputs,
                   dict(node.attr_dict, block=block, out_channels=w.shape[0]), node.name))


#: the most zero channels blocks may add to a group, as a share of its channels
MAX_BLOCK_PADDING = 0.25


def conv_block(w_shape: tuple, group: int, out_shape: tuple) -> int | None:
    """The output-channel block for a PackedConv (the vectors of the schedule's register
    tile times their width), or None to keep the Conv when no good tile exists.  Groups
    of a multiple of 4 but not 8 channels take half-width vectors (shufflenet: 68);
    other groups are zero-padded up to whole blocks of 4 or 8 when that adds at most
    MAX_BLOCK_PADDING (34 channels: 9 blocks of 4; not depthwise convs: 1 channel)."""
    ocg = w_shape[0] // group
    for lanes in (DEFAULT_LANES, DEFAULT_LANES // 2):
        padded = -(-ocg // lanes) * lanes
        if padded - ocg <= MAX_BLOCK_PADDING * ocg:
            tile = blocked_conv_tile(out_shape[2], out_shape[3], padded, lanes,
                                     w_shape[2] * w_shape[3])
            if tile is not None:
                return tile[2] * lanes
    return None
