"""Features of a lowered kernel for the tuning cost model (Ansor/AutoTVM style).

``loop_features(func)`` reads the loop IR of a candidate (not its knob values, so that a
model trained on one workload says something about another) and returns a fixed-length
float32 vector.  Every Store is a *statement* with its loop nest (outermost first); per
statement:

- loops: trip count, depth, per kind (serial, parallel, vectorized, unrolled, bound to a
  GPU block axis, bound to a GPU thread axis) the number of loops and the product of
  their extents, the innermost loop's kind and extent, the vector width used (also
  relative to the target's lanes), the parallel loop's extent and the iterations of one
  parallel task (on a GPU: of one thread);
- compute: arithmetic nodes of the stored value per iteration by class, index
  arithmetic (integer division and modulo apart), FLOPs over the whole nest;
- memory, per access (the store's buffer, then the three loads that touch the most
  bytes): buffer size and scope (local, GPU shared), the innermost loop's stride
  (broadcast / contiguous / strided), the bytes touched by the innermost 1..4 loops, by
  one parallel task, by ``WINDOW`` consecutive iterations of the parallel loop (on a GPU:
  by one thread, and by one thread block) and by the whole nest, cache
  lines, reuse (iterations per distinct element), Ansor's reuse distance (the innermost
  loop the index does not depend on: its extent, and the iterations and bytes between
  two uses) and the stride along the parallel loop (the outermost without one);
- their sums over accesses and the arithmetic intensity (FLOPs per byte touched).

The vector holds the three statements with the most FLOPs (then the most iterations),
padded with zeros, followed by sums over all statements and function-level counts
(loops, parallel extent, temporaries, GPU shared memory, barriers and thread
all-reduces).  Counts are scaled by ``log2(1 + x)``.

Distinct elements touched by a loop suffix are estimated from the index's affine form
(``_affine``): the span of the index over those loops, capped by the number of values
its terms take and by the buffer's size.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import ml_dtypes  # noqa: F401  (makes np.dtype("bfloat16"), ... resolve)
import numpy as np

from ..compiler.loops import ir as L
from ..compiler.loops.bounds import const_bound
from ..compiler.te import expr as E

CACHE_LINE = 64
TOP_STATEMENTS = 3
TOP_LOADS = 3
#: the loop suffixes whose bytes touched are features: the innermost 1..4 loops
INNER_LEVELS = (1, 2, 3, 4)
#: consecutive iterations of the outer (parallel) loop run on one thread one after the
#: other: what this many of them touch tells tile orders apart (weight blocks outermost:
#: neighbours share weights; spatial tiles outermost: they share input)
WINDOW = 8
#: the other levels, after INNER_LEVELS: one parallel task, a window of WINDOW outer
#: iterations, the whole nest
_TASK, _WINDOW, _NEST = len(INNER_LEVELS), len(INNER_LEVELS) + 1, len(INNER_LEVELS) + 2
KINDS = (L.SERIAL, L.PARALLEL, L.VECTORIZED, L.UNROLLED)
#: the loop classes counted per statement: KINDS, then loops bound to a GPU block axis
#: and to a GPU thread axis (``_loop_class``)
LOOP_CLASSES = KINDS + ("block", "thread")
_OP_CLASSES = {"+": "addsub", "-": "addsub", "*": "mul", "/": "div", "min": "minmax",
               "max": "minmax"}
OP_CLASSES = ("addsub", "mul", "div", "minmax", "call", "select", "bitwise", "cast")


# --- the layout --------------------------------------------------------------------

def _access_names() -> list[str]:
    names = ["present", "log_buffer_bytes", "is_local", "is_shared", "stride_broadcast",
             "stride_contiguous",
             "stride_strided", "log_stride", "strided_vector", "read_modify_write"]
    names += [f"log_bytes_inner{k}" for k in INNER_LEVELS]
    names += ["log_bytes_task", "log_bytes_window", "log_bytes_nest", "log_lines_task",
              "log_lines_window", "log_lines_nest", "log_reuse_task", "log_reuse_nest",
              "log_reuse_count", "log_reuse_dist_iters", "log_reuse_dist_bytes",
              "log_outer_stride"]
    return names


def _statement_names() -> list[str]:
    names = ["present", "log_trips", "depth", "guards"]
    for k in LOOP_CLASSES:
        names += [f"n_{k}", f"log_prod_{k}"]
    names += [f"innermost_{k}" for k in LOOP_CLASSES]
    names += ["log_innermost_extent", "log_vector_width", "vector_width_per_lanes",
              "log_parallel_extent", "parallel_depth", "log_task_trips"]
    names += [f"log_ops_{c}" for c in OP_CLASSES]
    names += ["log_flops_per_iter", "log_flops", "log_unrolled_flops", "log_index_divmod",
              "log_index_ops", "log_loads", "is_reduction"]
    names += [f"log_bytes_inner{k}" for k in INNER_LEVELS]
    names += ["log_bytes_task", "log_bytes_window", "log_bytes_nest", "log_lines_task",
              "log_lines_window", "log_lines_nest", "log_intensity_task", "log_intensity_nest",
              "log_intensity_lines", "task_bytes_per_l1", "task_bytes_per_l2"]
    slots = ["store"] + [f"load{i}" for i in range(TOP_LOADS)]
    return names + [f"{s}.{a}" for s in slots for a in _access_names()]


_TOTAL_NAMES = ["log_statements", "log_flops", "log_trips", "log_bytes", "log_lines",
                "log_intensity", "vectorized_trip_share", "parallel_trip_share",
                "vectorized_flop_share", "parallel_flop_share"]
_FUNC_NAMES = ["log_loops", "max_depth", "n_parallel_loops", "log_max_parallel_extent",
               "log_sum_parallel_extent", "n_allocates", "log_temp_bytes",
               "log_temp_bytes_in_loops", "log_param_bytes", "log_guards", "log_target_lanes",
               "log_shared_bytes", "n_barriers", "n_thread_allreduces"]
_STATEMENT_NAMES = _statement_names()
#: the name of every feature, in order (for debugging and feature-importance tables)
FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"stmt{i}.{n}" for i in range(TOP_STATEMENTS) for n in _STATEMENT_NAMES]
    + [f"total.{n}" for n in _TOTAL_NAMES] + [f"func.{n}" for n in _FUNC_NAMES])
FEATURE_LENGTH = len(FEATURE_NAMES)
_STATEMENT_LENGTH = len(_STATEMENT_NAMES)
_ACCESS_LENGTH = len(_access_names())


def _log(x: float) -> float:
    return math.log2(1.0 + max(float(x), 0.0))


# --- collecting statements ---------------------------------------------------------

@dataclass(frozen=True)
class _Loop:
    var: E.Var
    extent: int
    kind: str


@dataclass
class _Statement:
    store: L.Store
    loops: tuple[_Loop, ...]
    guards: int
    lets: dict


@dataclass
class _FuncStats:
    loops: int = 0
    max_depth: int = 0
    parallel_extents: list = field(default_factory=list)
    allocates: int = 0
    temp_bytes: int = 0
    temp_bytes_in_loops: int = 0
    guards: int = 0
    shared_bytes: int = 0
    barriers: int = 0
    allreduces: int = 0


def _collect(func: L.PrimFunc) -> tuple[list[_Statement], _FuncStats]:
    """Every Store with its enclosing loops, guards and let bindings; function counts."""
    stmts: list[_Statement] = []
    stats = _FuncStats()
    # (stmt, loops, guards, lets) on an explicit stack: nests may be deep
    stack = [(func.body, (), 0, {})]
    while stack:
        s, loops, guards, lets = stack.pop()
        if isinstance(s, L.Store):
            stmts.append(_Statement(s, loops, guards, lets))
        elif isinstance(s, L.For):
            ext = _const_extent(s.extent)
            stats.loops += 1
            stats.max_depth = max(stats.max_depth, len(loops) + 1)
            if s.kind == L.PARALLEL and not any(lp.kind == L.PARALLEL for lp in loops):
                stats.parallel_extents.append(ext)
            stack.append((s.body, loops + (_Loop(s.var, ext, s.kind),), guards, lets))
        elif isinstance(s, L.Seq):
            stack.extend((c, loops, guards, lets) for c in reversed(s.stmts))
        elif isinstance(s, L.IfThenElse):
            stats.guards += 1
            if s.else_case is not None:
                stack.append((s.else_case, loops, guards + 1, lets))
            stack.append((s.then_case, loops, guards + 1, lets))
        elif isinstance(s, L.LetStmt):
            inner = dict(lets)
            inner[s.var] = _affine(s.value, lets)
            stack.append((s.body, loops, guards, inner))
        elif isinstance(s, L.Barrier):
            stats.barriers += 1
        elif isinstance(s, L.ThreadAllReduce):
            stats.allreduces += 1
        elif isinstance(s, L.Allocate):
            stats.allocates += 1
            stats.temp_bytes += s.buffer.nbytes
            if s.buffer.scope == L.SHARED:
                stats.shared_bytes += s.buffer.nbytes
            if loops:
                stats.temp_bytes_in_loops += s.buffer.nbytes
            stack.append((s.body, loops, guards, lets))
    return stmts, stats


def _const_extent(extent: E.Expr) -> int:
    if isinstance(extent, E.Const):
        return max(int(extent.value), 0)
    hi = const_bound(extent, {})[1]
    return int(hi) if math.isfinite(hi) and hi > 0 else 1


# --- index analysis ----------------------------------------------------------------

class _Atom:
    """A non-affine term of an index over an affine ``form``: ``form % divisor`` (its
    value stays in [0, divisor)) or ``form // divisor`` (one step per ``divisor``)."""

    __slots__ = ("divisor", "form", "is_mod")

    def __init__(self, form: dict, divisor: int, is_mod: bool):
        self.form, self.divisor, self.is_mod = form, divisor, is_mod


