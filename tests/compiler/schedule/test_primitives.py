import pytest

from tc.compiler.loops import ir as L
from tc.compiler.schedule import ScheduleError, apply_steps, create_schedule, lower
from tests.compiler.schedule.sched_programs import (
    check,
    conv2d,
    elemwise,
    matmul,
    row_sum,
)


# each transform takes (schedule, output tensor) and schedules it in place
def t_none(sch, out):
    pass


def t_split_divisible(sch, out):
    st = sch[out]
    st.split(st.leaf_axes[0], 1)


def t_split_nondivisible(sch, out):
    st = sch[out]
    ax = [a for a in st.leaf_axes if a.kind == "spatial"][-1]
    _, inner = st.split(ax, 4)
    st.vectorize(inner)


def t_tile_reorder(sch, out):
    st = sch[out]
    sp = [a for a in st.leaf_axes if a.kind == "spatial"]
    if len(sp) >= 2:
        xo, yo, xi, yi = st.tile(sp[-2], sp[-1], 2, 4)
        st.reorder(yi, xo)
    else:
        st.split(sp[0], 3)


def t_fuse_parallel_unroll(sch, out):
    st = sch[out]
    sp = [a for a in st.leaf_axes if a.kind == "spatial"]
    f = sp[0]
    for a in sp[1:]:
        f = st.fuse(f, a)
    st.parallel(f)
    fo, fi = st.split(f, 3)
    st.unroll(fi)


def t_inline_all(sch, out):
    for st in sch.stages:
        if st.tensor is not out and not st.is_reduction:
            st.compute_inline()


def t_reduce_outer(sch, out):
    """Move the reduce axes outermost (init gets its own loop nest) on every reduction."""
    for st in sch.stages:
        if st.is_reduction:
            red = [a for a in st.leaf_axes if a.kind == "reduce"]
            sp = [a for a in st.leaf_axes if a.kind == "spatial"]
            st.reorder(*(red + sp))
            st.split(red[0], 2)


def t_compute_at(sch, out):
    """Attach every stage feeding the output at the output's second loop."""
    st = sch[out]
    ax = st.leaf_axes[min(1, len(st.leaf_axes) - 1)]
    for p in sch.stages:
        if p is not st and sch._reads(out, p.tensor) and any(t is p.tensor for t in out.op.input_tensors):
            p.compute_at(st, ax)


TRANSFORMS = [t_none, t_split_divisible, t_split_nondivisible, t_tile_reorder,
              t_fuse_parallel_unroll, t_inline_all, t_reduce_outer, t_compute_at]
PROGRAMS = [elemwise, row_sum, matmul, conv2d]


@pytest.mark.parametrize("executor", ["interpret", "llvm"])
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
def test_transform_keeps_results(program, transform, executor):
    """TE -> schedule -> loops -> (interpreter | LLVM machine code) against numpy."""
    inputs, out, ref = program()
    sch = create_schedule([out])
    transform(sch, out)
    check(sch, inputs, out, ref, executor=executor)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: t.__name__)
def test_replay_gives_same_function(program, transform):
    inputs, out, _ = program()
    sch = create_schedule([out])
    transform(sch, out)
    steps = [dict(s) for s in sch.steps]
    replayed = apply_steps(create_schedule([out]), steps)
    assert str(lower(replayed, inputs + [out], "f")) == str(lower(sch, inputs + [out], "f"))


def test_steps_are_plain_data():
    import json

    inputs, out, _ = matmul()
    sch = create_schedule([out])
    st = sch[out]
    i, j = st.leaf_axes
    xo, yo, xi, yi = st.tile(i, j, 2, 3)
    st.fuse(xo, yo)
    assert json.loads(json.dumps(sch.steps)) == sch.steps
    assert [s["op"] for s in sch.steps] == ["tile", "fuse"]


def test_nondivisible_split_has_guard_and_vector_tail():
    inputs, out, ref = elemwise(shape=(2, 10))
    sch = create_schedule([out])
    st = sch[out]
    _, inner = st.split(st.leaf_axes[1], 4)
    st.vectorize(inner)
    func = check(sch, inputs, out, ref)
    text = str(func)
    assert "# vectorized" in text and "if " in text
    # the vectorized loop itself carries no guard: the tail is a separate serial loop
    vec = [n for n in _stmts(func.body) if isinstance(n, L.For) and n.kind == L.VECTORIZED]
    assert vec and all(not isinstance(v.body, L.IfThenElse) for v in vec)


