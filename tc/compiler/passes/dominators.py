"""Post-dominators of a dataflow graph, the backbone of TVM-style operator fusion."""
from __future__ import annotations

from collections.abc import Hashable

import networkx as nx


def immediate_post_dominators(dfg: nx.DiGraph, exit: Hashable) -> dict:
    """For each node of ``dfg``, its immediate post-dominator: the nearest node that lies
    on every path from it to ``exit`` (``exit`` itself maps to ``exit``).

    ``exit`` is a virtual sink every node must reach; post-dominators are the dominators
    of the reversed graph rooted there.  Nodes that cannot reach ``exit`` are absent.
    """
    idom = nx.immediate_dominators(dfg.reverse(copy=False), exit)
    idom[exit] = exit
    return idom
