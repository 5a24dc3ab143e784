"""Schedules: how each compute stage of a TE program becomes loops.

``create_schedule(outputs)`` makes one ``Stage`` per compute tensor reachable from
``outputs``.  A stage's loop nest is its list of *leaf axes* (outermost first), at first
the compute's spatial axes followed by its reduce axes.  The primitives (methods of
``Stage``) rewrite that list; each call is also recorded in ``Schedule.steps`` as a plain
dict naming the stage and axes, so a schedule can be stored (a tuning log) and replayed
with ``apply_steps(create_schedule(outputs), steps)``.

Every illegal use raises ``ScheduleError``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..te import expr as E
from ..te.tensor import ComputeOp, IterVar, Tensor
from ..te.traverse import topo_order

AxisRef = Union[IterVar, str]

#: GPU launch axes ``Stage.bind`` takes (the loop IR's ``GPU_AXES``)
BLOCK_AXES = ("blockIdx.x", "blockIdx.y", "blockIdx.z")
THREAD_AXES = ("threadIdx.x", "threadIdx.y", "threadIdx.z")
#: loop annotations a stage may put on a leaf axis
ANNOTATIONS = ("serial", "parallel", "vectorized", "unrolled") + BLOCK_AXES + THREAD_AXES
#: where ``Schedule.cache_read`` may put a copy
CACHE_SCOPES = ("shared", "local")


class ScheduleError(ValueError):
    """A schedule primitive was used illegally; the message says what to change."""


@dataclass(frozen=True, eq=False)
class Split:
    parent: IterVar
    outer: IterVar
    inner: IterVar
    factor: int


@dataclass(frozen=True, eq=False)
class Fuse:
    outer: IterVar
    inner: IterVar
    fused: IterVar


class Stage:
    """The loop structure of one compute tensor.

    ``leaf_axes`` is the current loop order; ``relations`` the splits and fuses that
    derive the leaves from the root axes (the compute's axes and reduce axes);
    ``annotations`` maps a leaf axis to its loop kind; ``attach`` is "root", "inline"
    or "at" (then ``attach_stage``/``attach_axis`` say where).
    """

    def __init__(self, schedule: "Schedule", tensor: Tensor, name: str):
        self.schedule = schedule
        self.tensor = tensor
        self.op: ComputeOp = tensor.op
        self.name = name
        self.root_axes: tuple[IterVar, ...] = tuple(self.op.axes) + tuple(self.op.reduce_axes)
        self.leaf_axes: list[IterVar] = list(self.root_axes)
        self.relations: list[Split | Fuse] = []
        self.annotations: dict[IterVar, str] = {}
        self.attach = "root"
        self.attach_stage: Stage | None = None
        self.attach_axis: IterVar | None = None
        #: a ``cache_read`` copy's memory ("shared" or "local"); None for other stages
        self.scope: str | None = None
        #: id(tensor) -> the ``cache_read`` copy this stage reads instead of tensor
        self.read_redirects: dict[int, Tensor] = {}

    def __repr__(self) -> str:
        return f"Stage({self.name}: {[a.var.name for a in self.leaf_axes]})"

    @property
    def is_reduction(self) -> bool:
        return isinstance(self.op.body, E.Reduce)

    @property
    def is_output(self) -> bool:
        return any(t is self.tensor for t in self.schedule.outputs)

    def axis(self, ref: AxisRef) -> IterVar:
        """The leaf axis ``ref`` (an IterVar or its name); ScheduleError if it is not a leaf."""
        if isinstance(ref, IterVar):
            if any(a is ref for a in self.leaf_axes):
                return ref
            raise ScheduleError(f"stage {self.name}: axis {ref.var.name} is not a current loop "
                                f"axis (it was split or fused away?); leaves are "
                                f"{[a.var.name for a in self.leaf_axes]}")
        for a in self.leaf_axes:
            if a.var.name == ref:
                return a
        raise ScheduleError(f"stage {self.name}: no loop axis named {ref!r}; leaves are "
                            f"{[a.var.name for a in self.leaf_axes]}")

    def _record(self, op: str, **args) -> None:
        self.schedule._record(op, self.name, args)

    def _fresh_name(self, base: str) -> str:
        used = {a.var.name for a in self.root_axes}
        for r in self.relations:
            used.update(x.var.name for x in ((r.outer, r.inner) if isinstance(r, Split) else (r.fused,)))
        name, n = base, 1
        while name in used:
            name, n = f"{base}{n}", n + 1
        return name

    def _check_mutable(self, what: str) -> None:
        if self.attach == "inline":
            raise ScheduleError(f"stage {self.name} is inlined; it has no loops to {what}")

    # --- primitives ---------------------------------------------------------------

    def split(self, axis: AxisRef, factor: int) -> tuple[IterVar, IterVar]:
        """Split ``axis`` into ``(outer, inner)`` with ``inner`` of extent ``factor``.

        Before: ``for x in range(10): body(x)``.  After ``split(x, 4)``::

            for x_o in range(3):          # ceil(10 / 4)
              for x_i in range(4):
                if x_o * 4 + x_i < 10:    # only when 4 does not divide 10
                  body(x_o * 4 + x_i)
        """
        with self.schedule._recording(False):
            ax = self.axis(axis)
            self._check_mutable("split")
            if isinstance(factor, bool) or not isinstance(factor, int) or factor <= 0:
                raise ScheduleError(f"stage {self.name}: split factor must be a positive int, got {factor!r}")
            outer = IterVar(E.Var(self._fresh_name(ax.var.name + "_o")), -(-ax.extent // factor), ax.kind)
            inner = IterVar(E.Var(self._fresh_name(ax.var.name + "_i")), factor, ax.kind)
            self.relations.append(Split(ax, outer, inner, factor))
            pos = self.leaf_axes.index(ax)
            self.leaf_axes[pos:pos + 1] = [outer, inner]
            self.annotations.pop(ax, None)
        self._record("split", axis=ax.var.name, factor=factor)
        return outer, inner

    def tile(self, x: AxisRef, y: AxisRef, x_factor: int, y_factor: int):
        """Tile two adjacent axes: returns ``(x_o, y_o, x_i, y_i)`` in that loop order.

        Before: ``for x: for y: body``.  After::

            for x_o: for y_o: for x_i: for y_i: body(x_o*fx + x_i, y_o*fy + y_i)
        """
        with self.schedule._recording(False):
            ax, ay = self.axis(x), self.axis(y)
            xo, xi = self.split(ax, x_factor)
            yo, yi = self.split(ay, y_factor)
            self.reorder(xo, yo, xi, yi)
        self._record("tile", x=ax.var.name, y=ay.var.name, x_factor=x_factor, y_factor=y_factor)
        return xo, yo, xi, yi

    def reorder(self, *axes: AxisRef) -> None:
        """Put ``axes`` in the given order, in the loop positions they occupy now.

        Before: ``for i: for j: for k: body``.  After ``reorder(k, i)``::

            for k: for j: for i: body
        """
        with self.schedule._recording(False):
            self._check_mutable("reorder")
            axs = [self.axis(a) for a in axes]
            if len({id(a) for a in axs}) != len(axs):
                raise ScheduleError(f"stage {self.name}: reorder got an axis twice: "
                                    f"{[a.var.name for a in axs]}")
            positions = sorted(self.leaf_axes.index(a) for a in axs)
            for p, a in zip(positions, axs):
                self.leaf_axes[p] = a
        self._record("reorder", axes=[a.var.name for a in axs])

    def fuse(self, outer: AxisRef, inner: AxisRef) -> IterVar:
        """Fuse two adjacent loops (``outer`` directly around ``inner``) into one.

        Before: ``for i in range(4): for j in range(5): body(i, j)``.  After::

            for i_j_f in range(20): body(i_j_f // 5, i_j_f % 5)
        """
        with self.schedule._recording(False):
            self._check_mutable("fuse")
            a, b = self.axis(outer), self.axis(inner)
            pa, pb = self.leaf_axes.index(a), self.leaf_axes.index(b)
            if pb != pa + 1:
                raise ScheduleError(f"stage {self.name}: fuse needs adjacent axes, outer first; "
                                    f"{a.var.name} is at {pa}, {b.var.name} at {pb}: reorder first")
            if a.kind != b.kind:
                raise ScheduleError(f"stage {self.name}: cannot fuse spatial and reduce axes "
                                    f"({a.var.name}, {b.var.name})")
            fused = IterVar(E.Var(self._fresh_name(f"{a.var.name}_{b.var.name}_f")),
                            a.extent * b.extent, a.kind)
            self.relations.append(Fuse(a, b, fused))
            self.leaf_axes[pa:pb + 1] = [fused]
            self.annotations.pop(a, None)
            self.annotations.pop(b, None)
        self._record("fuse", outer=a.var.name, inner=b.var.name)
        return fused

    def _annotate(self, op: str, axis: AxisRef, kind: str) -> None:
        with self.schedule._recording(False):
            self._check_mutable(op)
            ax = self.axis(axis)
            if kind in ("vectorized", "parallel") and ax.kind == "reduce":
                raise ScheduleError(f"stage {self.name}: cannot {op} reduce axis {ax.var.name} "
                                    "(iterations would race on the accumulator); "
                                    f"{op} a spatial axis")
            self.annotations[ax] = kind
        self._record(op, axis=ax.var.name)

    def vectorize(self, axis: AxisRef) -> None:
        """Run ``axis`` (constant extent, spatial) as SIMD lanes; keep it innermost.

        Before: ``for x_i in range(8): body``.  After: ``for x_i in range(8):  # vectorized``.
        If a non-dividing split put a guard in its body, lowering emits the full-vector
        case plus a serial tail (see ``lower``).
        """
        self._annotate("vectorize", axis, "vectorized")

    def unroll(self, axis: AxisRef) -> None:
        """Unroll ``axis``: ``for x in range(4): body`` -> ``# unrolled`` loop."""
        self._annotate("unroll", axis, "unrolled")

    def parallel(self, axis: AxisRef) -> None:
        """Run ``axis``'s iterations on the thread pool: ``for x: body`` -> ``# parallel``."""
        self._annotate("parallel", axis, "parallel")

    def bind(self, axis: AxisRef, thread_axis: str) -> None:
        """Bind ``axis`` to a GPU launch axis ("blockIdx.x", ..., "threadIdx.z").

        Before: ``for x_o in range(64): for x_i in range(256): body``.  After
        ``bind(x_o, "blockIdx.x")`` and ``bind(x_i, "threadIdx.x")``, launched as 64
        blocks of 256 threads::

            x_o = blockIdx.x; x_i = threadIdx.x; body

        A reduce axis may be bound to a thread axis only: each thread accumulates its
        share, then the threads combine their partial results (``ThreadAllReduce``).
        Other targets run a bound loop serially.
        """
        with self.schedule._recording(False):
            self._check_mutable("bind")
            ax = self.axis(axis)
            if thread_axis not in BLOCK_AXES + THREAD_AXES:
                raise ScheduleError(f"stage {self.name}: cannot bind {ax.var.name} to "
                                    f"{thread_axis!r}; launch axes are "
                                    f"{list(BLOCK_AXES + THREAD_AXES)}")
            if ax.kind == "reduce" and thread_axis not in THREAD_AXES:
                raise ScheduleError(f"stage {self.name}: reduce axis {ax.var.name} can only be "
                                    f"bound to a thread axis (threads of one block combine "
                                    f"their partial results), not {thread_axis}")
            taken = [a.var.name for a, k in self.annotations.items() if k == thread_axis]
            if taken:
                raise ScheduleError(f"stage {self.name}: {thread_axis} is already bound to "
                                    f"{taken[0]}; fuse the two axes first")
            self.annotations[ax] = thread_axis
        self._record("bind", axis=ax.var.name, thread_axis=thread_axis)

    def compute_inline(self) -> None:
        """Substitute this stage's body into every reader; it gets no loops or buffer.

        Before: ``for i: B[i] = A[i] + 1`` then ``for i: C[i] = B[i] * 2``.
        After: ``for i: C[i] = (A[i] + 1) * 2``.
        """
        with self.schedule._recording(False):
            if self.is_reduction:
                raise ScheduleError(f"cannot inline {self.name}: it is a reduction; "
                                    "use compute_at instead")
            if self.is_output:
                raise ScheduleError(f"cannot inline {self.name}: it is an output of the schedule")
            self.attach, self.attach_stage, self.attach_axis = "inline", None, None
        self._record("compute_inline")

    def compute_at(self, parent: "Stage", axis: AxisRef) -> None:
        """Compute this stage inside ``parent``'s loop ``axis``, just the region it needs.

        Before: ``for i: for j: B[i, j] = f(A)`` then ``for i: for j: C[i, j] = g(B[i, j])``.
        After ``compute_at(sch[C], i)``::

            for i:
              for j: B[i, j] = f(A)       # only row i, in a row-sized buffer
              for j: C[i, j] = g(B[i, j])
        """
        with self.schedule._recording(False):
            if not isinstance(parent, Stage) or parent.schedule is not self.schedule:
                raise ScheduleError(f"compute_at of {self.name}: parent must be a stage of the same schedule")
            ax = parent.axis(axis)
            if parent is self:
                raise ScheduleError(f"cannot compute_at {self.name} inside itself")
            if self.is_output:
                raise ScheduleError(f"cannot compute_at {self.name}: it is an output of the schedule")
            if not self.schedule._reads(parent.tensor, self.tensor):
                raise ScheduleError(f"cannot compute_at {self.name} inside {parent.name}: "
                                    f"{parent.name} does not read {self.name}")
            self.attach, self.attach_stage, self.attach_axis = "at", parent, ax
        self._record("compute_at", parent=parent.name, axis=ax.var.name)


class Schedule:
    """The stages of a TE program, in producer-first order, plus the recorded steps."""

    def __init__(self, outputs: list[Tensor]):
        self.outputs = list(outputs)
        self.stages: list[Stage] = []
        self._by_tensor: dict[int, Stage] = {}
        self._by_name: dict[str, Stage] = {}
        self.steps: list[dict] = []
        self._record_on = True
        for t in topo_order(self.outputs):
            if t.is_placeholder:
                continue
            name, n = t.name, 1
            while name in self._by_name:
                name, n = f"{t.name}_{n}", n + 1
            st = Stage(self, t, name)
            self.stages.append(st)
            self._by_tensor[id(t)] = st
            self._by_name[name] = st

    def __getitem__(self, key: Tensor | str) -> Stage:
        if isinstance(key, str):
            if key in self._by_name:
                return self._by_name[key]
            raise ScheduleError(f"no stage named {key!r}; stages are {list(self._by_name)}")
        st = self._by_tensor.get(id(key))
        if st is None:
            what = "a placeholder (inputs have no loops)" if getattr(key, "is_placeholder", False) \
                else "not part of this schedule's outputs"
            raise ScheduleError(f"{getattr(key, 'name', key)!r} has no stage: it is {what}")
        return st

    def stage_of(self, tensor: Tensor) -> Stage | None:
        return self._by_tensor.get(id(tensor))

    def inputs_of(self, tensor: Tensor) -> list[Tensor]:
        """The tensors ``tensor``'s compute reads, with ``cache_read`` copies in place of
        the tensors they copy."""
        st = self.stage_of(tensor)
        if st is None:
            return list(tensor.op.input_tensors)
        return [st.read_redirects.get(id(t), t) for t in st.op.input_tensors]

    def _reads(self, consumer: Tensor, producer: Tensor) -> bool:
        """Whether ``consumer`` reads ``producer``, directly or through other computes
        (the consumer's ``cache_read`` copies also replace reads in the stages it
        inlines)."""
        st = self.stage_of(consumer)
        redirects = st.read_redirects if st is not None else {}
        stack, seen = [consumer], set()
        while stack:
            t = stack.pop()
            if t.is_placeholder or id(t) in seen:
                continue
            seen.add(id(t))
            for inp in self.inputs_of(t):
                inp = redirects.get(id(inp), inp)
                if inp is producer:
                    return True
                stack.append(inp)
        return False

    def cache_write(self, tensor: Tensor, scope: str) -> Stage:
        """Compute ``tensor`` into a ``scope`` copy first; ``tensor``'s own stage then just
        copies it out.  Returns the copy's stage, which takes over the computation (and
        its reduce axes); place it with ``compute_at`` inside ``tensor``'s loops.

        Before: ``for i: for j: for k: C[i, j] += A[i, k] * B[k, j]``.  After
        ``CL = cache_write(C, "local"); CL.compute_at(C, j_o)`` (per-thread tiles)::

            for i_o: for j_o:
              for ii: for jj: for k: CL[ii, jj] += A[..] * B[..]   # in registers
              for ii: for jj: C[i_o*4 + ii, j_o*4 + jj] = CL[ii, jj]
        """
        with self._recording(False):
            st = self[tensor]
            if scope not in CACHE_SCOPES:
                raise ScheduleError(f"cache_write of {st.name}: scope must be one of "
                                    f"{list(CACHE_SCOPES)}, not {scope!r}")
            if st.relations or st.annotations or st.attach != "root" or st.scope is not None:
                raise ScheduleError(f"cache_write of {st.name}: call it before any other "
                                    f"primitive on the stage")
            from ..te.tensor import compute

            name, n = f"{st.name}_{scope}", 1
            while name in self._by_name:
                name, n = f"{st.name}_{scope}{n}", n + 1
            copy = Tensor(name, st.tensor.shape, st.tensor.dtype, st.op)
            stage = Stage(self, copy, name)
            stage.scope = scope
            stage.read_redirects = st.read_redirects
            out = compute(st.tensor.shape, lambda *idx: copy[idx], name=st.name, tag=st.op.tag,
                          attrs=dict(st.op.attrs))
            st.op, st.read_redirects = out.op, {}
            st.root_axes = tuple(st.op.axes)
            st.leaf_axes = list(st.root_axes)
            self.stages.insert(self.stages.index(st), stage)
            self._by_tensor[id(copy)] = stage
            self._by_name[name] = stage
        self._record("cache_write", st.name, {"scope": scope})
        return stage

    def _reads_inlined(self, consumer: Tensor, producer: Tensor) -> bool:
        """Whether ``consumer``'s body, once inlined stages are substituted, reads
        ``producer``."""
        for inp in self.inputs_of(consumer):
            if inp is producer:
                return True
            st = self.stage_of(inp)
            if st is not None and st.attach == "inline" and self._reads_inlined(inp, producer):
                return True
        return False

    def tensor(self, name: str) -> Tensor:
        """The tensor called ``name`` (a placeholder or a stage's tensor)."""
        if name in self._by_name:
            return self._by_name[name].tensor
        for t in topo_order(self.outputs):
            if t.name == name:
                return t
        raise ScheduleError(f"no tensor named {name!r} in this schedule")

    def cache_read(self, tensor: Tensor | str, scope: str, readers: list) -> Stage:
        """A copy of ``tensor`` in ``scope`` ("shared": a GPU block's shared memory,
        "local": private to each thread) that the ``readers`` stages read instead.

        Place the copy with ``compute_at`` inside a reader's loop: it then holds just the
        region that reader's inner loops (and, for "shared", its threads) read, and
        the threads fill it cooperatively when its loops are bound to thread axes.
        Before: ``for k_o: for k_i: C[i, j] += A[i, k] * B[k, j]``.  After
        ``AS = cache_read(A, "shared", [C]); AS.compute_at(C, k_o)``::

            for k_o:
              barrier; AS[...] = A[rows of the block, k_o*8 : k_o*8 + 8]; barrier
              for k_i: C[i, j] += AS[i - row0, k_i] * B[k, j]
        """
        with self._recording(False):
            if isinstance(tensor, str):
                tensor = self.tensor(tensor)
            if scope not in CACHE_SCOPES:
                raise ScheduleError(f"cache_read of {tensor.name}: scope must be one of "
                                    f"{list(CACHE_SCOPES)}, not {scope!r}")
            stages = [r if isinstance(r, Stage) else self[r] for r in readers]
            if not stages:
                raise ScheduleError(f"cache_read of {tensor.name}: name the stages that read it")
            for r in stages:
                if not self._reads_inlined(r.tensor, tensor):
                    raise ScheduleError(f"cache_read: stage {r.name} does not read "
                                        f"{tensor.name} (directly or through inlined stages); "
                                        f"inline the stages between them first")
            from ..te.tensor import compute

            base = f"{tensor.name}_{scope}"
            name, n = base, 1
            while name in self._by_name:
                name, n = f"{base}{n}", n + 1
            copy = compute(tensor.shape, lambda *idx: tensor[idx], name=name, tag="cache_read")
            stage = Stage(self, copy, name)
            stage.scope = scope
            first = min(self.stages.index(r) for r in stages)
            self.stages.insert(first, stage)
            self._by_tensor[id(copy)] = stage
            self._by_name[name] = stage
            for r in stages:
                r.read_redirects[id(tensor)] = copy
        self._record("cache_read", stages[0].name, {"tensor": tensor.name, "scope": scope,
                                                    "readers": [r.name for r in stages]})
        return stage

    def _record(self, op: str, stage: str, args: dict) -> None:
        if self._record_on:
            self.steps.append({"op": op, "stage": stage, **args})

    class _Recording:
        def __init__(self, sch, on):
            self.sch, self.on = sch, on

        def __enter__(self):
            self.prev, self.sch._record_on = self.sch._record_on, self.on and self.sch._record_on

        def __exit__(self, *exc):
            self.sch._record_on = self.prev

    def _recording(self, on: bool):
        return Schedule._Recording(self, on)


def create_schedule(outputs: list[Tensor] | Tensor) -> Schedule:
    """A schedule with one default (un-transformed) stage per compute reachable from ``outputs``."""
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    return Schedule(list(outputs))


def apply_steps(sch: Schedule, steps: list[dict]) -> Schedule:
    """Replay recorded ``steps`` (from ``Schedule.steps``) on ``sch``; returns ``sch``."""
    for step in steps:
        step = dict(step)
        if step.get("op") == "cache_read":
            sch.cache_read(step["tensor"], step["scope"], step["readers"])
            continue
        if step.get("op") == "cache_write":
            sch.cache_write(sch[step["stage"]].tensor, step["scope"])
            continue
        op, stage = step.pop("op", None), sch[step.pop("stage", "")]
        if op == "split":
            stage.split(step["axis"], step["factor"])
        elif op == "tile":
            stage.tile(step["x"], step["y"], step["x_factor"], step["y_factor"])
        elif op == "reorder":
            stage.reorder(*step["axes"])
        elif op == "fuse":
            stage.fuse(step["outer"], step["inner"])
        elif op in ("vectorize", "unroll", "parallel"):
            getattr(stage, op)(step["axis"])
        elif op == "bind":
            stage.bind(step["axis"], step["thread_axis"])
        elif op == "compute_inline":
            stage.compute_inline()
        elif op == "compute_at":
            stage.compute_at(sch[step["parent"]], step["axis"])
        else:
            raise ScheduleError(f"unknown schedule step {op!r}")
    return sch
