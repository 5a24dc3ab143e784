"""The pass manager: runs ``Graph -> Graph`` passes in order, naming and timing each."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ..graph.ir import Graph
from ..graph.printer import print_graph

GraphPass = Callable[[Graph], Graph]


@dataclass(frozen=True)
class PassRecord:
    """What one pass did: its name, wall time, and node counts before and after."""

    name: str
    seconds: float
    nodes_before: int
    nodes_after: int


def run_passes(graph: Graph, passes: Sequence[tuple[str, GraphPass]],
               dump_dir: str | os.PathLike | None = None,
               verify_each: bool = False) -> tuple[Graph, list[PassRecord]]:
    """Run ``passes`` (name, function) in order; return the final graph and a record per pass.

    ``dump_dir`` receives the graph as text before the first pass and after every pass:
    ``00_input.txt``, ``01_<pass>.txt``, ... (the build driver sets it from ``--dump-ir``
    or the ``TC_DUMP_IR`` environment variable).
    ``verify_each`` (or ``TC_VERIFY_PASSES=1``, which the test suite sets) runs the graph
    verifier after every pass; a broken graph raises ``GraphError`` naming the pass.
    """
    from ..graph.verifier import GraphError, verify

    verify_each = verify_each or os.environ.get("TC_VERIFY_PASSES") == "1"
    if dump_dir:
        os.makedirs(dump_dir, exist_ok=True)
        _dump(dump_dir, 0, "input", graph)
    records = []
    for i, (name, fn) in enumerate(passes, start=1):
        before = len(graph.nodes)
        t0 = time.perf_counter()
        graph = fn(graph)
        records.append(PassRecord(name, time.perf_counter() - t0, before, len(graph.nodes)))
        if verify_each:
            try:
                verify(graph)
            except GraphError as e:
                raise GraphError(f"pass {name!r} broke the graph: {e}") from None
        if dump_dir:
            _dump(dump_dir, i, name, graph)
    return graph, records


def _dump(dump_dir, index: int, name: str, graph: Graph) -> None:
    with open(os.path.join(dump_dir, f"{index:02d}_{name}.txt"), "w") as f:
        f.write(print_graph(graph) + "\n")
