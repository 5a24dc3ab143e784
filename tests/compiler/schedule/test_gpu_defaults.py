"""The default CUDA schedules, checked without a GPU: lowered for "cuda" and run on this
CPU (bound loops serially, barriers and thread all-reduces as no-ops), whole models must
match onnxruntime and single kernels numpy."""
import itertools

import numpy as np
import pytest

from tc._compile import compile_model
from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.schedule import InvalidConfig, Knobs, default_schedule, lower, schedule_space
from tc.targets.target import Target

from ...targets import test_c_models
from ...targets.c_models import onnxruntime_outputs

CUDA = Target.parse("cuda -arch=sm_80")
RNG = np.random.default_rng(11)


def _run_with_cuda_schedules(model, feeds):
    module = compile_model(model, "llvm", schedule_target=CUDA)
    return module.run([feeds[i.name] for i in model.graph.input])


@pytest.mark.parametrize("name", ["test_small_cnn", "test_mlp", "test_bert_like_encoder_layer",
                                  "test_int64_embedding_gather"])
def test_models_scheduled_for_cuda_match_onnxruntime(name, monkeypatch):
    """The C target's model tests (conv, depthwise conv, pools, Gemm, softmax, attention,
    layer norm, GELU, gathers), with every kernel scheduled for the GPU."""
    checked = []

    def check(model, feeds, rtol=1e-4, atol=1e-5):
        got = _run_with_cuda_schedules(model, feeds)
        for g, w in zip(got, onnxruntime_outputs(model, feeds)):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
        checked.append(model)

    monkeypatch.setattr(test_c_models, "check_c_target", check)
    getattr(test_c_models, name)()
    assert checked


def _matmul(M, N, K):
    A = te.placeholder((M, K), "float32", "A")
    B = te.placeholder((K, N), "float32", "B")
    k = te.reduce_axis(K, "k")
    return A, B, te.compute((M, N), lambda i, j: te.sum(A[i, k] * B[k, j], axis=k), "C",
                            tag="matmul")


def _stmts(s):
    yield s
    for name in ("body", "then_case", "else_case"):
        child = getattr(s, name, None)
        if isinstance(child, L.Stmt):
            yield from _stmts(child)
    for x in getattr(s, "stmts", ()):
        yield from _stmts(x)


def test_gemm_default_is_shared_and_register_tiled():
    A, B, C = _matmul(128, 128, 64)
    func = lower(default_schedule([C], CUDA), [A, B, C], "gemm")
    stmts = list(_stmts(func.body))
    scopes = sorted(s.buffer.scope for s in stmts if isinstance(s, L.Allocate))
    assert scopes == ["local", "shared", "shared"]
    kinds = {s.kind for s in stmts if isinstance(s, L.For)}
    assert {"blockIdx.x", "blockIdx.y", "threadIdx.x", "threadIdx.y", "unrolled"} <= kinds
    assert any(isinstance(s, L.Barrier) for s in stmts)


def test_every_gemm_config_is_refused_or_correct():
    """The knob space of a GEMM whose sizes no tile divides: each config either raises
    InvalidConfig or computes A @ B (guards on every partial tile)."""
    A, B, C = _matmul(40, 56, 24)
    space = schedule_space([C], CUDA)
    a = RNG.standard_normal((40, 24)).astype("float32")
    b = RNG.standard_normal((24, 56)).astype("float32")
    names = list(space)
    configs = [dict(zip(names, values)) for values in
               itertools.product(*(space[n].choices for n in names))]
    tried = 0
    for config in RNG.permutation(len(configs))[:12]:
        config = configs[config]
        try:
            sch = default_schedule([C], CUDA, Knobs(config))
        except InvalidConfig:
            continue
        c = np.zeros((40, 56), "float32")
        run_primfunc(lower(sch, [A, B, C], "gemm"), [a, b, c])
        np.testing.assert_allclose(c, a @ b, rtol=1e-4, atol=1e-4, err_msg=str(config))
        tried += 1
    assert tried >= 3


def test_long_row_reduction_uses_one_block_per_row():
    X = te.placeholder((5, 300), "float32", "X")
    r = te.reduce_axis(300, "r")
    Y = te.compute((5,), lambda i: te.sum(X[i, r], axis=r), "Y", tag="reduce")
    func = lower(default_schedule([Y], CUDA), [X, Y], "rowsum")
    reduces = [s for s in _stmts(func.body) if isinstance(s, L.ThreadAllReduce)]
    assert [(s.combiner, s.axis) for s in reduces] == [("sum", "threadIdx.x")]
    x = RNG.standard_normal((5, 300)).astype("float32")
    y = np.zeros(5, "float32")
    run_primfunc(func, [x, y])
    np.testing.assert_allclose(y, x.sum(axis=1), rtol=1e-4, atol=1e-4)


def test_large_elementwise_loops_grid_stride():
    n = 256 * 65536 * 2 + 3
    X = te.placeholder((n,), "float32", "X")
    Y = te.compute((n,), lambda i: X[i] * 2.0, "Y", tag="elemwise")
    func = lower(default_schedule([Y], CUDA), [X, Y], "scale")
    loops = [s for s in _stmts(func.body) if isinstance(s, L.For)]
    assert [s.kind for s in loops] == ["serial", "blockIdx.x", "threadIdx.x"]
    assert [s.extent.value for s in loops] == [3, 65536, 256]


@pytest.mark.parametrize("case", ["7x7_plane", "strided_7x7_kernel", "depthwise"])
def test_convs_whose_tiles_overhang_the_output(case):
    """Tiles of 64 channels x 64 pixels over 48 channels of 7x7 (threads past the edge
    must still reach the shared copies' barriers), a 7x7/2 stem conv read through its
    stride phases, and a depthwise conv."""
    from ...targets.c_models import GraphBuilder

    g = GraphBuilder(seed=5)
    if case == "7x7_plane":
        x = g.input("x", g.rand(1, 16, 7, 7))
        y = g.op("Conv", [x, g.weight((48, 16, 3, 3)), g.weight((48,), 0.1)], pads=[1, 1, 1, 1])
    elif case == "strided_7x7_kernel":
        x = g.input("x", g.rand(1, 3, 20, 20))
        y = g.op("Conv", [x, g.weight((64, 3, 7, 7))], pads=[3, 3, 3, 3], strides=[2, 2])
    else:
        x = g.input("x", g.rand(1, 32, 9, 9))
        y = g.op("Conv", [x, g.weight((32, 1, 3, 3))], pads=[1, 1, 1, 1], group=32)
    g.output(g.op("Relu", [y]))
    model = g.model()
    got = _run_with_cuda_schedules(model, g.feeds)
    np.testing.assert_allclose(got[0], onnxruntime_outputs(model, g.feeds)[0], rtol=1e-4, atol=1e-5)
