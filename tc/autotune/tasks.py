"""Tuning tasks: the distinct tunable workloads of a model on one target.

    tasks = extract_tasks("model.onnx", "llvm")
    for t in tasks:
        print(t.key, t.family, t.weight, t.flops)
        func = t.lower(t.default_config())

A task is one fused group's workload, found exactly as ``tc.compiler.build.build`` finds
its kernels (the same graph passes, fusion and storage assignment), kept only when the
group does the kind of work a schedule's knobs matter for: it holds a complex op (conv,
matmul) or a reduction (pool, softmax, normalization, reduce).  Pure elementwise and
injective groups are not tasks.

Groups computing the same workload share one task: its ``key`` is built from the group's
ops, attributes, dataflow, shapes and dtypes with every value renamed by position, so
two identical layers (or two imports of one model) give the same key.  A task holds its
group as a small ``Graph`` of only those nodes (no constants: every input is an
argument), so it pickles cheaply and ``lower`` runs in a child process.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from ..compiler.build import (
    default_pipeline,
    external_values,
    group_label,
    group_to_te,
    lower_group,
)
from ..compiler.graph.ir import Graph, Node, Value
from ..compiler.ops.registry import OpPattern, lookup_op
from ..compiler.passes.fuse import Group, partition
from ..compiler.passes.manager import run_passes
from ..compiler.passes.storage import assign_storage
from ..compiler.te.traverse import count_flops
from ..targets.target import Target
from . import packing

#: fusion patterns that make a group worth tuning
TUNABLE_PATTERNS = (OpPattern.REDUCTION, OpPattern.OUT_FUSABLE)

# op -> family, for the ops whose family is not the op's own name
_CONVS = {"Conv", "ConvInteger", "QLinearConv", "PackedConv", "DeformConv"}
_FAMILIES = {
    **{op: "matmul" for op in ("MatMul", "Gemm", "PackedMatMul", "MatMulInteger", "QLinearMatMul")},
    **{op: "pool" for op in ("MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
                             "GlobalMaxPool", "GlobalLpPool")},
    **{op: "softmax" for op in ("Softmax", "LogSoftmax", "Hardmax")},
    **{op: "norm" for op in ("LayerNormalization", "GroupNormalization", "InstanceNormalization",
                             "RMSNormalization", "MeanVarianceNormalization",
                             "LpNormalization", "LRN")},
    **{op: "reduce" for op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                               "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
                               "ReduceSum", "ReduceSumSquare", "ArgMax", "ArgMin")},
    **{op: "scan" for op in ("CumSum", "CumProd")},
}

#: a key's readable part lists at most this many ops (the hash covers them all)
_KEY_OPS = 6


@dataclass(frozen=True)
class Task:
    """One tunable workload on one target.

    ``graph`` holds the group's nodes with values renamed ``in0, in1, ...`` (inputs, in
    the group's order) and ``t0, t1, ...`` (node outputs); its outputs are the group's.
    A task pickles (plain frozen dataclasses) and lowers anywhere tc is importable.
    """

    key: str
    family: str
    target: str
    weight: int
    flops: int
    label: str
    graph: Graph = field(repr=False, compare=False)

    @property
    def group(self) -> Group:
        """The group ``lower`` compiles (built from ``graph``)."""
        return Group(self.graph.nodes, self.graph.inputs, self.graph.outputs)

    def lower(self, config: dict | None = None, name: str | None = None):
        """The group scheduled with ``config`` (``None``: the default schedule) and
        lowered into a PrimFunc called ``name`` (default ``tc_<ops>``); a ``pack.block``
        in the config repacks the conv's weights first (``packing``), which changes
        that param's shape (see ``input_steps``).

        An illegal config raises ``tc.compiler.schedule.knobs.InvalidConfig``."""
        name = name or f"tc_{self.group.name}"[:60]
        change = packing.changed_block(self.graph.nodes, config)
        graph = packing.with_block(self.graph, *change) if change else self.graph
        group = Group(graph.nodes, graph.inputs, graph.outputs)
        return lower_group(group, graph, Target.parse(self.target), name,
                           config=packing.split_config(config)[1])[0]

    def candidate(self, config: dict) -> tuple:
        """What ``measure.measure`` takes for ``config``: (config, its PrimFunc), plus
        ``input_steps`` when its inputs differ from the default kernel's."""
        func = self.lower(config)
        steps = self.input_steps(config)
        return (config, func, steps) if steps else (config, func)

    def input_steps(self, config: dict | None) -> tuple | None:
        """Per input of ``lower(config)``'s kernel, None or the array steps that turn the
        default kernel's input into its own (weights packed in another block); None when
        no input changes."""
        change = packing.changed_block(self.graph.nodes, config)
        if change is None:
            return None
        node, block = change
        weight = node.inputs[1].name
        return tuple(packing.repack_steps(node, block) if v.name == weight else None
                     for v in self.graph.inputs)

    def space(self) -> dict:
        """The knob space of this task's schedule: ``{name: Knob(choices, default)}``;
        with a packing-layout knob (``packing.PACK_BLOCK``) the schedule knobs' choices
        are those of every block (a choice that does not fit the block a config picks
        is an ``InvalidConfig``)."""
        from ..compiler.schedule import schedule_space
        from ..compiler.schedule.defaults import DEFAULT_LANES
        from ..compiler.schedule.knobs import Knob

        target = Target.parse(self.target)
        node = packing.packed_conv(self.graph.nodes)
        blocks = packing.block_choices(node, DEFAULT_LANES) if node is not None else ()
        default = node.attr("block") if node is not None else None
        space: dict = {}
        for block in [default] + [b for b in blocks if b != default]:
            graph = self.graph if block == default else packing.with_block(self.graph, node,
                                                                           block)
            _, outputs = group_to_te(Group(graph.nodes, graph.inputs, graph.outputs), {})
            for name, knob in schedule_space(outputs, target).items():
                if name not in space:
                    space[name] = knob
                else:  # the default block's default, every block's choices
                    extra = [c for c in knob.choices if c not in space[name].choices]
                    space[name] = Knob(space[name].choices + tuple(extra), space[name].default)
        if len(blocks) > 1:
            space[packing.PACK_BLOCK] = Knob(blocks, default)
        return space

    def default_config(self) -> dict:
        """The config that reproduces the default schedule: every knob at its default."""
        return {name: knob.default for name, knob in self.space().items()}


