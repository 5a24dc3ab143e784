"""Measurement: candidates are built, checked against the reference kernel's outputs and
timed in child processes; a wrong, hanging or crashing candidate becomes an error record
and the batch goes on."""
import math

import numpy as np
import pytest

from tc.autotune.measure import MeasureError, measure, reduction_length, tolerance
from tc.autotune.measure_worker import compare, random_inputs
from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.schedule import create_schedule, default_schedule, lower
from tc.compiler.te import expr as E
from tc.targets.target import Target
from tests.compiler.schedule.sched_programs import matmul

M, K, N = 48, 64, 40


def _matmul_func(schedule=None, scale=None, name="mm"):
    """A PrimFunc of C = A @ B (times ``scale``, to make it wrong) scheduled by
    ``schedule(sch, C)`` (None: the default schedule)."""
    ins, C, _ = matmul(M, K, N, epilogue=False)
    if scale is not None:
        A, B = ins
        k = te.reduce_axis(K, "k")
        C = te.compute((M, N), lambda i, j: te.sum(A[i, k.var] * B[k.var, j] * scale, axis=k),
                       "C", tag="matmul")
    if schedule is None:
        sch = default_schedule([C], Target.parse("llvm").resolved())
    else:
        sch = create_schedule([C])
        schedule(sch, C)
    return lower(sch, ins + [C], name)


def _naive(sch, C):
    pass


def _ikj_vectorized(sch, C):
    st = sch[C]
    i, j, k = st.leaf_axes
    st.reorder(i, k, j)
    _, ji = st.split(j, 8)
    st.vectorize(ji)
    st.parallel(i)


def _params():
    return (L.Buffer("A", (M, K), "float32"), L.Buffer("B", (K, N), "float32"),
            L.Buffer("C", (M, N), "float32"))


def _hanging_func():
    """Adds 1 to C's elements round-robin 2**62 times: never finishes."""
    A, B, C = _params()
    i = E.Var("i")
    idx = i % (M * N)
    body = L.Store(C, idx, L.Load(C, idx) + E.const(1.0, "float32"))
    return L.PrimFunc("mm", (A, B, C), L.For(i, 0, 1 << 62, L.SERIAL, body))


def _crashing_func():
    """Stores one element 4 TiB past C's end."""
    A, B, C = _params()
    return L.PrimFunc("mm", (A, B, C), L.Store(C, E.const(1 << 40), E.const(1.0, "float32")))


@pytest.fixture(scope="module")
def reference():
    return _matmul_func()


def test_correct_schedules_are_timed(reference):
    candidates = [({"s": "naive"}, _matmul_func(_naive)),
                  ({"s": "ikj"}, _matmul_func(_ikj_vectorized, name="other_name")),
                  ({"s": "default"}, _matmul_func())]
    results = measure(candidates, reference, repeat=3, timeout=20.0, workers=2)
    assert [r.config for r in results] == [c for c, _ in candidates]
    for r in results:
        assert r.error is None, r.error
        assert len(r.costs) == 3 and all(0 < c < 1 for c in r.costs)
        assert min(r.costs) == r.best <= r.median < math.inf
        assert r.build_seconds > 0 and r.run_seconds > 0 and r.threads >= 1


def test_the_thread_count_used_is_reported(reference):
    results = measure([({"s": "default"}, _matmul_func())], reference, repeat=1,
                      num_threads=1)
    assert results[0].error is None and results[0].threads == 1


def test_failures_become_records_and_the_batch_goes_on(reference):
    good = _matmul_func(_naive)
    candidates = [("wrong", _matmul_func(_naive, scale=1.01)), ("good1", good),
                  ("hang", _hanging_func()), ("good2", good),
                  ("crash", _crashing_func()), ("good3", good)]
    timeout = 1.5
    results = {r.config: r for r in measure(candidates, reference, repeat=2, timeout=timeout)}
    assert results["wrong"].error.startswith("wrong result: max abs diff"), results["wrong"].error
    assert results["hang"].error == "timeout after 1.5 s"
    assert timeout <= results["hang"].run_seconds < timeout + 1.0
    assert results["crash"].error.startswith("crash: signal"), results["crash"].error
    for name in ("wrong", "hang", "crash"):
        assert results[name].costs == [] and results[name].median == math.inf
    for name in ("good1", "good2", "good3"):
        assert results[name].error is None and len(results[name].costs) == 2


def test_a_kernel_with_other_shapes_is_a_build_error(reference):
    ins, C, _ = matmul(M, K + 1, N, epilogue=False)
    other = lower(create_schedule([C]), ins + [C], "mm")
    result, = measure([("other", other)], reference, repeat=1)
    assert result.error == ("build: parameter 0 is float32[48, 65], the reference's is "
                            "float32[48, 64]")


def test_a_failing_reference_raises():
    with pytest.raises(MeasureError, match="crash: signal"):
        measure([("c", _matmul_func())], _crashing_func(), repeat=1)


def _int_add(schedule=None, extra=0, rows=None):
    """C = A + B (+ ``extra``) on int32, over the first ``rows`` rows only if given."""
    A = te.placeholder((M, N), "int32", "A")
    B = te.placeholder((M, N), "int32", "B")
    C = te.compute((M, N), lambda i, j: A[i, j] + B[i, j] + te.const(extra, "int32"), "C",
                   tag="elemwise")
    sch = create_schedule([C])
    if schedule is not None:
        schedule(sch, C)
    func = lower(sch, [A, B, C], "add")
    if rows is not None:  # stop the outer loop early: the last rows are never written
        outer = func.body
        func = L.PrimFunc(func.name, func.params, L.For(outer.var, 0, rows, outer.kind,
                                                           outer.body))
    return func


def _split_vectorize(sch, C):
    st = sch[C]
    _, ji = st.split(st.leaf_axes[-1], 8)
    st.vectorize(ji)


def test_integers_are_compared_exactly_and_unwritten_elements_are_caught():
    candidates = [("vectorized", _int_add(_split_vectorize)), ("plus_one", _int_add(extra=1)),
                  ("half", _int_add(rows=M // 2))]
    results = {r.config: r for r in measure(candidates, _int_add(), repeat=1)}
    assert results["vectorized"].error is None
    assert results["plus_one"].error.startswith("wrong result: max abs diff 1 at [")
    # the unwritten elements still hold the poison, INT32_MIN
    assert results["half"].error.startswith(
        f"wrong result: max abs diff 2.15e+09 at [{M // 2}, 0]")


def test_reduction_length_and_tolerance(reference):
    assert reduction_length(reference) == K
    assert reduction_length(_matmul_func(_ikj_vectorized)) == K
    assert reduction_length(_crashing_func()) == 1
    assert tolerance(_crashing_func()) == pytest.approx(1e-4)
    assert tolerance(reference) == pytest.approx(1e-4 * math.sqrt(K / 16))


def test_compare_against_numpy():
    a, b = random_inputs([((M, K), "float32"), ((K, N), "float32")], seed=3)
    assert np.all(np.abs(a) >= 0.1) and (a < 0).any() and (a > 0).any()
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert compare((a @ b).astype(np.float32), exact, tolerance(_matmul_func())) is None
    wrong = exact.copy()
    wrong[5, 7] += 0.05
    assert compare(wrong, exact, 1e-4).startswith("max abs diff 0.05 at [5, 7]")
    ints, = random_inputs([((100,), "int32")], seed=0)
    assert set(ints.tolist()) <= {1, 2, 3}
    assert compare(ints, ints, 0.0) is None and compare(ints + 1, ints, 1.0) is not None