def _affine(e: E.Expr, lets: dict) -> dict:
    """The index ``e`` as {Var or _Atom: coefficient} (constants dropped).

    Anything neither affine nor a ``%``/``//`` by a constant (min/max, products of
    variables, a loaded index) keeps each variable it reads with the largest
    coefficient seen."""
    if isinstance(e, E.Const):
        return {}
    if isinstance(e, E.Var):
        bound = lets.get(e)
        return dict(bound) if bound is not None else {e: 1.0}
    if isinstance(e, E.Cast):
        return _affine(e.value, lets)
    if isinstance(e, E.Binary):
        op = e.op
        if op in ("+", "-"):
            out = _affine(e.a, lets)
            sign = 1.0 if op == "+" else -1.0
            for k, c in _affine(e.b, lets).items():
                out[k] = out.get(k, 0.0) + sign * c
            return out
        cb = _int_const(e.b)
        if op == "*":
            ca = _int_const(e.a)
            if cb is not None:
                return {k: c * cb for k, c in _affine(e.a, lets).items()}
            if ca is not None:
                return {k: c * ca for k, c in _affine(e.b, lets).items()}
        elif op in ("//", "%") and cb is not None and cb > 0:
            inner = _affine(e.a, lets)
            return {_Atom(inner, cb, op == "%"): 1.0} if inner else {}
        elif op == "<<" and cb is not None:
            return {k: c * (1 << cb) for k, c in _affine(e.a, lets).items()}
    out: dict = {}
    for child in E.children(e):
        for k, c in _affine(child, lets).items():
            out[k] = max(out.get(k, 0.0), abs(c))
    return out