def tuning_target(target) -> str:
    """The target string a tuning log keys records by: ``target`` resolved on this machine
    (triple and CPU), so that a log tuned on one CPU is not applied on another; features
    given explicitly with -mattr are kept, the host's long feature list is not.  A cuda
    target gets its arch (``-arch``, else this machine's GPU's); a ``-compiler`` option
    stays (the tasks' candidates are built with it)."""
    t = Target.parse(target)
    if t.kind == "cuda":
        options = dict(t.options, arch=t.cuda_arch)
        return str(replace(t, options=tuple(sorted(options.items()))))
    if t.kind != "llvm":
        return str(t)
    r = t.resolved()
    return str(replace(t, mtriple=r.mtriple, mcpu=r.mcpu))


def extract_tasks(model, target="llvm", input_shapes=None, example_inputs=None) -> list[Task]:
    """The distinct tunable workloads of ``model`` on ``target``, in order of first
    appearance, each with ``weight`` = how many kernels of the model compute it.

    ``model``: a tc ``Graph``, or anything ``tc.compile`` takes (an ONNX model or path,
    with ``input_shapes`` for symbolic dims; a PyTorch model with ``example_inputs``).
    """
    target_text = tuning_target(target)
    graph = model if isinstance(model, Graph) else _import(model, input_shapes, example_inputs)
    found: dict[str, dict] = {}
    for group in kernel_groups(graph, Target.parse(target)):
        if not is_tunable(group):
            continue
        sub, text = normalized_group(group)
        key = workload_key(sub, text)
        if key in found:
            found[key]["weight"] += 1
            continue
        _, outputs = group_to_te(group, {})
        found[key] = {"key": key, "family": family(group), "target": target_text, "weight": 1,
                      "flops": count_flops(outputs), "label": group_label(group), "graph": sub}
    return [Task(**fields) for fields in found.values()]


def _import(model, input_shapes, example_inputs) -> Graph:
    from .._compile import import_graph

    return import_graph(model, input_shapes=input_shapes, example_inputs=example_inputs)[0]


