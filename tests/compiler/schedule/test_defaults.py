import numpy as np
import pytest

from tests.compiler.schedule.sched_programs import check, conv2d, elemwise, matmul, row_sum

from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.schedule import apply_steps, create_schedule, default_schedule, lower
from tc.compiler.te.expr import walk


class FourLanes:
    def vector_width(self, dtype):
        return 4


def _loops(func):
    return [n for n in walk(func.body) if isinstance(n, L.For)]


@pytest.mark.parametrize("target", [None, FourLanes()], ids=["default8", "lanes4"])
@pytest.mark.parametrize("program,kwargs", [
    (elemwise, {}), (elemwise, {"shape": (4, 16)}), (row_sum, {}), (matmul, {}),
    (matmul, {"M": 2, "K": 3, "N": 16}), (matmul, {"epilogue": False}), (conv2d, {}),
    (conv2d, {"W": 8, "OC": 6, "IC": 2}), (conv2d, {"W": 13, "H": 3, "OC": 3}),
], ids=lambda x: getattr(x, "__name__", str(x)))
@pytest.mark.parametrize("executor", ["interpret", "llvm"])
def test_default_schedule_is_correct(program, kwargs, target, executor):
    inputs, out, ref = program(**kwargs)
    sch = default_schedule([out], target)
    check(sch, inputs, out, ref, executor=executor)
    # a default schedule is replayable like a tuned one
    again = apply_steps(create_schedule([out]), sch.steps)
    assert str(lower(again, inputs + [out], "f")) == str(lower(sch, inputs + [out], "f"))


def test_elementwise_chain_is_inlined_and_vectorized():
    inputs, out, ref = elemwise(shape=(4, 16))
    func = check(default_schedule([out]), inputs, out, ref)
    assert not any(isinstance(n, L.Allocate) for n in walk(func.body))
    kinds = [lp.kind for lp in _loops(func)]
    assert kinds[-1] == L.VECTORIZED and all(lp.extent == te.const(8) for lp in _loops(func)[-1:])


def test_conv_default_structure():
    inputs, out, ref = conv2d(N=1, IC=4, H=4, W=16, OC=8)
    func = check(default_schedule([out]), inputs, out, ref)
    loops = _loops(func)
    # the padded input is materialized first (too little work to split across threads),
    # then the conv runs in parallel
    assert any(lp.kind == L.PARALLEL for lp in loops)
    vec = [lp for lp in loops if lp.kind == L.VECTORIZED]
    assert vec and all(isinstance(v.body, L.Store) for v in vec)  # vector loops innermost
    assert any(lp.kind == L.UNROLLED for lp in loops)
    # the padded input (4 x 6 x 18) is one buffer; the conv result lives in a per-task
    # block (4 channels x 2 rows x 8 columns), not a whole tensor
    allocs = [n.buffer for n in walk(func.body) if isinstance(n, L.Allocate)]
    assert sorted(b.size for b in allocs) == [4 * 2 * 8, 4 * 6 * 18]
    # so the conv's vector loops read it without per-lane selects
    conv_vec = [v for v in vec if any(isinstance(n, L.Load) and n.buffer.size == 4 * 6 * 18
                                      for n in walk(v.body))]
    assert conv_vec and not any(isinstance(n, te.Select) for v in conv_vec for n in walk(v.body))


def test_matmul_default_structure():
    inputs, out, ref = matmul(M=64, K=8, N=64)
    func = check(default_schedule([out]), inputs, out, ref)
    loops = _loops(func)
    assert loops[0].kind == L.PARALLEL
    vec = [lp for lp in loops if lp.kind == L.VECTORIZED]
    assert len(vec) == 3  # init, accumulate, epilogue
    assert all(isinstance(v.body, L.Store) and v.extent == te.const(8) for v in vec)


def test_generic_fallback_on_mixed_graph():
    """Softmax over rows, a transpose and a 0-d reduction: no tags the rules know."""
    A = te.placeholder((3, 5), "float32", "A")
    k = te.reduce_axis(5, "k")
    mx = te.compute((3,), lambda i: te.max(A[i, k.var], axis=k), "mx", tag="reduce")
    ex = te.compute((3, 5), lambda i, j: te.call("exp", A[i, j] - mx[i]), "ex", tag="elemwise")
    k2 = te.reduce_axis(5, "k2")
    sm = te.compute((3,), lambda i: te.sum(ex[i, k2.var], axis=k2), "sm", tag="reduce")
    out = te.compute((5, 3), lambda j, i: ex[i, j] / sm[i], "out", tag="softmax")
    r = te.reduce_axis(3, "r")
    total = te.compute((), lambda: te.sum(sm[r.var], axis=r), "total", tag="whatever")

    def ref(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).T

    sch = default_schedule([out, total])
    data = [np.random.default_rng(1).standard_normal((3, 5)).astype("float32")]
    func = lower(sch, [A, out, total], "softmax")
    from tc.compiler.loops.interpret import run_primfunc
    from tc.compiler.loops.verifier import verify_primfunc
    verify_primfunc(func)
    o, t = np.zeros((5, 3), "float32"), np.zeros((), "float32")
    run_primfunc(func, data + [o, t])
    np.testing.assert_allclose(o, ref(data[0]), rtol=1e-5)
    e = np.exp(data[0] - data[0].max(axis=1, keepdims=True))
    np.testing.assert_allclose(t, e.sum(), rtol=1e-5)


def test_large_stage_runs_parallel_small_does_not():
    big_in, big, _ = elemwise(shape=(64, 512))
    small_in, small, _ = elemwise(shape=(2, 8))
    big_f = lower(default_schedule([big]), big_in + [big], "big")
    small_f = lower(default_schedule([small]), small_in + [small], "small")
    assert _loops(big_f)[0].kind == L.PARALLEL
    assert all(lp.kind != L.PARALLEL for lp in _loops(small_f))


@pytest.mark.parametrize("extent,lanes,expected", [
    (64, 8, 8), (7, 8, 7), (14, 8, 7), (28, 8, 7), (13, 8, 8), (1, 8, None), (10, 1, None), (12, 8, 6),
])
def test_vector_factor(extent, lanes, expected):
    from tc.compiler.schedule.defaults import vector_factor
    assert vector_factor(extent, lanes) == expected
