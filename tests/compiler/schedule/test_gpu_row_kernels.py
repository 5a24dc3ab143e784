"""The default GPU schedule of row groups (softmax, log-softmax, layer norm, with their
fused prologue): one block per row, the row statistics computed at the row loop by
cross-thread reductions, the output strided over the same threads.  Checked on the loop
IR and run serially through the LLVM target (bound loops in turn, all-reduces as no-ops)
against numpy; groups of another shape keep the per-stage rules.  The generated CUDA is
checked in tests/targets/test_cuda_row_kernels.py."""
import numpy as np
import pytest

from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.ops.registry import lookup_op
from tc.compiler.schedule import Knobs, default_schedule, lower, schedule_space
from tc.compiler.schedule.schedule import create_schedule
from tc.compiler.te import expr as E
from tc.targets.target import Target

from .sched_programs import random_inputs, run
from .test_gpu_defaults import _stmts

CUDA = Target.parse("cuda -arch=sm_80")


def _softmax(x, log=False):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    s = e.sum(axis=-1, keepdims=True)
    return np.log(e / s) if log else e / s


def _layer_norm(x, scale, bias, axes):
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-5) * scale + bias


def row_program(case: str):
    """(input placeholders, output tensor, numpy oracle, rows, row length) of a row
    group; the cases name the op and the shape it normalizes."""
    def op(name, inputs, **attrs):
        return lookup_op(name).compute(inputs, attrs)[0]

    def ph(shape, name):
        return te.placeholder(shape, "float32", name)

    if case.startswith(("softmax_", "log_softmax_")):
        shape = tuple(int(n) for n in case.split("_")[-1].split("x"))
        log = case.startswith("log")
        x = ph(shape, "x")
        out = op("LogSoftmax" if log else "Softmax", [x], axis=len(shape) - 1)
        return [x], out, lambda a: _softmax(a.astype(np.float64), log), \
            int(np.prod(shape[:-1])), shape[-1]
    if case == "attention_scores":  # Softmax(scores * 0.125 + mask): the prologue inlined
        x, mask = ph((2, 3, 40), "x"), ph((40,), "mask")
        y = te.compute(x.shape, lambda b, i, j: x[b, i, j] * E.const(0.125, "float32")
                       + mask[j], "scaled", tag="elemwise")
        return [x, mask], op("Softmax", [y], axis=2), \
            lambda a, m: _softmax(a.astype(np.float64) * 0.125 + m), 6, 40
    if case.startswith("layer_norm_"):  # layer_norm_<shape>_<first normalized axis>
        dims, axis = case[len("layer_norm_"):].rsplit("_", 1)
        shape, axis = tuple(int(n) for n in dims.split("x")), int(axis)
        x, scale, bias = ph(shape, "x"), ph(shape[axis:], "scale"), ph(shape[axis:], "bias")
        axes = tuple(range(axis, len(shape)))
        out = op("LayerNormalization", [x, scale, bias], axis=axis, epsilon=1e-5)
        return [x, scale, bias], out, \
            lambda a, s, b: _layer_norm(a.astype(np.float64), s, b, axes), \
            int(np.prod(shape[:axis])), int(np.prod(shape[axis:]))
    raise ValueError(case)


def _root(func: L.PrimFunc) -> L.Stmt:
    """The function body without its root allocations and a one-statement Seq."""
    body = func.body
    while isinstance(body, (L.Allocate, L.Seq)):
        if isinstance(body, L.Seq):
            if len(body.stmts) != 1:
                break
            body = body.stmts[0]
        else:
            body = body.body
    return body


STRUCTURE_CASES = ["softmax_4x128", "softmax_3x1000", "log_softmax_2x3x256",
                   "layer_norm_4x768_1", "attention_scores"]


@pytest.mark.parametrize("case", STRUCTURE_CASES)
def test_row_group_is_one_block_per_row(case):
    """One root loop on blockIdx.x over the rows, no root temporaries; inside it one
    all-reduce over threadIdx.x per reduction stage, then the output's thread loop."""
    inputs, out, _, rows, width = row_program(case)
    sch = default_schedule([out], CUDA)
    func = lower(sch, inputs + [out], "row")
    root = _root(func)
    assert isinstance(root, L.For) and root.kind == "blockIdx.x" and root.extent.value == rows
    stmts = list(_stmts(root))
    reductions = [s for s in sch.stages if s.is_reduction]
    assert all(s.attach == "at" for s in reductions)
    reduces = [s for s in stmts if isinstance(s, L.ThreadAllReduce)]
    assert len(reduces) == len(reductions) >= 2
    threads = {s.extent for s in reduces}
    loops = [s for s in stmts if isinstance(s, L.For) and s.kind == "threadIdx.x"]
    assert len(threads) == 1 and {s.extent.value for s in loops} == threads
    assert len(loops) == len(reductions) + 1  # each statistic's threads, the output's
    assert not any(isinstance(s, L.Allocate) and s.buffer.scope == L.SHARED for s in stmts)