def kernel_groups(graph: Graph, target=None) -> list[Group]:
    """The fused groups that ``build`` compiles into kernels for ``graph`` on ``target``:
    the same passes, partition and storage assignment, without the groups elided as
    views."""
    graph, _ = run_passes(graph, default_pipeline(target))
    groups = partition(graph)
    storage = assign_storage(graph, groups, external_values(graph))
    return [g for i, g in enumerate(groups) if i not in storage.elided]


def is_tunable(group: Group) -> bool:
    """Whether ``group`` holds a complex op or a reduction (see ``TUNABLE_PATTERNS``)."""
    return _main_node(group) is not None


def family(group: Group) -> str:
    """The op family of a tunable group's main node: ``conv2d`` (``conv1d``, ...,
    ``conv2d_transpose``), ``matmul``, ``pool``, ``softmax``, ``norm``, ``reduce``,
    ``scan``, else the op's name in lower case."""
    node = _main_node(group)
    if node is None:
        raise ValueError(f"group {group.name} holds no conv, matmul or reduction")
    if node.op in _CONVS or node.op == "ConvTranspose":
        rank = len(node.attr("strides") or node.outputs[0].type.shape[2:])
        return f"conv{rank}d" + ("_transpose" if node.op == "ConvTranspose" else "")
    return _FAMILIES.get(node.op, node.op.lower())


def _main_node(group: Group) -> Node | None:
    """The group's complex op, else its first reduction, else None."""
    best = None
    for node in group.nodes:
        pattern = lookup_op(node.op).pattern
        if pattern == OpPattern.OUT_FUSABLE:
            return node
        if pattern in TUNABLE_PATTERNS and best is None:
            best = node
    return best


def normalized_group(group: Group) -> tuple[Graph, str]:
    """The group as a Graph of its own with positional value names and no node names,
    and its canonical text (ops, attributes, wiring, types) that the key hashes."""
    names: dict[str, Value] = {}

    def rename(v: Value, new: str) -> Value:
        names[v.name] = Value(new, v.type)
        return names[v.name]

    inputs = [rename(v, f"in{i}") for i, v in enumerate(group.inputs)]
    nodes, count = [], 0
    for n in group.nodes:
        outs = []
        for v in n.outputs:
            outs.append(rename(v, f"t{count}"))
            count += 1
        nodes.append(Node(n.op, tuple(names[v.name] for v in n.inputs), tuple(outs), n.attrs))
    outputs = [names[v.name] for v in group.outputs]
    sub = Graph(tuple(inputs), tuple(outputs), tuple(nodes), {}, name="task")
    lines = [f"{v.name}: {_type(v)}" for v in inputs]
    lines += [f"{', '.join(v.name for v in n.outputs)} = {n.op}"
              f"({', '.join(v.name for v in n.inputs)}) {_attrs_text(n.attrs)}" for n in nodes]
    lines.append(f"return {', '.join(v.name for v in outputs)}")
    return sub, "\n".join(lines)


def group_key(group: Group) -> str:
    """The key of the task computing ``group`` (what ``compile`` looks up in a log)."""
    return workload_key(*normalized_group(group))


def workload_key(sub: Graph, text: str) -> str:
    """A readable, stable key: ops, input and output types, and a hash of ``text``, e.g.
    ``Conv+Relu float32[1,3,32,32],float32[16,3,3,3] -> float32[1,16,32,32] #1f0c...``."""
    ops = [n.op for n in sub.nodes]
    if len(ops) > _KEY_OPS:
        ops = ops[:_KEY_OPS - 1] + [f"...{len(ops) - _KEY_OPS + 1} more"]
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return (f"{'+'.join(ops)} {','.join(_type(v) for v in sub.inputs)} -> "
            f"{','.join(_type(v) for v in sub.outputs)} #{digest}")


def _type(v: Value) -> str:
    return f"{v.type.dtype}[{','.join(map(str, v.type.shape))}]"


def _attrs_text(attrs) -> str:
    """Attributes as text that is the same in every process (no object addresses)."""
    def value(x) -> str:
        if isinstance(x, tuple):
            return "(" + ",".join(value(y) for y in x) + ")"
        if isinstance(x, (bool, int, float, str)) or x is None:
            return repr(x)
        raise TypeError(f"attribute value {x!r} of type {type(x).__name__} has no stable text")
    return "{" + ", ".join(f"{k}={value(v)}" for k, v in attrs) + "}"