def _int_const(e: E.Expr):
    if isinstance(e, E.Const) and isinstance(e.value, int) and not isinstance(e.value, bool):
        return e.value
    return None


def _strides(form: dict, out: dict | None = None, scale: float = 1.0) -> dict:
    """{Var: |average stride|} of an index form (``x // d`` steps 1/d per x)."""
    out = {} if out is None else out
    for k, c in form.items():
        if isinstance(k, _Atom):
            _strides(k.form, out, scale * c if k.is_mod else scale * c / k.divisor)
        else:
            out[k] = out.get(k, 0.0) + abs(scale * c)
    return out


def _span(form: dict, extents: dict) -> float:
    """How far the index moves (max - min + 1) while the loops in ``extents`` (Var ->
    extent) run and every other variable stays fixed."""
    total = 1.0
    for k, c in form.items():
        if isinstance(k, _Atom):
            inner = _span(k.form, extents)
            moved = (min(inner, k.divisor) if k.is_mod else 1 + (inner - 1) / k.divisor) - 1
        else:
            moved = extents.get(k, 1) - 1
        total += abs(c) * moved
    return total


def _values(form: dict, extents: dict) -> float:
    """How many distinct values the index takes while the loops in ``extents`` run,
    counting its terms as independent (an overestimate when two share a variable)."""
    n = 1.0
    for k in form:
        if isinstance(k, _Atom):
            steps = k.divisor if k.is_mod else 1 + (_span(k.form, extents) - 1) / k.divisor
            n *= min(_values(k.form, extents), steps)
        else:
            n *= extents.get(k, 1)
    return n