# a row shorter than the threads (20 of 32), rows no multiple of the threads (1000 of
# 128, 100 of 32), several leading axes fused into the row loop, layer norms over two
# axes (one of them of size 1), and the attention scores' inlined scale and mask
NUMERIC_CASES = ["softmax_5x20", "log_softmax_3x20", "softmax_3x1000", "softmax_2x3x100",
                 "log_softmax_2x3x256", "layer_norm_3x768_1", "layer_norm_2x4x24_1",
                 "layer_norm_3x1x40_1", "softmax_3x1x40", "attention_scores"]


@pytest.mark.parametrize("case", NUMERIC_CASES)
def test_row_kernel_run_serially_matches_numpy(case):
    inputs, out, ref, _, _ = row_program(case)
    data = random_inputs(inputs, seed=3)
    sch = default_schedule([out], CUDA)
    assert all(s.attach == "at" for s in sch.stages if s.is_reduction)
    got, _ = run(sch, inputs, out, data=data, executor="llvm")
    np.testing.assert_allclose(got, ref(*data), rtol=1e-4, atol=1e-5)


def test_every_threads_choice_matches_numpy():
    """The row kernel's one ``threads`` knob (shared by the statistics and the output)."""
    inputs, out, ref, _, width = row_program("layer_norm_2x300_1")
    space = schedule_space([out], CUDA)
    [name] = [n for n in space if n.endswith(".threads")]
    assert list(space[name].choices) == [32, 64, 128, 256]
    data = random_inputs(inputs, seed=4)
    for threads in space[name].choices:
        sch = default_schedule([out], CUDA, Knobs({name: threads}))
        got, func = run(sch, inputs, out, data=data, executor="llvm")
        assert {s.extent for s in _stmts(func.body) if isinstance(s, L.ThreadAllReduce)} \
            == {threads}
        np.testing.assert_allclose(got, ref(*data), rtol=1e-4, atol=1e-5, err_msg=str(threads))


@pytest.mark.parametrize("case", ["short_rows", "inner_axis"])
def test_other_groups_keep_the_per_stage_rules(case):
    """Rows shorter than ROW_KERNEL_MIN, and a softmax over an inner axis (its rows are not
    contiguous): a kernel per stage, as before, and still right."""
    if case == "short_rows":
        inputs, out, ref, _, _ = row_program("softmax_6x8")
    else:
        x = te.placeholder((2, 70, 3), "float32", "x")
        inputs, out = [x], lookup_op("Softmax").compute([x], {"axis": 1})[0]

        def ref(a):
            return _softmax(np.moveaxis(a.astype(np.float64), 1, -1)).transpose(0, 2, 1)
    sch = default_schedule([out], CUDA)
    assert all(s.attach != "at" for s in sch.stages)
    data = random_inputs(inputs, seed=5)
    got, _ = run(sch, inputs, out, data=data, executor="llvm")
    np.testing.assert_allclose(got, ref(*data), rtol=1e-4, atol=1e-5)


def test_statistics_at_one_loop_feed_each_other():
    """Lowering: B is computed at C's row loop and read there by C (its first 5 columns)
    and by D (a row sum over all 8, also computed at that loop): B's region per row is
    the whole row, what D reads, not just what C reads."""
    A = te.placeholder((4, 8), "float32", "A")
    B = te.compute((4, 8), lambda i, j: A[i, j] * 2.0, "B", tag="scale")
    k = te.reduce_axis(8, "k")
    D = te.compute((4,), lambda i: te.sum(B[i, k.var], axis=k), "D", tag="reduce")
    C = te.compute((4, 5), lambda i, j: B[i, j] - D[i], "C", tag="out")
    sch = create_schedule([C])
    row = sch[C].op.axes[0]
    sch[B].compute_at(sch[C], row)
    sch[D].compute_at(sch[C], row)
    a = random_inputs([A], seed=6)[0]
    got, func = run(sch, [A], C, data=[a])
    [b_buf] = [s.buffer for s in _stmts(func.body)
               if isinstance(s, L.Allocate) and s.buffer.name == "B"]
    assert b_buf.shape == (1, 8)
    np.testing.assert_allclose(got, (2 * a - 2 * a.sum(axis=1, keepdims=True))[:, :5],
                               rtol=1e-5, atol=1e-5)
