"""The driver: Graph -> passes -> per-group lowering -> code generation -> artifact.

    graph = from_onnx(model)
    result = build(graph, Target.parse("llvm"), "out/model.so")
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from .. import __version__
from . import aot_plan as P
from .graph.ir import Graph, Value
from .passes.eliminate import eliminate
from .passes.fold_constants import fold_constants
from .passes.fuse import Group, partition
from .passes.legalize_narrow_types import legalize_narrow_types
from .passes.manager import PassRecord, run_passes
from .passes.pack_weights import pack_weights
from .passes.plan_memory import MemoryPlan
from .passes.simplify import simplify
from .passes.storage import StorageAssignment, assign_storage


def default_pipeline(target=None):
    """The graph passes ``build`` runs for ``target``, in order, as (name, function)
    pairs.  Packing conv weights into blocks of vector lanes is for CPUs: a GPU target's
    convs keep their OIHW weights."""
    passes = [("legalize_narrow_types", legalize_narrow_types),
              ("fold_constants", fold_constants), ("simplify", simplify),
              ("eliminate", eliminate)]
    if getattr(target, "kind", None) != "cuda":
        passes.append(("pack_weights", pack_weights))
    return passes


@dataclass
class BuildReport:
    """What a build did, for ``tc-build`` summaries and ``--report``."""

    passes: list[PassRecord] = field(default_factory=list)
    kernels: int = 0              # kernel calls in the AOT entry
    unique_kernels: int = 0       # distinct compiled functions
    memory: MemoryPlan | None = None
    constant_bytes: int = 0
    workspace_bytes: int = 0      # the arena plus kernels' scratch: what tc_model_run needs
    target: str = ""
    inputs: list[dict] = field(default_factory=list)   # name, shape, dtype (as in metadata)
    outputs: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    footprint: object = None      # a footprint.Footprint, for board folders
    tuning: str | None = None     # with a tuning log: how many workloads it tuned
    untuned: int = 0              # tunable workloads the log left on default schedules

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


def group_to_te(group: Group, graph_constants) -> tuple[list, list]:
    """The TE program of a group: (placeholders for its inputs, tensors of its outputs).

    Placeholders are named ``in0, in1, ...`` so that groups computing the same workload
    produce identical programs (and share one compiled kernel).
    """
    from . import te
    from .ops.registry import lookup_op

    tensors: dict[str, object] = {}
    placeholders = []
    for i, v in enumerate(group.inputs):
        t = te.placeholder(v.type.shape, v.type.dtype, f"in{i}")
        tensors[v.name] = t
        placeholders.append(t)
    for node in group.nodes:
        outs = lookup_op(node.op).compute([tensors[v.name] for v in node.inputs], node.attr_dict)
        for v, t in zip(node.outputs, outs):
            if tuple(t.shape) != v.type.shape or t.dtype != v.type.dtype:
                raise AssertionError(
                    f"{node.op} compute for node {node.name!r} gives {t.dtype}{list(t.shape)}, "
                    f"inference says {v.type}")
            tensors[v.name] = t
    return placeholders, [tensors[v.name] for v in group.outputs]


def lower_group(group: Group, graph: Graph, target, name: str, config: dict | None = None):
    """Schedule (default strategy, with a tuning ``config`` of its knobs when given) and
    lower one group into a PrimFunc called ``name``; returns (the PrimFunc, its FLOPs).
    A config the schedule cannot take raises ``InvalidConfig``."""
    from .schedule import Knobs, default_schedule, lower
    from .te.traverse import count_flops

    placeholders, outputs = group_to_te(group, graph.constants)
    knobs = Knobs(config)
    sch = default_schedule(outputs, target, knobs)
    knobs.check_all_used()
    return lower(sch, placeholders + outputs, name), count_flops(outputs)


def group_label(group: Group) -> str:
    """What a kernel computes, for people: its ops, the main node's window (kernel,
    strides, group) and the shapes in and out, e.g.
    ``PackedConv+Relu k3x3 s2 1x64x56x56 -> 1x128x28x28``."""
    main = next((n for n in group.nodes if n.attr("strides") is not None), group.nodes[0])
    window = ""
    if main.attr("strides") is not None:
        kernel = main.attr("kernel_shape")
        if kernel is None and len(main.inputs) > 1 and len(main.inputs[1].type.shape) >= 4:
            kernel = main.inputs[1].type.shape[2:4]  # Conv's OIHW, PackedConv's blocks
        if kernel:
            window += " k" + "x".join(map(str, kernel))
        window += " s" + "x".join(map(str, main.attr("strides")))
        if main.attr("group", 1) != 1:
            window += f" g{main.attr('group')}"

    def dims(v: Value) -> str:
        return "x".join(map(str, v.type.shape)) or "scalar"
    ins = ",".join(dims(v) for v in main.inputs[:1])
    outs = ",".join(dims(v) for v in group.outputs)
    return f"{'+'.join(n.op for n in group.nodes)}{window} {ins} -> {outs}"


def _func_key(func) -> str:
    from .loops.ir import PrimFunc

    return str(PrimFunc("kernel", func.params, func.body, func.attrs))


def is_board_build(target, output_path) -> bool:
    """Whether ``build`` writes a folder of sources for a board's toolchain (the "c"
    target to a path not ending in .so, or an LLVM target for another architecture)
    rather than a shared library this machine loads."""
    if target.kind == "c":
        return not str(output_path).endswith(".so")
    return target.kind == "llvm" and not target.is_host


def build(graph: Graph, target, output_path: str, dump_dir: str | None = None,
          tuning_log=None, schedule_target=None) -> BuildReport:
    """Compile ``graph`` for ``target`` into ``output_path``: a shared library, or for
    a board (``is_board_build``) a folder of sources (``board_artifact``).  With a
    ``tuning_log`` (a path or ``TuningLog``), each tunable group takes the best logged
    config for its workload on this target; ``report.tuning`` says how many did.

    ``schedule_target`` (a check, not a deployment option) schedules the kernels as for
    another target: ``build(g, Target.parse("c"), "m.so", schedule_target=cuda)`` runs
    the CUDA schedules' loops on this CPU (bound loops serially), which tests them
    numerically without a GPU."""
    schedule_target = schedule_target or target
    from .artifact import spec_json, write_artifact
    from .board_artifact import write_board_folder

    board = is_board_build(target, output_path)
    if board and str(output_path).endswith(".so"):
        raise ValueError(f"{target} is not this machine's architecture: tc writes a folder of "
                         f"sources and an object for it; give a folder as the output, not "
                         f"{output_path!r}")

    report = BuildReport()
    dump_dir = dump_dir or os.environ.get("TC_DUMP_IR") or None
    t0 = time.perf_counter()
    graph, report.passes = run_passes(graph, default_pipeline(schedule_target),
                                      dump_dir=dump_dir)
    report.seconds["passes"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    groups = partition(graph)
    report.seconds["fuse"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    storage = assign_storage(graph, groups, external_values(graph))
    report.seconds["plan_memory"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    applied, configs = None, {}
    if tuning_log is not None:
        from ..autotune.apply import AppliedLog

        applied = AppliedLog(tuning_log, target)
        graph, groups, storage, configs = _apply_log(applied, graph, groups, storage)
    if dump_dir:
        _dump_groups(dump_dir, len(report.passes) + 1, groups, storage)
    funcs, calls = [], []
    by_key: dict[str, str] = {}
    for i, group in enumerate(groups):
        if i in storage.elided:
            continue
        func, flops = _lower_tuned(group, graph, schedule_target, f"tc_k{i}_{group.name}"[:60],
                                   applied, configs.get(i))
        key = _func_key(func)
        if key not in by_key:
            by_key[key] = func.name
            funcs.append(func)
        calls.append((group, by_key[key], flops))
    report.seconds["lower"] = time.perf_counter() - t0
    if applied is not None:
        report.tuning, report.untuned = applied.summary(), applied.untuned

    t0 = time.perf_counter()
    c_source = cuda_source = None
    if target.kind == "c" and funcs:
        from ..targets.c import emit_c

        c_source = emit_c(funcs, target)
    elif target.kind == "cuda" and funcs:
        from ..targets.cuda import emit_cuda

        cuda_source = emit_cuda(funcs, target)
    if board:
        kernels = board_kernels(funcs, target, c_source)
    elif target.kind != "cuda":  # CUDA kernels are compiled with the artifact, by nvcc
        # a graph whose outputs are all inputs or constants needs no kernel, only copies
        object_code = compile_kernels(funcs, target, c_source) if funcs else b""
    report.seconds["codegen"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    source = c_source or cuda_source
    scratch = dict(source.scratch_bytes) if source is not None else {}
    plan = make_execution_plan(graph, calls, storage, target, scratch)
    report.memory = storage.memory
    report.constant_bytes = len(plan.constants)
    report.workspace_bytes = plan.workspace_bytes
    report.target = str(target)
    report.inputs = [spec_json(s) for s in plan.inputs]
    report.outputs = [spec_json(s) for s in plan.outputs]
    report.kernels, report.unique_kernels = len(calls), len(funcs)
    if board:
        write_board_folder(output_path, kernels, plan, str(target))
        report.seconds["write"] = time.perf_counter() - t0
    elif target.kind == "cuda":
        from .cuda_artifact import write_cuda_artifact

        write_cuda_artifact(output_path, cuda_source, plan, target)
        report.seconds["link"] = time.perf_counter() - t0
    else:
        write_artifact(output_path, object_code, plan)
        report.seconds["link"] = time.perf_counter() - t0
    return report


def board_kernels(funcs: list, target, c_source=None):
    """The kernels of a board folder: ``c_source`` for the "c" target, else an LLVM
    object for the target's triple (which may call the runtime's thread pool)."""
    from .board_artifact import BoardKernels

    if target.kind == "c":
        return BoardKernels(c_source=c_source.source if c_source else "",
                            libm_calls=c_source.libm_calls if c_source else ())
    from ..targets.llvm import build_llvm

    return BoardKernels(object_code=build_llvm(funcs, target).object_code if funcs else None,
                        needs_threads=True)


def _apply_log(applied, graph: Graph, groups, storage):
    """Look up every kernel group's logged config; where one packs a conv's weights in
    another block (``autotune.packing``), repack them and partition again (the same
    groups: only a constant and an attribute change).  Returns the graph, groups and
    storage to build, and group index -> (workload key, config)."""
    from ..autotune.packing import chosen_blocks, repack_graph

    configs = {}
    for i, group in enumerate(groups):
        if i not in storage.elided and (found := applied.lookup(group)) is not None:
            configs[i] = found
    blocks = chosen_blocks(groups, configs)
    if not blocks:
        return graph, groups, storage, configs
    graph = repack_graph(graph, blocks)
    repartitioned = partition(graph)
    def ops(gs):
        return [[n.op for n in g.nodes] for g in gs]

    if ops(repartitioned) != ops(groups):
        raise AssertionError("repacking tuned conv weights changed the fused groups")
    return graph, repartitioned, assign_storage(graph, repartitioned,
                                                external_values(graph)), configs


def _lower_tuned(group: Group, graph: Graph, target, name: str, applied, found):
    """``lower_group`` with ``found`` = (workload key, logged config) of ``group``, if
    any: a config the template refuses falls back to the default schedule.  Its packing
    layout was applied to the graph already (``_apply_log``)."""
    from ..autotune.packing import split_config
    from .schedule.knobs import InvalidConfig

    if found is not None:
        key, config = found
        try:
            return lower_group(group, graph, target, name, config=split_config(config)[1])
        except InvalidConfig:
            applied.reject(key)
    return lower_group(group, graph, target, name)


def compile_kernels(funcs: list, target, c_source=None) -> bytes:
    """The kernels as a relocatable object for the host: ``c_source`` (the C code
    generator's output for the "c" target) compiled by the host's C compiler, else
    LLVM's."""
    if c_source is not None:
        from ..targets.c import compile_c_source

        return compile_c_source(c_source)
    from ..targets.llvm import build_llvm

    return build_llvm(funcs, target).object_code


def _dump_groups(dump_dir: str, index: int, groups: list[Group], storage: StorageAssignment) -> None:
    """Write the kernels (fused groups) with where each of their outputs lives."""
    from .graph.printer import print_node

    lines = []
    for i, g in enumerate(groups):
        state = "elided: a view" if i in storage.elided else "kernel"
        lines.append(f"group {i} ({state}) reads {', '.join(str(v) for v in g.inputs)}")
        lines.extend(print_node(n) for n in g.nodes)
        for v in g.outputs:
            root, inner = storage.location.get(v.name, (v.name, 0))
            where = (f"arena +{storage.offset(v.name)}" if root in storage.memory.offsets
                     else "outside the arena")
            via = f" (in %{root} +{inner})" if root != v.name else ""
            lines.append(f"  -> {v}: {where}{via}")
    m = storage.memory
    lines.append(f"arena {m.arena_bytes} bytes; lower bound {m.lower_bound}; naive {m.naive_bytes}")
    with open(os.path.join(dump_dir, f"{index:02d}_fuse_and_plan_memory.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def external_values(graph: Graph) -> set[str]:
    """Values that live outside the arena: graph inputs, graph outputs and constants."""
    return ({v.name for v in graph.inputs} | {v.name for v in graph.outputs}
            | set(graph.constants))


def make_execution_plan(graph: Graph, calls: list[tuple[Group, str, int]],
                        storage: StorageAssignment, target,
                        scratch: dict[str, int] | None = None) -> P.ExecutionPlan:
    """Resolve every kernel argument to an input, output, arena slot or constant.

    ``scratch`` maps kernels that keep temporaries in the workspace to the bytes they
    need: each gets one more argument, a scratch region after the arena's tensors that
    all of them share (they run one after another), and the workspace grows by the
    largest."""
    input_pos = {v.name: i for i, v in enumerate(graph.inputs)}
    output_pos: dict[str, int] = {}
    for j, v in enumerate(graph.outputs):
        output_pos.setdefault(v.name, j)
    used_constants = {v.name: graph.constants[v.name] for g, _, _ in calls for v in g.inputs
                      if v.name in graph.constants}
    used_constants.update({v.name: graph.constants[v.name] for v in graph.outputs
                           if v.name in graph.constants})
    blob, const_offsets = P.pack_constants(used_constants)

    def ref(v: Value) -> P.TensorRef:
        if v.name in input_pos:
            return P.TensorRef(P.INPUT, input_pos[v.name])
        if v.name in const_offsets:
            return P.TensorRef(P.CONSTANT, const_offsets[v.name])
        if v.name in output_pos:
            return P.TensorRef(P.OUTPUT, output_pos[v.name])
        return P.TensorRef(P.WORKSPACE, storage.offset(v.name))

    scratch = scratch or {}
    scratch_at = -(-storage.memory.arena_bytes // 64) * 64
    scratch_ref = (P.TensorRef(P.WORKSPACE, scratch_at),)
    steps: list = [P.KernelCall(name, tuple(ref(v) for v in g.inputs + g.outputs)
                                + (scratch_ref if name in scratch else ()),
                                group_label(g), flops)
                   for g, name, flops in calls]
    # outputs not written by a kernel: graph inputs, constants, or an output listed twice
    for j, v in enumerate(graph.outputs):
        if output_pos[v.name] != j or v.name in input_pos or v.name in const_offsets:
            steps.append(P.Copy(ref(v), P.TensorRef(P.OUTPUT, j), v.type.nbytes))

    return P.ExecutionPlan(
        inputs=tuple(P.TensorSpec(v.name, v.type.shape, v.type.dtype) for v in graph.inputs),
        outputs=tuple(P.TensorSpec(v.name, v.type.shape, v.type.dtype) for v in graph.outputs),
        steps=tuple(steps),
        workspace_bytes=(scratch_at + max(scratch.values()) if scratch
                         else storage.memory.arena_bytes),
        constants=blob,
        metadata={"target": str(target), "tc_version": __version__, "graph": graph.name},
    )