# --- one access --------------------------------------------------------------------

@dataclass
class _Access:
    """One Store's or Load's buffer and index (its affine form and strides)."""

    buffer: L.Buffer
    form: dict
    rmw: bool = False

    def __post_init__(self):
        self.strides = _strides(self.form)
        self.itemsize = _itemsize(self.buffer.dtype)
        self.elements = math.prod(self.buffer.shape)
        self.nbytes = self.elements * self.itemsize


class _Nest:
    """A statement's loops with the suffix sets the features measure."""

    def __init__(self, loops: tuple[_Loop, ...]):
        self.loops = loops
        n = len(loops)
        par = next((i for i, lp in enumerate(loops) if lp.kind == L.PARALLEL), None)
        self.parallel = par
        self.outer = par if par is not None else 0  # the loop tasks (or the nest) split
        starts = [max(n - k, 0) for k in INNER_LEVELS] + [self.outer + 1, self.outer, 0]
        self.level_extents = [{lp.var: lp.extent for lp in loops[s:]} for s in starts]
        if loops:
            self.level_extents[_WINDOW][loops[self.outer].var] = min(loops[self.outer].extent,
                                                                     WINDOW)
        if any(lp.kind in L.GPU_AXES for lp in loops):
            # a GPU nest: a "task" is one thread's loops, the "window" one block's
            self.level_extents[_TASK] = {lp.var: lp.extent for lp in loops
                                         if lp.kind not in L.GPU_AXES}
            self.level_extents[_WINDOW] = {lp.var: lp.extent for lp in loops
                                           if lp.kind not in L.BLOCK_AXES}
        self.level_trips = [math.prod(ext.values()) for ext in self.level_extents]
        self.trips = self.level_trips[_NEST]


def _distinct(acc: _Access, extents: dict) -> float:
    """Distinct elements ``acc`` touches while the loops in ``extents`` run."""
    return max(min(_span(acc.form, extents), _values(acc.form, extents), acc.elements), 1.0)


def _lines(acc: _Access, distinct: float, extents: dict) -> float:
    """Cache lines behind ``distinct`` elements.  The running loop of smallest stride,
    extended by each next loop that continues it contiguously, makes a run of
    elements; a run shorter than a line still costs a line."""
    moving = sorted((s, extents[v]) for v, s in acc.strides.items()
                    if s > 0 and extents.get(v, 1) > 1)
    if not moving:
        return 1.0
    step = moving[0][0]
    run = 1 + sum(ext - 1 for s, ext in moving if s == step)  # equal strides overlap
    for s, ext in moving:
        if s > step:
            if s != step * run:
                break
            run *= ext
    lines = distinct * min(1.0, max(1.0 / run, max(step, 1.0) * acc.itemsize / CACHE_LINE))
    return max(min(lines, acc.nbytes / CACHE_LINE), 1.0)


@functools.cache
def _itemsize(dtype: str) -> int:
    try:
        return np.dtype(dtype).itemsize
    except TypeError:  # a format neither numpy nor ml_dtypes knows: assume a byte
        return 1


def _access_features(acc: _Access, nest: _Nest) -> tuple[list[float], list[float], list[float]]:
    """(the access's feature slot, its bytes per level, its lines per level)."""
    loops = nest.loops
    size = acc.itemsize
    inner = loops[-1] if loops else None
    stride = acc.strides.get(inner.var, 0.0) if inner is not None else 0.0
    distinct = [_distinct(acc, ext) for ext in nest.level_extents]
    nbytes = [d * size for d in distinct]
    lines = [_lines(acc, d, ext) for d, ext in zip(distinct, nest.level_extents)]
    # reuse distance: the innermost loop (of extent > 1) the index does not depend on
    count = dist_iters = dist_bytes = 0.0
    for i in range(len(loops) - 1, -1, -1):
        lp = loops[i]
        if lp.extent > 1 and acc.strides.get(lp.var, 0.0) == 0.0:
            below = {x.var: x.extent for x in loops[i + 1:]}
            count = lp.extent
            dist_iters = math.prod(x.extent for x in loops[i + 1:])
            dist_bytes = _distinct(acc, below) * size
            break
    vector = inner is not None and inner.kind == L.VECTORIZED
    f = [1.0, _log(acc.nbytes), float(acc.buffer.scope == L.LOCAL),
         float(acc.buffer.scope == L.SHARED),
         float(stride == 0), float(stride == 1), float(stride not in (0, 1)), _log(stride),
         float(vector and stride not in (0, 1)), float(acc.rmw)]
    f += [_log(b) for b in nbytes]
    trips = nest.level_trips
    outer_stride = acc.strides.get(loops[nest.outer].var, 0.0) if loops else 0.0
    f += [_log(lines[_TASK]), _log(lines[_WINDOW]), _log(lines[_NEST]),
          _log(trips[_TASK] / distinct[_TASK]), _log(trips[_NEST] / distinct[_NEST]),
          _log(count), _log(dist_iters), _log(dist_bytes), _log(outer_stride)]
    return f, nbytes, lines


