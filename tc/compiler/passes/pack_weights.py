"""Constant matmul operands packed into panels at compile time, for the GEMM micro-kernel.

    %y = MatMul(%x: float32[M, K], %w: const float32[K, N])
becomes
    %y = PackedMatMul(%x, %w_panels: const float32[N / NR, K, NR]; n=N)

Each K x NR panel is contiguous, so the micro-kernel's k loop streams through memory
instead of striding a whole row of B per step (at N = 1024 a row is 4 KB: every step
would land in the same L1 set).  NR is ``PANEL_WIDTH``, two AVX2 vectors of float32;
matrices whose N is not a multiple of it stay as they are.
"""
from __future__ import annotations

from ..graph.ir import Graph, Node
from ..ops.linalg import pack_panels
from .rewrite import Edit, drop_unread_constants

#: columns per panel: the micro-kernel's NR (two 8-lane float32 vectors)
PANEL_WIDTH = 16


def pack_weights(graph: Graph) -> Graph:
    """Rewrite each float32 MatMul whose B is a 2-D constant with N a multiple of
    ``PANEL_WIDTH`` (and A of rank >= 2) into a PackedMatMul over B's panels."""
    edit = Edit(graph)
    for node in graph.nodes:
        a, b = (node.inputs + (None, None))[:2]
        w = edit.const(b) if node.op == "MatMul" else None
        if w is None or w.ndim != 2 or len(a.type.shape) < 2 or w.dtype != "float32" \
                or w.shape[1] % PANEL_WIDTH:
            edit.keep(node)
            continue
        panels = edit.constant(pack_panels(w, PANEL_WIDTH), f"{b.name}_panels")
        edit.emit(Node("PackedMatMul", (a, panels), node.outputs, {"n": w.shape[1]}, node.name))
    return drop_unread_constants(edit.finish())
