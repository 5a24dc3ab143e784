"""ONNX control flow whose structure is known at compile time, inlined into the graph.

tc's graphs are static, so control flow compiles when its shape is fixed before run time:

- ``If``: the condition must be a compile-time constant; the branch taken is inlined.
- ``Loop``: the trip count and the condition after every iteration must be compile-time
  constants; the body is unrolled once per iteration (at most ``MAX_UNROLL``), loop-carried
  values threaded through and scan outputs stacked along a new first axis.
- ``Scan`` (opset 8 and 9+): the number of iterations is a scan input's length; the body
  is unrolled per element along the scan axes (either direction).

Each inlined copy of a body gets its own value names (``<output>__<op><i>_<name>``); names a
body reads from the enclosing graph are used as they are.  A condition or trip count that
depends on a graph input raises ``NotConstantError`` naming it (the ONNX backend then binds
that input's value).  Nested bodies (an If inside a Loop) are inlined in turn; the names
they read from an enclosing body are resolved to that body's current copy.
"""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from .convert_shape import slice_attrs
from .function_body import renamed_node
from .importer import CONVERTERS, FrontendError, attribute_values, converter

#: iterations a Loop may be unrolled to before tc refuses (each one copies the body)
MAX_UNROLL = 1024


def inline_graph(cv, graph, inputs: list[str], prefix: str) -> list[str]:
    """Convert body ``graph`` with its formal inputs bound to the ONNX names ``inputs``;
    returns the names (in ``cv.values``) of the body's outputs."""
    if len(inputs) != len(graph.input):
        raise FrontendError(f"subgraph {graph.name!r} takes {len(graph.input)} inputs, "
                            f"given {len(inputs)}")
    local = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    local |= {o for n in graph.node for o in n.output if o}

    def rename(name: str) -> str:
        return prefix + name if name in local else name

    for formal, actual in zip(graph.input, inputs):
        cv.values[rename(formal.name)] = cv.value(actual)
    for init in graph.initializer:
        cv.constant(numpy_helper.to_array(init), rename(init.name))
    for inner in graph.node:
        node = renamed_node(inner, rename, {}, keep_subgraphs=True)
        for name in _free_names(node) & local:
            # a nested body reads this body's value by its un-renamed name
            cv.values[name] = cv.value(rename(name))
        CONVERTERS[node.op_type](cv, node, attribute_values(node))
    return [rename(o.name) for o in graph.output]


def _free_names(node) -> set[str]:
    """Names the subgraphs of ``node`` read from enclosing scopes."""
    free: set[str] = set()
    for attr in node.attribute:
        for graph in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
            defined |= {o for n in graph.node for o in n.output}
            for inner in graph.node:
                free |= {i for i in inner.input if i and i not in defined}
                free |= _free_names(inner) - defined
    return free


def _prefix(node, kind: str, index: int) -> str:
    return f"{next((o for o in node.output if o), node.name or kind)}__{kind}{index}_"


def _bind_outputs(cv, node, names: list[str]) -> None:
    """Make ``node``'s outputs the values named ``names`` (graph outputs keep their names)."""
    for out, name in zip(node.output, names):
        if out:
            cv.emit("Identity", [cv.value(name)], {}, node, [out])


def _stack(cv, node, names: list[str], axis: int, out: str) -> str:
    """The values ``names`` (one shape) stacked along a new ``axis``; returns its name."""
    parts = []
    for i, name in enumerate(names):
        v = cv.value(name)
        shape = list(v.type.shape)
        shape.insert(axis, 1)
        part, = cv.emit("Reshape", [v], {"shape": tuple(shape)}, node, [f"{out}__part{i}"])
        parts.append(part)
    if len(parts) == 1:
        cv.values[out] = parts[0]
    else:
        cv.emit("Concat", parts, {"axis": axis}, node, [out])
    return out


def _scalar(cv, name: str, what: str):
    return np.asarray(cv.const_array(name, what)).reshape(-1)[0].item()


@converter("If")
def _if(cv, node, attrs):
    cond = _scalar(cv, node.input[0], "If's condition (tc inlines the branch it takes)")
    branch = attrs["then_branch"] if cond else attrs["else_branch"]
    _bind_outputs(cv, node, inline_graph(cv, branch, [], _prefix(node, "if", 0)))


@converter("Loop")
def _loop(cv, node, attrs):
    body = attrs["body"]
    given = [i < len(node.input) and bool(node.input[i]) for i in (0, 1)]
    if not any(given):
        raise FrontendError(f"Loop {node.name!r} has neither a trip count nor a condition: "
                            f"it never ends")
    trips = int(_scalar(cv, node.input[0], "Loop's trip count M (tc unrolls the loop)")) \
        if given[0] else None
    cond = bool(_scalar(cv, node.input[1], "Loop's initial condition (tc unrolls the loop)")) \
        if given[1] else True
    carried = list(node.input[2:])
    n_scan = len(body.output) - 1 - len(carried)
    scans: list[list[str]] = [[] for _ in range(n_scan)]
    it = 0
    while cond and (trips is None or it < trips):
        if it == MAX_UNROLL:
            raise FrontendError(f"Loop {node.name!r} runs more than {MAX_UNROLL} iterations; tc "
                                f"unrolls loops and stops there")
        prefix = _prefix(node, "loop", it)
        cv.constant(np.array(it, np.int64), prefix + "iteration")
        cv.constant(np.array(cond), prefix + "condition")
        outs = inline_graph(cv, body, [prefix + "iteration", prefix + "condition"] + carried,
                            prefix)
        cond = bool(_scalar(cv, outs[0], "Loop's condition after an iteration (tc unrolls "
                                         "the loop)"))
        carried = outs[1:1 + len(carried)]
        for k, name in enumerate(outs[1 + len(carried):]):
            scans[k].append(name)
        it += 1
    if it == 0 and n_scan:
        raise FrontendError(f"Loop {node.name!r} runs no iteration, so its scan outputs have "
                            f"no shape tc can give them")
    stacked = [_stack(cv, node, names, 0, f"{_prefix(node, 'loop', 0)}scan{k}")
               for k, names in enumerate(scans)]
    _bind_outputs(cv, node, carried + stacked)


