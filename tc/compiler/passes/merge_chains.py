"""Merge chains of reshapes into one Reshape, and chains of transposes into one Transpose."""
from __future__ import annotations

from ..graph.ir import Graph, Node
from .remove_noops import RESHAPES
from .rewrite import Edit


def merge_chains(graph: Graph) -> Graph:
    """Rewrite each chain of Reshape/Flatten/Squeeze/Unsqueeze as one Reshape to the last
    shape, and each chain of Transposes as one Transpose by the composed permutation.

    Only where each intermediate result has the next link as its sole reader. The merged
    node produces the chain's last value; an identity Transpose it may yield is left to
    ``remove_noops``.
    """
    edit = Edit(graph)
    for node in graph.nodes:
        if edit.absorbed(node):
            continue
        if node.op in RESHAPES:
            chain = edit.chain(node, lambda r, v: r.op in RESHAPES)
        elif node.op == "Transpose":
            chain = edit.chain(node, lambda r, v: r.op == "Transpose")
        else:
            chain = []
        if not chain:
            edit.keep(node)
            continue
        edit.absorb(n for n, _ in chain)
        last = chain[-1][0]
        if node.op == "Transpose":
            perm = node.attr("perm")
            for n, _ in chain:  # output axis i of n is axis perm[i] of n's input
                perm = tuple(perm[i] for i in n.attr("perm"))
            op, attrs = "Transpose", {"perm": perm}
        else:
            op, attrs = "Reshape", {"shape": last.outputs[0].type.shape}
        edit.emit(Node(op, (node.inputs[0],), last.outputs, attrs, last.name))
    return edit.finish()