# --- one statement -----------------------------------------------------------------

def _value_ops(e: E.Expr, ops: dict, loads: list, index_ops: list) -> None:
    """Count the arithmetic of a stored value by class into ``ops``; collect its Loads."""
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, L.Load):
            loads.append(n)
            _index_ops(n.index, index_ops)
            continue
        if isinstance(n, E.Binary):
            cls = _OP_CLASSES.get(n.op, "bitwise" if n.op in ("&", "|", "^", "<<", ">>")
                                  else "div")
            ops[cls] += 1
            stack.append(n.a)
            stack.append(n.b)
        elif isinstance(n, E.Call):
            ops["call"] += 1
            stack.extend(n.args)
        elif isinstance(n, E.Select):
            ops["select"] += 1
            stack.extend((n.cond, n.true_value, n.false_value))
        elif isinstance(n, (E.Cast, E.Reinterpret)):
            ops["cast"] += 1
            stack.append(n.value)
        elif not isinstance(n, (E.Const, E.Var)):
            stack.extend(E.children(n))


def _index_ops(e: E.Expr, counts: list) -> None:
    """Add the index's (integer division or modulo, other arithmetic) node counts."""
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, E.Binary):
            counts[0 if n.op in ("//", "%") else 1] += 1
            stack.append(n.a)
            stack.append(n.b)
        elif not isinstance(n, (E.Const, E.Var)):
            stack.extend(E.children(n))


@dataclass
class _StatementFeatures:
    vector: list
    flops: float
    trips: float
    bytes_nest: float
    lines_nest: float
    vectorized: bool
    parallel: bool


def _statement_features(st: _Statement, machine: tuple[int, int, int]) -> _StatementFeatures:
    """The features of one statement (``_statement_names`` order) and its totals."""
    lanes, l1, l2 = machine
    nest = _Nest(st.loops)
    store = st.store
    ops = dict.fromkeys(OP_CLASSES, 0)
    loads: list[L.Load] = []
    index_ops = [0, 0]
    _index_ops(store.index, index_ops)
    _value_ops(store.value, ops, loads, index_ops)
    flops_per_iter = sum(ops[c] for c in OP_CLASSES if c != "cast")
    flops = flops_per_iter * nest.trips

    store_acc = _Access(store.buffer, _affine(store.index, st.lets))
    loaded = []
    for ld in loads:
        if ld.buffer is store.buffer and ld.index == store.index:
            store_acc.rmw = True  # the accumulator of a reduction
        else:
            loaded.append(_Access(ld.buffer, _affine(ld.index, st.lets)))
    slots = [_access_features(a, nest) for a in [store_acc] + loaded]
    bytes_at = [sum(s[1][j] for s in slots) for j in range(len(nest.level_extents))]
    lines_at = [sum(s[2][j] for s in slots) for j in (_TASK, _WINDOW, _NEST)]
    task_trips = nest.level_trips[_TASK]
    unrolled = math.prod(lp.extent for lp in st.loops if lp.kind in (L.UNROLLED, L.VECTORIZED))

    f = _loop_part(nest, st.guards, lanes)
    f += [_log(ops[c]) for c in OP_CLASSES]
    f += [_log(flops_per_iter), _log(flops), _log(flops_per_iter * unrolled),
          _log(index_ops[0]), _log(index_ops[1]), _log(len(loads)), float(store_acc.rmw)]
    f += [_log(b) for b in bytes_at]
    f += [_log(x) for x in lines_at]
    f += [_log(flops_per_iter * task_trips / bytes_at[_TASK]),
          _log(flops / bytes_at[_NEST]), _log(flops / (lines_at[-1] * CACHE_LINE)),
          _log(bytes_at[_TASK] / l1), _log(bytes_at[_TASK] / l2)]
    f += slots[0][0]
    # the loads that touch the most bytes over the whole nest (then the largest buffers)
    ranked = sorted(range(len(loaded)), key=lambda i: (-slots[i + 1][1][_NEST], -loaded[i].nbytes))
    for i in ranked[:TOP_LOADS]:
        f += slots[i + 1][0]
    f += [0.0] * (_ACCESS_LENGTH * (TOP_LOADS - min(len(loaded), TOP_LOADS)))
    assert len(f) == _STATEMENT_LENGTH
    inner = st.loops[-1] if st.loops else None
    return _StatementFeatures(f, flops, nest.trips, bytes_at[_NEST], lines_at[-1],
                              inner is not None and inner.kind == L.VECTORIZED,
                              nest.parallel is not None)


