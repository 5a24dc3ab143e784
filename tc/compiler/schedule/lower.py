"""Lowering a scheduled TE program into a loop-IR ``PrimFunc``.

- Each tensor in ``args`` becomes a global parameter buffer; every other stage that is
  not inlined gets a local buffer: the whole tensor for a root stage (allocated around
  the function body), or just the region one consumer iteration needs for a stage
  placed with ``compute_at`` (allocated inside that consumer loop, indexed relative to
  the region's start).  Stages computed at the same loop may read each other (a row's
  max feeding its exp-sum): a region then covers what those later stages read too.
- Inlined stages are substituted into their readers.
- A reduction stores its init value, then accumulates (TVM style).  The init sits just
  outside the outermost reduce loop; spatial loops placed inside a reduce loop get a
  separate init loop nest there.
- A split that does not divide its axis makes the loops cover a little more; the
  overshoot is cut by an ``IfThenElse`` guard placed right inside the innermost loop it
  depends on (the simplifier drops guards the loop ranges prove true).  A vectorized
  loop whose body holds such a guard is split by ``partition_vector_guards`` into an
  unguarded vector loop for full vectors and a serial, guarded loop for the tail.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..loops import ir as L
from ..loops.bounds import const_bound, symbolic_bound
from ..loops.simplify import simplify, simplify_expr
from ..loops.vector_tail import partition_vector_guards
from ..te import expr as E
from ..te.tensor import IterVar, Tensor
from .inline import effective_reads, inline_expand
from .schedule import Schedule, ScheduleError, Split, Stage


def lower(sch: Schedule, args: list[Tensor], name: str) -> L.PrimFunc:
    """Lower ``sch`` to a PrimFunc named ``name`` whose params are ``args`` (inputs then
    outputs, in that order), each a global buffer of the tensor's name, shape and dtype."""
    body, params = _Lowering(sch, list(args)).run()
    func = L.PrimFunc(name, tuple(params), body)
    func = simplify(func)
    return simplify(L.PrimFunc(func.name, func.params, partition_vector_guards(func.body)))


@dataclass
class _Storage:
    buffer: L.Buffer
    starts: tuple[E.Expr, ...] | None  # region origin of a compute_at buffer


@dataclass
class _Guard:
    cond: E.Expr
    vars: frozenset  # ids of the leaf Vars it reads
    spatial: bool


def _flat(indices, shape) -> E.Expr:
    out: E.Expr = E.const(0)
    stride = 1
    for idx, dim in reversed(list(zip(indices, shape))):
        out = idx * stride + out if stride != 1 else idx + out
        stride *= dim
    return out


def _has_barrier(stmts) -> bool:
    return any(isinstance(n, L.Barrier) for s in stmts for n in E.walk(s))


def _combine(combiner: str, acc: E.Expr, value: E.Expr) -> E.Expr:
    if combiner == "sum":
        return acc + value
    if combiner == "prod":
        return acc * value
    return E.binary(combiner, acc, value)


