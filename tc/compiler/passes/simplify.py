"""simplify: the algebraic rewrites, run together to a fixed point."""
from __future__ import annotations

from ..graph.ir import Graph
from .batchnorm_to_affine import batchnorm_to_affine
from .fold_affine import fold_affine
from .merge_affine import merge_affine
from .merge_chains import merge_chains
from .remove_noops import remove_noops
from .rewrite import drop_unread_constants

#: the rewrites, in the order one round runs them
REWRITES = (
    ("remove_noops", remove_noops),
    ("batchnorm_to_affine", batchnorm_to_affine),
    ("fold_affine", fold_affine),
    ("merge_affine", merge_affine),
    ("merge_chains", merge_chains),
)


def simplify(graph: Graph, max_rounds: int = 32) -> Graph:
    """Run the ``REWRITES`` in rounds until a round changes nothing (at most
    ``max_rounds``), then drop constants nobody reads any more.

    BatchNormalization and per-channel Mul/Add/Sub fold into a preceding Conv/Gemm; other
    BatchNormalizations become a per-channel Mul and Add that merge with neighbouring
    affine ops; no-ops go; reshape and transpose chains merge. Graph output names never
    change. The rewrites never make a node with all-constant inputs out of one that had a
    non-constant input, so after ``fold_constants`` nothing new is left to fold.
    """
    for _ in range(max_rounds):
        before = graph
        for _, rewrite in REWRITES:
            graph = rewrite(graph)
        if graph is before:
            break
    return drop_unread_constants(graph)