def test_split_of_a_split_part_is_guarded_on_that_part():
    """A row sum over 12 split by 6, the inner 6 split by 4: the inner part overshoots
    to 7, which the root guard (< 12) does not catch in the first outer tile; unguarded,
    columns 6 and 7 would be summed twice."""
    inputs, out, ref = row_sum(shape=(3, 12))
    sch = create_schedule([out])
    st = sch[out]
    _, part = st.split(st.leaf_axes[1], 6)
    st.split(part, 4)
    check(sch, inputs, out, ref)


def test_divisible_split_has_no_guard():
    inputs, out, ref = elemwise(shape=(2, 8))
    sch = create_schedule([out])
    st = sch[out]
    st.split(st.leaf_axes[1], 4)
    func = check(sch, inputs, out, ref)
    assert not any(isinstance(n, L.IfThenElse) for n in _stmts(func.body))


def test_compute_at_same_index_computes_exact_slice():
    inputs, out, ref = matmul(M=4, K=5, N=8)
    sch = create_schedule([out])
    st = sch[out]
    i, j = st.leaf_axes
    jo, ji = st.split(j, 4)
    st.vectorize(ji)
    c = sch[out.op.input_tensors[0]]
    c.compute_at(st, jo)
    func = check(sch, inputs, out, ref)
    allocs = [n for n in _stmts(func.body) if isinstance(n, L.Allocate)]
    assert [a.buffer.shape for a in allocs] == [(1, 4)]


def test_compute_at_nondivisible_region():
    inputs, out, ref = matmul(M=3, K=4, N=7)
    sch = create_schedule([out])
    st = sch[out]
    i, j = st.leaf_axes
    jo, ji = st.split(j, 3)
    sch[out.op.input_tensors[0]].compute_at(st, jo)
    check(sch, inputs, out, ref)


def test_compute_at_shifted_window():
    """A consumer reading its producer at i and i+1: the region must cover both."""
    from tc.compiler import te

    A = te.placeholder((9,), "float32", "A")
    B = te.compute((9,), lambda i: A[i] * 2.0, "B")
    C = te.compute((8,), lambda i: B[i] + B[i + 1], "C")
    sch = create_schedule([C])
    io, ii = sch[C].split(sch[C].leaf_axes[0], 3)
    sch[B].compute_at(sch[C], io)
    func = check(sch, [A], C, lambda a: 2 * a[:-1] + 2 * a[1:])
    allocs = [n for n in _stmts(func.body) if isinstance(n, L.Allocate)]
    assert allocs[0].buffer.shape == (4,)


def test_intermediate_root_stage_gets_local_buffer():
    inputs, out, ref = elemwise()
    func = check(create_schedule([out]), inputs, out, ref)
    allocs = [n for n in _stmts(func.body) if isinstance(n, L.Allocate)]
    assert {a.buffer.name for a in allocs} == {"E1", "M"}
    assert all(a.buffer.scope == "local" for a in allocs)
    assert [p.name for p in func.params] == ["A", "B", "D"]


def _stmts(s):
    from tc.compiler.te.expr import walk
    return [n for n in walk(s) if isinstance(n, L.Stmt)]


# --- illegal uses --------------------------------------------------------------------