class _Lowering:
    def __init__(self, sch: Schedule, args: list[Tensor]):
        self.sch = sch
        self.args = args
        self.storage: dict[int, _Storage] = {}
        self.ranges: dict = {}  # every loop var emitted -> (0, extent - 1)
        self._inlined: dict[int, E.Expr] = {}
        self._used_names: set[str] = {t.name for t in args}
        #: loop vars bound to thread axes around the stage being emitted (a shared copy
        #: computed inside covers what all of those threads read)
        self._enclosing_threads: list[E.Var] = []
        self._check()

    # --- validation ---------------------------------------------------------------

    def _check(self) -> None:
        arg_ids = {id(t) for t in self.args}
        if len(arg_ids) != len(self.args):
            raise ScheduleError("lower: a tensor appears twice in args")
        for out in self.sch.outputs:
            if id(out) not in arg_ids:
                raise ScheduleError(f"lower: output {out.name} must be in args")
        for t in self.args:
            st = self.sch.stage_of(t)
            if st is not None and st.attach != "root":
                raise ScheduleError(f"lower: {t.name} is a parameter, so it must be computed "
                                    f"at root, not {st.attach}")
        readers: dict[int, list[Stage]] = {}
        for st in self._live_stages():
            for t in self._reads(st):
                readers.setdefault(id(t), []).append(st)
        for st in self._live_stages():
            if st.attach != "at":
                continue
            parent = st.attach_stage
            if parent.attach == "inline":
                raise ScheduleError(f"lower: {st.name} is computed at {parent.name}, "
                                    f"which is inlined; attach it to {parent.name}'s reader instead")
            rs = readers.get(id(st.tensor), [])
            others = [r.name for r in rs if r is not parent and not self._co_reader(st, r)]
            if others:
                raise ScheduleError(f"lower: {st.name} is computed at {parent.name} but also read "
                                    f"by {others}; compute it at root, or compute those "
                                    f"readers at the same loop of {parent.name}")

    def _co_reader(self, st: Stage, reader: Stage) -> bool:
        """Whether ``reader`` is computed at the same loop as ``st``, after it (a row's
        statistics feeding each other inside one row loop): the region of ``st`` then
        covers what ``reader`` reads too (``attached_to``)."""
        stages = self.sch.stages
        return (reader.attach == "at" and reader.attach_stage is st.attach_stage
                and reader.attach_axis is st.attach_axis
                and stages.index(reader) > stages.index(st))

    def _live_stages(self) -> list[Stage]:
        return [s for s in self.sch.stages if s.attach != "inline"]

    def _reads(self, st: Stage) -> list[Tensor]:
        return effective_reads(self.sch, st, self._inlined)

    def inlined_body(self, st: Stage) -> E.Expr:
        return inline_expand(self.sch, st, self._inlined)

    # --- driver -------------------------------------------------------------------

    def run(self) -> tuple[L.Stmt, list[L.Buffer]]:
        params = []
        for t in self.args:
            buf = L.Buffer(t.name, tuple(t.shape), t.dtype, "global")
            self.storage[id(t)] = _Storage(buf, None)
            params.append(buf)
        local = []
        for st in self._live_stages():
            if st.attach == "root" and st.scope is not None:
                raise ScheduleError(f"lower: {st.name} is a {st.scope} copy computed at root; "
                                    f"compute_at it inside a loop of the stage that reads it")
            if st.attach == "root" and id(st.tensor) not in self.storage:
                buf = L.Buffer(st.name, tuple(st.tensor.shape), st.tensor.dtype, "local")
                self.storage[id(st.tensor)] = _Storage(buf, None)
                local.append(buf)
        stmts = [self.emit_stage(st, None) for st in self._live_stages() if st.attach == "root"]
        body: L.Stmt = L.Seq(tuple(stmts))
        for buf in reversed(local):
            body = L.Allocate(buf, body)
        return body, params

    # --- one stage ----------------------------------------------------------------

    def emit_stage(self, st: Stage, region) -> L.Stmt:
        """The loop nest of ``st``; ``region`` is None (whole tensor) or per spatial axis
        ``(start, extent, hi)`` with ``hi`` an inclusive bound to guard, or None."""
        if region is None and "pad_begin" in dict(st.op.attrs):
            return self.emit_constant_pad(st)
        op = st.op
        spatial = list(op.axes)
        extents: dict[int, int] = {}
        starts: dict[int, E.Expr] = {}
        his: dict[int, E.Expr | None] = {}
        for i, ax in enumerate(st.root_axes):
            if region is not None and i < len(spatial):
                starts[id(ax)], extents[id(ax)], his[id(ax)] = region[i]
            else:
                starts[id(ax)], extents[id(ax)], his[id(ax)] = E.const(0), ax.extent, None
        for rel in st.relations:
            if isinstance(rel, Split):
                e = extents[id(rel.parent)]
                extents[id(rel.outer)] = -(-e // rel.factor)
                extents[id(rel.inner)] = rel.factor
            else:
                extents[id(rel.fused)] = extents[id(rel.outer)] * extents[id(rel.inner)]
        leaves = list(st.leaf_axes)
        loop_var = {id(lf): self.loop_var(st, lf) for lf in leaves}
        for lf in leaves:
            self.ranges[loop_var[id(lf)]] = (0, extents[id(lf)] - 1)

        # value of every axis in terms of the leaf loop variables
        value: dict[int, E.Expr] = {id(lf): loop_var[id(lf)] for lf in leaves}
        for rel in reversed(st.relations):
            if isinstance(rel, Split):
                value[id(rel.parent)] = value[id(rel.outer)] * rel.factor + value[id(rel.inner)]
            else:
                inner_ext = extents[id(rel.inner)]
                value[id(rel.outer)] = value[id(rel.fused)] // inner_ext
                value[id(rel.inner)] = value[id(rel.fused)] % inner_ext

        guards: list[_Guard] = []
        leaf_ids = {id(v) for v in loop_var.values()}

        def guard(cond: E.Expr, spatial: bool) -> None:
            cond = simplify_expr(cond, self.ranges)
            if isinstance(cond, E.Const) and cond.value:
                return
            vs = frozenset(id(n) for n in E.walk(cond) if isinstance(n, E.Var) and id(n) in leaf_ids)
            guards.append(_Guard(cond, vs, spatial))

        root_value: dict = {}
        for ax in st.root_axes:
            local = simplify_expr(value[id(ax)], self.ranges)
            root_value[ax.var] = simplify_expr(starts[id(ax)] + local, self.ranges)
            guard(E.lt(local, extents[id(ax)]), ax.kind == "spatial")
            if his[id(ax)] is not None:
                guard(E.le(root_value[ax.var], his[id(ax)]), ax.kind == "spatial")
        # a split of a split's part that does not divide it overshoots that part, which
        # the root guard misses when the overshoot stays inside the root's range
        root_ids = {id(ax) for ax in st.root_axes}
        for rel in st.relations:
            if isinstance(rel, Split) and id(rel.parent) not in root_ids \
                    and extents[id(rel.parent)] % rel.factor:
                guard(E.lt(value[id(rel.parent)], extents[id(rel.parent)]),
                      rel.parent.kind == "spatial")

        storage = self.storage[id(st.tensor)]
        out_index = [root_value[a.var] for a in spatial]
        body = E.substitute(self.inlined_body(st), root_value)
        store_idx = self.flat_index(storage, out_index)
        kinds = [st.annotations.get(lf, L.SERIAL) for lf in leaves]
        attached = self.attached_to(st, leaves, loop_var, body)

        if not isinstance(body, E.Reduce):
            inner = L.Store(storage.buffer, store_idx, self.lower_expr(body))
            return self.nest(leaves, kinds, inner, guards, attached, loop_var)

        first_reduce = next(i for i, lf in enumerate(leaves) if lf.kind == "reduce") \
            if any(lf.kind == "reduce" for lf in leaves) else len(leaves)
        outer, rest = leaves[:first_reduce], leaves[first_reduce:]
        outer_ids = {id(loop_var[id(lf)]) for lf in outer}
        outer_guards = [g for g in guards if g.vars <= outer_ids and g.spatial]
        rest_guards = [g for g in guards if g not in outer_guards]
        init = L.Store(storage.buffer, store_idx, self.lower_expr(body.init))
        acc = L.Load(storage.buffer, store_idx)
        update = L.Store(storage.buffer, store_idx,
                         _combine(body.combiner, acc, self.lower_expr(body.source)))
        rest_kinds = kinds[first_reduce:]
        thread_reduce = [(lf, k) for lf, k in zip(rest, rest_kinds) if k in L.THREAD_AXES]
        if thread_reduce:
            return self.nest(outer, kinds[:first_reduce],
                             self.cross_thread_reduction(st, body, storage.buffer, store_idx,
                                                         rest, rest_kinds, rest_guards,
                                                         attached, loop_var),
                             outer_guards, attached, loop_var)
        init_loops = [(lf, k) for lf, k in zip(rest, rest_kinds) if lf.kind == "spatial"]
        init_nest = self.nest([lf for lf, _ in init_loops], [k for _, k in init_loops], init,
                              [g for g in rest_guards if g.spatial], {}, loop_var)
        update_nest = self.nest(rest, rest_kinds, update, rest_guards, attached, loop_var)
        return self.nest(outer, kinds[:first_reduce], L.Seq((init_nest, update_nest)),
                         outer_guards, attached, loop_var)

    def cross_thread_reduction(self, st: Stage, body: E.Reduce, out: L.Buffer, out_idx: E.Expr,
                               loops: list[IterVar], kinds: list[str], guards: list[_Guard],
                               attached: dict, loop_var: dict) -> L.Stmt:
        """A reduction whose reduce loop is bound to a thread axis: each thread
        accumulates its share into a private ``acc``, the threads combine their
        partials, and the result is stored::

            acc[0] = init
            for r_t in range(T):  # threadIdx.x
              for r_i: acc[0] = acc[0] + source
            acc[0] = all_reduce_sum(threadIdx.x < T)
            out[...] = acc[0]
        """
        bound = [(lf, k) for lf, k in zip(loops, kinds) if k in L.THREAD_AXES]
        if len(bound) > 1 or any(lf.kind != "reduce" for lf in loops):
            raise ScheduleError(f"lower: stage {st.name} binds a reduce axis to a thread "
                                f"axis; then its reduce loops must be innermost and only one "
                                f"of them may be bound (fuse them first)")
        axis_loop, axis = bound[0]
        acc = L.Buffer(self._fresh_loop_name(f"{st.name}_acc"), (1,), out.dtype, L.LOCAL)
        update = L.Store(acc, 0, _combine(body.combiner, L.Load(acc, 0),
                                          self.lower_expr(body.source)))
        extent = self.ranges[loop_var[id(axis_loop)]][1] + 1
        return L.Allocate(acc, L.Seq((
            L.Store(acc, 0, self.lower_expr(body.init)),
            self.nest(loops, kinds, update, guards, attached, loop_var),
            L.ThreadAllReduce(acc, body.combiner, axis, extent),
            L.Store(out, out_idx, L.Load(acc, 0)))))

    def emit_constant_pad(self, st: Stage) -> L.Stmt:
        """A materialized constant-padding stage as two dense nests instead of its
        schedule: fill the whole buffer, then copy the source into the interior.  Its
        body evaluated per element is a select over clamped reads, i.e. per-lane
        gathers; over the interior the simplifier drops the select and the clamps, so
        both nests are contiguous vector stores (depthwise 3x3, 136 ch @28: 0.42 ->
        0.13 ms).  Runs in parallel when the stage's schedule asked for it."""
        attrs = dict(st.op.attrs)
        begin, end = attrs["pad_begin"], attrs["pad_end"]
        shape = tuple(st.tensor.shape)
        parallel = L.PARALLEL in st.annotations.values()
        storage = self.storage[id(st.tensor)]
        fill = E.const(attrs["pad_value"], st.tensor.dtype)
        body = self.inlined_body(st)

        def dense(extents, value_of):
            """for outer (fused) in ...: for last in ... (vectorized): store value_of(idx)"""
            outer_n = math.prod(extents[:-1])
            f = E.Var(self._fresh_loop_name(f"{st.name}_rows"), "int64")
            x = E.Var(self._fresh_loop_name(f"{st.name}_x"), "int64")
            self.ranges[f], self.ranges[x] = (0, outer_n - 1), (0, extents[-1] - 1)
            idx, stride = [], outer_n
            for ext in extents[:-1]:
                stride //= ext
                idx.append((f // stride) % ext if stride > 1 else f % ext)
            idx.append(x)
            dst, value = value_of(idx)
            store = L.Store(storage.buffer, self.flat_index(storage, dst),
                            simplify_expr(self.lower_expr(value), self.ranges))
            inner = L.For(x, E.const(0), E.const(extents[-1]), L.VECTORIZED, store)
            kind = L.PARALLEL if parallel and outer_n > 1 else L.SERIAL
            return L.For(f, E.const(0), E.const(outer_n), kind, inner)

        src_shape = tuple(n - b - e for n, b, e in zip(shape, begin, end))

        def interior(idx):
            at = [i + b for i, b in zip(idx, begin)]
            return at, E.substitute(body, {ax.var: a for ax, a in zip(st.op.axes, at)})

        return L.Seq((dense(shape, lambda idx: (idx, fill)), dense(src_shape, interior)))

    def _fresh_loop_name(self, base: str) -> str:
        """``base``, or ``base1``, ``base2``, ...: the first name unused in the function."""
        name, n = base, 1
        while name in self._used_names:
            name, n = f"{base}{n}", n + 1
        self._used_names.add(name)
        return name

    def loop_var(self, st: Stage, axis: IterVar) -> E.Var:
        """A fresh loop variable for ``axis``, named uniquely within the function."""
        name = axis.var.name
        if name in self._used_names:
            name = f"{st.name}_{name}"
        return E.Var(self._fresh_loop_name(name), axis.var.dtype)

    def nest(self, loops: list[IterVar], kinds: list[str], inner: L.Stmt,
             guards: list[_Guard], attached: dict, loop_var: dict) -> L.Stmt:
        """Wrap ``inner`` in ``loops``; each guard goes right inside the innermost loop it
        reads; stages attached at a loop come first in that loop's (guarded) body."""
        pos = {id(loop_var[id(lf)]): i for i, lf in enumerate(loops)}
        by_level: dict[int, list[E.Expr]] = {}
        for g in guards:
            level = max((pos[v] for v in g.vars if v in pos), default=-1)
            by_level.setdefault(level, []).append(g.cond)
        body = inner
        for i in range(len(loops) - 1, -2, -1):
            conds = by_level.get(i, [])
            if i >= 0 and id(loops[i]) in attached:
                stmts, bufs = attached[id(loops[i])]
                if conds and _has_barrier(stmts):
                    # every thread of the block must reach the barriers of a shared copy:
                    # the guard covers only this stage's own work (the attached stages
                    # guard theirs, their regions clamped to the tensors)
                    body, conds = L.IfThenElse(E.logical_and(*conds), body), []
                body = L.Seq(tuple(stmts) + (body,))
                for b in reversed(bufs):
                    body = L.Allocate(b, body)
            if conds:
                body = L.IfThenElse(E.logical_and(*conds), body)
            if i >= 0:
                v = loop_var[id(loops[i])]
                body = L.For(v, E.const(0), E.const(self.ranges[v][1] + 1), kinds[i], body)
        return body

    # --- compute_at ---------------------------------------------------------------

    def attached_to(self, st: Stage, leaves: list[IterVar], loop_var: dict, body: E.Expr) -> dict:
        """For each leaf of ``st`` that stages are attached at: (their nests, buffers).

        A stage's region covers what ``st``'s body reads of it inside the attach loop and
        what the later stages attached at the same loop read of it (their regions are
        inferred first, consumers before producers); the nests run producers first."""
        prods = [p for p in self.sch.stages if p.attach == "at" and p.attach_stage is st]
        regions: dict[int, list] = {}
        outer_threads: dict[int, list[E.Var]] = {}
        for prod in reversed(prods):
            ax = prod.attach_axis
            idx = next(i for i, lf in enumerate(leaves) if lf is ax)
            shared = prod.scope == L.SHARED
            threads = [loop_var[id(lf)] for lf in leaves[:idx + 1]
                       if st.annotations.get(lf) in L.THREAD_AXES]
            varying = {}
            for v in [loop_var[id(lf)] for lf in leaves[idx + 1:]] + (
                    # a shared copy serves every thread of the block, so its region
                    # covers what the threads bound outside the attach point read too
                    self._enclosing_threads + threads if shared else []):
                varying[v] = (E.const(0), E.const(self.ranges[v][1]))
            uses = [(body, varying)] + [self._region_use(q, regions[id(q)], varying)
                                        for q in prods if id(q) in regions
                                        and self._co_reader(prod, q)]
            regions[id(prod)] = self.infer_region(prod.tensor, uses)
            outer_threads[id(prod)] = threads
            buf = L.Buffer(prod.name, tuple(ext for _, ext, _ in regions[id(prod)]),
                           prod.tensor.dtype, prod.scope or L.LOCAL)
            self.storage[id(prod.tensor)] = _Storage(buf, tuple(s for s, _, _ in
                                                                regions[id(prod)]))
        out: dict[int, tuple[list, list]] = {}
        for prod in prods:
            threads = outer_threads[id(prod)]
            stmts, bufs = out.setdefault(id(prod.attach_axis), ([], []))
            self._enclosing_threads.extend(threads)
            try:
                fill = self.emit_stage(prod, regions[id(prod)])
            finally:
                del self._enclosing_threads[len(self._enclosing_threads) - len(threads):]
            if prod.scope == L.SHARED:
                # the fill waits for the previous iteration's readers, its readers for
                # the fill; fills placed together share their barriers
                if not (stmts and isinstance(stmts[-1], L.Barrier)):
                    stmts.append(L.Barrier())
                stmts.extend((fill, L.Barrier()))
            else:
                stmts.append(fill)
            bufs.append(self.storage[id(prod.tensor)].buffer)
        return out

    def _region_use(self, reader: Stage, region: list, varying: dict) -> tuple:
        """(body, varying) for ``infer_region``: ``reader``'s body with its spatial axes
        running over ``region`` and its reduce axes over their extents."""
        varying = dict(varying)
        for ax, (start, extent, _) in zip(reader.op.axes, region):
            varying[ax.var] = (start, simplify_expr(start + (extent - 1), self.ranges))
        for ax in reader.op.reduce_axes:
            varying[ax.var] = (E.const(0), E.const(ax.extent - 1))
        return self.inlined_body(reader), varying

    def infer_region(self, tensor: Tensor, uses: list[tuple[E.Expr, dict]]) -> list:
        """Per dimension ``(start, extent, hi)``: what the bodies of ``uses`` read of
        ``tensor`` while their ``varying`` vars (body, varying) run over their ranges."""
        reads = [(n, varying) for body, varying in uses for n in E.walk(body)
                 if isinstance(n, E.TensorRead) and n.tensor is tensor]
        region = []
        for d, dim in enumerate(tensor.shape):
            lo = hi = None
            for r, varying in reads:
                b = symbolic_bound(r.indices[d], varying)
                if b is None:
                    lo, hi = E.const(0), E.const(dim - 1)
                    break
                lo = b[0] if lo is None else E.minimum(lo, b[0])
                hi = b[1] if hi is None else E.maximum(hi, b[1])
            lo, hi = simplify_expr(lo, self.ranges), simplify_expr(hi, self.ranges)
            raw_ext = simplify_expr(hi - lo + 1, self.ranges)
            clamped = False
            if const_bound(lo, self.ranges)[0] < 0:
                lo, clamped = simplify_expr(E.maximum(lo, 0), self.ranges), True
            if const_bound(hi, self.ranges)[1] > dim - 1:
                hi, clamped = simplify_expr(E.minimum(hi, dim - 1), self.ranges), True
            if isinstance(raw_ext, E.Const) and not clamped:
                region.append((lo, min(max(int(raw_ext.value), 0), dim), None))
                continue
            bound = const_bound(simplify_expr(hi - lo + 1, self.ranges), self.ranges)[1]
            if isinstance(raw_ext, E.Const):
                bound = min(bound, raw_ext.value)
            if not math.isfinite(bound):
                region.append((E.const(0), dim, None))
            else:
                region.append((lo, int(max(min(bound, dim), 0)), hi))
        return region

    # --- expressions --------------------------------------------------------------

    def flat_index(self, storage: _Storage, indices) -> E.Expr:
        if storage.starts is not None:
            indices = [i - s for i, s in zip(indices, storage.starts)]
        return simplify_expr(_flat(indices, storage.buffer.shape), self.ranges)

    def lower_expr(self, e: E.Expr) -> E.Expr:
        def fn(n):
            if isinstance(n, E.TensorRead):
                storage = self.storage.get(id(n.tensor))
                if storage is None:
                    if n.tensor.is_placeholder:
                        raise ScheduleError(f"lower: placeholder {n.tensor.name} is read but not in args")
                    raise ScheduleError(f"lower: {n.tensor.name} has no storage (internal error)")
                return L.Load(storage.buffer, self.flat_index(storage, n.indices))
            if isinstance(n, E.Reduce):
                raise ScheduleError("lower: a reduction may only be the whole body of a compute")
            return n
        return E.post_order_rewrite(e, fn)