@converter("Scan")
def _scan(cv, node, attrs):
    if cv.opset < 9:
        return _scan8(cv, node, attrs)
    n_scan = int(attrs["num_scan_inputs"])
    states, xs = list(node.input[:len(node.input) - n_scan]), list(node.input[-n_scan:])
    _bind_outputs(cv, node, _unroll_scan(cv, node, attrs, states, xs, "scan"))


def _unroll_scan(cv, node, attrs, states: list[str], xs: list[str], tag: str) -> list[str]:
    """Scan-9 semantics over ONNX names: the final states then the stacked scan outputs."""
    body = attrs["body"]
    n_scan = len(xs)
    in_axes = list(attrs.get("scan_input_axes", [0] * n_scan))
    in_dirs = list(attrs.get("scan_input_directions", [0] * n_scan))
    n_out = len(body.output) - len(states)
    out_axes = list(attrs.get("scan_output_axes", [0] * n_out))
    out_dirs = list(attrs.get("scan_output_directions", [0] * n_out))
    shapes = [cv.value(x).type.shape for x in xs]
    in_axes = [a + len(s) if a < 0 else a for a, s in zip(in_axes, shapes)]
    lengths = {s[a] for s, a in zip(shapes, in_axes)}
    if len(lengths) != 1:
        raise FrontendError(f"Scan {node.name!r}: scan inputs have different lengths {lengths}")
    steps = lengths.pop()
    outputs: list[list[str]] = [[] for _ in range(n_out)]
    for t in range(steps):
        prefix = _prefix(node, tag, t)
        elems = []
        for j, (x, shape, axis) in enumerate(zip(xs, shapes, in_axes)):
            i = steps - 1 - t if in_dirs[j] else t
            part, = cv.emit("Slice", [cv.value(x)], slice_attrs(shape, [i], [i + 1], [axis]),
                            node, [f"{prefix}x{j}_slice"])
            squeezed = tuple(d for k, d in enumerate(shape) if k != axis)
            cv.emit("Reshape", [part], {"shape": squeezed}, node, [f"{prefix}x{j}"])
            elems.append(f"{prefix}x{j}")
        outs = inline_graph(cv, body, states + elems, prefix)
        states = outs[:len(states)]
        for k, name in enumerate(outs[len(states):]):
            outputs[k].append(name)
    if steps == 0 and n_out:
        raise FrontendError(f"Scan {node.name!r} has empty scan inputs, so its scan outputs "
                            f"have no shape tc can give them")
    stacked = []
    for k, names in enumerate(outputs):
        rank = len(cv.value(names[0]).type.shape) + 1
        axis = out_axes[k] + rank if out_axes[k] < 0 else out_axes[k]
        ordered = names[::-1] if out_dirs[k] else names
        stacked.append(_stack(cv, node, ordered, axis, f"{_prefix(node, tag, 0)}out{k}"))
    return states + stacked


def _scan8(cv, node, attrs):
    """Scan-8: a leading batch axis on every state and scan input (scan axis 1 by default),
    and an optional sequence_lens that tc supports only when it is the full length."""
    n_scan = int(attrs["num_scan_inputs"])
    names = list(node.input[1:])
    states, xs = names[:len(names) - n_scan], names[-n_scan:]
    batch = cv.value(xs[0]).type.shape[0]
    if node.input[0]:
        lens = np.asarray(cv.const_array(node.input[0], "Scan-8's sequence_lens"))
        full = cv.value(xs[0]).type.shape[1]
        if np.any(lens != full):
            raise FrontendError(f"Scan {node.name!r}: sequence_lens {lens.tolist()} shorter than "
                                f"the scan length {full} are not supported")
    per_batch = dict(attrs, scan_input_directions=attrs.get("directions", [0] * n_scan))
    results: list[list[str]] = []
    for b in range(batch):
        rows = [_batch_row(cv, node, name, b, j) for j, name in enumerate(states + xs)]
        results.append(_unroll_scan(cv, node, per_batch, rows[:len(states)], rows[len(states):],
                                    f"scan{b}_"))
    stacked = [_stack(cv, node, [r[k] for r in results], 0, f"{_prefix(node, 'scan', 0)}b{k}")
               for k in range(len(results[0]))]
    _bind_outputs(cv, node, stacked)


def _batch_row(cv, node, name: str, b: int, j: int) -> str:
    """Row ``b`` of value ``name`` without its batch axis; returns the row's name."""
    v = cv.value(name)
    out = f"{_prefix(node, 'scanbatch', b)}{j}"
    part, = cv.emit("Slice", [v], slice_attrs(v.type.shape, [b], [b + 1], [0]), node,
                    [f"{out}_slice"])
    cv.emit("Reshape", [part], {"shape": v.type.shape[1:]}, node, [out])
    return out