def test_errors():
    inputs, out, _ = matmul()
    sch = create_schedule([out])
    d = sch[out]
    c = sch[out.op.input_tensors[0]]
    i, j = d.leaf_axes
    with pytest.raises(ScheduleError, match="no loop axis"):
        d.split("nope", 2)
    with pytest.raises(ScheduleError, match="positive"):
        d.split(i, 0)
    with pytest.raises(ScheduleError, match="positive"):
        d.split(i, -3)
    with pytest.raises(ScheduleError, match="reduce axis"):
        c.vectorize(c.leaf_axes[-1])
    with pytest.raises(ScheduleError, match="reduce axis"):
        c.parallel(c.leaf_axes[-1])
    with pytest.raises(ScheduleError, match="reduction"):
        c.compute_inline()
    with pytest.raises(ScheduleError, match="output"):
        d.compute_inline()
    with pytest.raises(ScheduleError, match="output"):
        d.compute_at(c, c.leaf_axes[0])
    with pytest.raises(ScheduleError, match="inside itself"):
        c.compute_at(c, c.leaf_axes[0])
    with pytest.raises(ScheduleError, match="adjacent"):
        d.fuse(j, i)
    with pytest.raises(ScheduleError, match="spatial and reduce"):
        c.fuse(c.leaf_axes[1], c.leaf_axes[2])
    with pytest.raises(ScheduleError, match="twice"):
        d.reorder(i, i)
    with pytest.raises(ScheduleError, match="placeholder"):
        sch[inputs[0]]
    io, ii = d.split(i, 2)
    with pytest.raises(ScheduleError, match="not a current loop"):
        d.vectorize(i)
    with pytest.raises(ScheduleError, match="unknown schedule step"):
        apply_steps(create_schedule([out]), [{"op": "warp", "stage": "D"}])


def test_compute_at_into_non_reader_fails():
    from tc.compiler import te

    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] + 1.0, "B")
    C = te.compute((4,), lambda i: A[i] * 2.0, "C")
    D = te.compute((4,), lambda i: B[i] + C[i], "D")
    sch = create_schedule([D])
    with pytest.raises(ScheduleError, match="does not read"):
        sch[B].compute_at(sch[C], sch[C].leaf_axes[0])


def test_lower_errors():
    inputs, out, _ = matmul()
    sch = create_schedule([out])
    with pytest.raises(ScheduleError, match="must be in args"):
        lower(sch, inputs, "f")
    with pytest.raises(ScheduleError, match="not in args"):
        lower(sch, inputs[1:] + [out], "f")
    sch = create_schedule([out])
    c = sch[out.op.input_tensors[0]]
    c.compute_at(sch[out], sch[out].leaf_axes[0])
    with pytest.raises(ScheduleError, match="parameter"):
        lower(sch, inputs + [c.tensor, out], "f")


def test_reduce_outside_spatial_gets_separate_init_nest():
    inputs, out, ref = row_sum()
    sch = create_schedule([out])
    st = sch[out]
    i, k = st.leaf_axes
    st.reorder(k, i)
    func = check(sch, inputs, out, ref)
    top = func.body
    assert isinstance(top, L.Seq) and len(top.stmts) == 2
    init, update = top.stmts
    assert init.var.name == "i" and isinstance(init.body, L.Store)  # init over i alone
    assert update.var.name == "k" and update.body.var.name == "i"


def test_compute_at_checked_at_lowering():
    from tc.compiler import te

    A = te.placeholder((4,), "float32", "A")
    B = te.compute((4,), lambda i: A[i] + 1.0, "B")
    C = te.compute((4,), lambda i: B[i] * 2.0, "C")
    D = te.compute((4,), lambda i: C[i] + B[i], "D")
    sch = create_schedule([D])
    sch[B].compute_at(sch[C], sch[C].leaf_axes[0])
    with pytest.raises(ScheduleError, match="also read by"):
        lower(sch, [A, D], "f")
    sch = create_schedule([D])
    sch[C].compute_at(sch[D], sch[D].leaf_axes[0])
    sch[B].compute_inline()
    check(sch, [A], D, lambda a: (a + 1) * 2 + a + 1)
    sch = create_schedule([D])
    sch[B].compute_at(sch[D], sch[D].leaf_axes[0])
    sch[C].compute_inline()  # D now reads B directly and through C: still one reader
    check(sch, [A], D, lambda a: (a + 1) * 2 + a + 1)


def test_inlined_stage_has_no_loops():
    inputs, out, _ = elemwise()
    sch = create_schedule([out])
    m = sch[out.op.input_tensors[0]]
    m.compute_inline()
    with pytest.raises(ScheduleError, match="inlined"):
        m.split(m.leaf_axes[0], 2)
    with pytest.raises(ScheduleError, match="inlined"):
        m.vectorize(m.leaf_axes[0])
