"""The packing-layout knob: the output-channel block a PackedConv's weights are packed in.

``pack_weights`` packs each conv's weights in blocks of one or two vectors of output
channels by a rule (``conv_block``) that wins on most convs but not all: on light
resnet50, two vectors for every 1x1 conv (one by the rule) made the model 3% faster at
2 threads and 3% slower at 1 thread, measured side by side.  So a tuning task holding
one PackedConv of one group (no zero-padded channels) has the knob ``pack.block``: the
blocks of one or two vectors that divide its output channels.  A config that changes it
changes the weights' layout, which three places follow:

- ``Task.lower``: the task graph with the node's ``block`` and its weight input's shape
  changed (``with_block``);
- measurement: the candidate's weights are the reference's random weights repacked by
  ``repack_steps`` (array steps the measurement child applies, ``measure_worker.
  apply_steps``), so that its outputs can be checked against the reference's;
- ``build``: the conv's constant weights are repacked (``repack_graph``) before lowering.
"""
from __future__ import annotations

from ..compiler.graph.ir import Graph, Node, TensorType, Value
from ..compiler.passes.rewrite import Edit, drop_unread_constants
from .measure_worker import apply_steps

PACK_BLOCK = "pack.block"
#: blocks of this many vectors are offered
VECTOR_COUNTS = (1, 2)


def packed_conv(nodes) -> Node | None:
    """The one PackedConv of ``nodes`` whose block the knob may change (one group, no
    padded channels), or None."""
    convs = [n for n in nodes if n.op == "PackedConv"]
    if len(convs) != 1:
        return None
    node = convs[0]
    if int(node.attr("group", 1)) != 1 or int(node.attr("out_channels")) % int(node.attr("block")):
        return None
    return node


def block_choices(node: Node, lanes: int) -> tuple[int, ...]:
    """The blocks of ``VECTOR_COUNTS`` vectors of ``lanes`` that divide the conv's output
    channels, and its own block."""
    oc = int(node.attr("out_channels"))
    blocks = {v * lanes for v in VECTOR_COUNTS if oc % (v * lanes) == 0}
    return tuple(sorted(blocks | {int(node.attr("block"))}))


def split_config(config: dict | None) -> tuple[int | None, dict | None]:
    """(the config's ``pack.block`` or None, the config without it: the schedule's)."""
    if not config or PACK_BLOCK not in config:
        return None, config
    rest = {k: v for k, v in config.items() if k != PACK_BLOCK}
    return int(config[PACK_BLOCK]), rest


def changed_block(nodes, config: dict | None) -> tuple[Node, int] | None:
    """(the PackedConv of ``nodes``, the block ``config`` packs it in) when the config
    changes its block; None otherwise."""
    block, _ = split_config(config)
    node = packed_conv(nodes) if block is not None else None
    if node is None or block == node.attr("block"):
        return None
    return node, block


def repacked_type(node: Node, block: int) -> TensorType:
    """The weight type of ``node`` packed in blocks of ``block`` channels."""
    w = node.inputs[1].type
    oc = int(node.attr("out_channels"))
    return TensorType((oc // block,) + tuple(w.shape[1:4]) + (block,), w.dtype)


def repack_steps(node: Node, block: int) -> list:
    """Array steps (``measure_worker.apply_steps``) from ``node``'s weights to the same
    weights in blocks of ``block``: unpack to (OC, ICg, KH, KW), pack again."""
    _, icg, kh, kw, _ = node.inputs[1].type.shape
    oc = int(node.attr("out_channels"))
    return [["transpose", [0, 4, 1, 2, 3]], ["reshape", [oc, icg, kh, kw]],
            ["reshape", [oc // block, block, icg, kh, kw]], ["transpose", [0, 2, 3, 4, 1]]]


def _rebuilt(node: Node, weight: Value, block: int) -> Node:
    return Node(node.op, (node.inputs[0], weight) + node.inputs[2:], node.outputs,
                dict(node.attr_dict, block=block), node.name)


def with_block(graph: Graph, node: Node, block: int) -> Graph:
    """A task graph (its weights an input) with ``node`` packed in blocks of ``block``."""
    old = node.inputs[1]
    new = Value(old.name, repacked_type(node, block))
    swap = {old.name: new}
    nodes = []
    for n in graph.nodes:
        if n is node:
            nodes.append(_rebuilt(n, new, block))
        else:
            nodes.append(Node(n.op, tuple(swap.get(v.name, v) for v in n.inputs), n.outputs,
                              n.attrs, n.name))
    inputs = tuple(swap.get(v.name, v) for v in graph.inputs)
    return Graph(inputs, graph.outputs, tuple(nodes), graph.constants, graph.name)


def chosen_blocks(groups, configs: dict) -> dict[str, int]:
    """The PackedConvs whose block a tuned config changes: their output's name -> the
    block; ``configs``: group index -> (workload key, config)."""
    changes = [changed_block(groups[i].nodes, config) for i, (_, config) in configs.items()]
    return {node.outputs[0].name: block for node, block in filter(None, changes)}


def repack_graph(graph: Graph, blocks: dict[str, int]) -> Graph:
    """``graph`` with each PackedConv in ``blocks`` (its output's name -> block) packed
    in that block: its constant weights repacked, its ``block`` attribute changed."""
    edit = Edit(graph)
    for node in graph.nodes:
        block = blocks.get(node.outputs[0].name)
        if node.op != "PackedConv" or block is None or block == node.attr("block"):
            edit.keep(node)
            continue
        data = apply_steps(edit.const(node.inputs[1]), repack_steps(node, block))
        weight = edit.constant(data, f"{node.inputs[1].name}_b{block}")
        edit.emit(_rebuilt(node, weight, block))
    return drop_unread_constants(edit.finish())