def _loop_part(nest: _Nest, guards: int, lanes: int) -> list[float]:
    """The loop-structure features of a statement (``present`` .. ``log_task_trips``)."""
    loops = nest.loops
    inner = loops[-1] if loops else None
    vec = next((lp.extent for lp in reversed(loops) if lp.kind == L.VECTORIZED), 1)
    par = nest.parallel
    f = [1.0, _log(nest.trips), float(len(loops)), float(guards)]
    for k in LOOP_CLASSES:
        of_kind = [lp.extent for lp in loops if _loop_class(lp.kind) == k]
        f += [float(len(of_kind)), _log(math.prod(of_kind))]
    f += [float(inner is not None and _loop_class(inner.kind) == k) for k in LOOP_CLASSES]
    f += [_log(inner.extent if inner else 1), _log(vec), vec / lanes,
          _log(loops[par].extent if par is not None else 0),
          float(par + 1 if par is not None else 0), _log(nest.level_trips[_TASK])]
    return f


def _loop_class(kind: str) -> str:
    """A loop kind's class in LOOP_CLASSES: the kind itself, "block" or "thread"."""
    if kind in L.BLOCK_AXES:
        return "block"
    return "thread" if kind in L.THREAD_AXES else kind


# --- the vector --------------------------------------------------------------------

@functools.lru_cache(maxsize=16)
def _machine(target) -> tuple[int, int, int]:
    """(float32 lanes, L1 bytes, L2 bytes) of ``target`` (None: the host)."""
    from ..targets.target import Target

    t = Target.parse(target if target is not None else "llvm")
    return t.vector_width("float32"), t.cache_bytes(1), t.cache_bytes(2)


def loop_features(func: L.PrimFunc, target=None) -> np.ndarray:
    """The feature vector of ``func`` (float32, ``FEATURE_LENGTH`` long; names in
    ``FEATURE_NAMES``).  ``target`` (a Target or its string; None: the host) gives the
    lanes and cache sizes that some features are relative to."""
    machine = _machine(str(target) if target is not None else None)
    statements, stats = _collect(func)
    per = [_statement_features(st, machine) for st in statements]
    top = sorted(range(len(per)), key=lambda i: (-per[i].flops, -per[i].trips, i))
    out: list[float] = []
    for i in top[:TOP_STATEMENTS]:
        out += per[i].vector
    out += [0.0] * (TOP_STATEMENTS * _STATEMENT_LENGTH - len(out))

    flops = sum(p.flops for p in per)
    trips = sum(p.trips for p in per)
    nbytes = sum(p.bytes_nest for p in per)
    out += [_log(len(per)), _log(flops), _log(trips), _log(nbytes),
            _log(sum(p.lines_nest for p in per)), _log(flops / nbytes) if nbytes else 0.0,
            _share(per, "trips", "vectorized"), _share(per, "trips", "parallel"),
            _share(per, "flops", "vectorized"), _share(per, "flops", "parallel")]
    par = stats.parallel_extents
    out += [_log(stats.loops), float(stats.max_depth), float(len(par)),
            _log(max(par, default=0)), _log(sum(par)), float(stats.allocates),
            _log(stats.temp_bytes), _log(stats.temp_bytes_in_loops),
            _log(sum(b.nbytes for b in func.params)), _log(stats.guards), _log(machine[0]),
            _log(stats.shared_bytes), float(stats.barriers), float(stats.allreduces)]
    return np.asarray(out, dtype=np.float32)


def _share(per: list[_StatementFeatures], weight: str, flag: str) -> float:
    total = sum(getattr(p, weight) for p in per)
    if not total:
        return 0.0
    return sum(getattr(p, weight) for p in per if getattr(p, flag)) / total
