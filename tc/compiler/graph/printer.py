"""Readable text for a graph, one node per line."""
from __future__ import annotations

from .ir import Graph, Node


def _fmt_attr(v) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(_fmt_attr(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return repr(v)
    return str(v)


def print_node(node: Node) -> str:
    outs = ", ".join(f"{o}: {o.type}" for o in node.outputs)
    ins = ", ".join(str(v) for v in node.inputs)
    attrs = ", ".join(f"{k}={_fmt_attr(v)}" for k, v in node.attrs)
    label = f"  # {node.name}" if node.name else ""
    return f"  {outs} = {node.op}({ins}{'; ' + attrs if attrs else ''}){label}"


def print_graph(graph: Graph) -> str:
    """The graph as text: signature, constants (type only), nodes, return."""
    lines = [f"graph {graph.name}(" + ", ".join(f"{v}: {v.type}" for v in graph.inputs) + ") {"]
    for name, arr in graph.constants.items():
        lines.append(f"  %{name}: {arr.dtype}[{', '.join(map(str, arr.shape))}] = constant")
    lines.extend(print_node(n) for n in graph.nodes)
    lines.append("  return " + ", ".join(str(v) for v in graph.outputs))
    lines.append("}")
    return "\n".join(lines)
