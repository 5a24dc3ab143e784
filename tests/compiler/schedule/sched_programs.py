"""Small TE programs and a runner shared by the schedule tests (tiny shapes: the loop-IR
interpreter is the oracle's executor)."""
from __future__ import annotations

import numpy as np

from tc.compiler import te
from tc.compiler.loops.interpret import run_primfunc
from tc.compiler.loops.verifier import verify_primfunc
from tc.compiler.schedule import lower


def elemwise(shape=(3, 10)):
    """D = exp(A) * B + 1 through two intermediate stages."""
    A = te.placeholder(shape, "float32", "A")
    B = te.placeholder(shape, "float32", "B")
    E1 = te.compute(shape, lambda i, j: te.call("exp", A[i, j]), "E1", tag="elemwise")
    M = te.compute(shape, lambda i, j: E1[i, j] * B[i, j], "M", tag="elemwise")
    D = te.compute(shape, lambda i, j: M[i, j] + 1.0, "D", tag="elemwise")
    return [A, B], D, lambda a, b: np.exp(a) * b + 1


def row_sum(shape=(5, 9)):
    A = te.placeholder(shape, "float32", "A")
    k = te.reduce_axis(shape[1], "k")
    S = te.compute((shape[0],), lambda i: te.sum(A[i, k.var], axis=k), "S", tag="reduce")
    return [A], S, lambda a: a.sum(axis=1)


def matmul(M=5, K=7, N=6, epilogue=True):
    A = te.placeholder((M, K), "float32", "A")
    B = te.placeholder((K, N), "float32", "B")
    bias = te.placeholder((N,), "float32", "bias")
    k = te.reduce_axis(K, "k")
    C = te.compute((M, N), lambda i, j: te.sum(A[i, k.var] * B[k.var, j], axis=k), "C", tag="matmul")
    if not epilogue:
        return [A, B], C, lambda a, b: a @ b
    D = te.compute((M, N), lambda i, j: te.maximum(C[i, j] + bias[j], te.const(0.0)), "D", tag="elemwise")
    return [A, B, bias], D, lambda a, b, c: np.maximum(a @ b + c, 0)


def conv2d(N=1, IC=3, H=5, W=6, OC=8, K=3, pad=1):
    X = te.placeholder((N, IC, H, W), "float32", "X")
    Wt = te.placeholder((OC, IC, K, K), "float32", "W")
    bias = te.placeholder((OC,), "float32", "bias")
    P = te.compute((N, IC, H + 2 * pad, W + 2 * pad),
                   lambda n, c, y, x: te.select(
                       te.logical_and(te.ge(y, pad), te.lt(y, H + pad), te.ge(x, pad), te.lt(x, W + pad)),
                       X[n, c, y - pad, x - pad], te.const(0.0)), "pad", tag="pad")
    OH, OW = H + 2 * pad - K + 1, W + 2 * pad - K + 1
    ic, ky, kx = te.reduce_axis(IC, "ic"), te.reduce_axis(K, "ky"), te.reduce_axis(K, "kx")
    C = te.compute((N, OC, OH, OW), lambda n, oc, oy, ox: te.sum(
        P[n, ic.var, oy + ky.var, ox + kx.var] * Wt[oc, ic.var, ky.var, kx.var], axis=[ic, ky, kx]),
        "conv", tag="conv2d", attrs={"layout": "NCHW"})
    R = te.compute(C.shape, lambda n, c, y, x: te.maximum(C[n, c, y, x] + bias[c], te.const(0.0)),
                   "relu", tag="elemwise")

    def ref(x, w, b):
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, OC, OH, OW), np.float64)
        for oy in range(OH):
            for ox in range(OW):
                out[:, :, oy, ox] = np.einsum("ncyx,ocyx->no", xp[:, :, oy:oy + K, ox:ox + K], w)
        return np.maximum(out + b[None, :, None, None], 0)
    return [X, Wt, bias], R, ref


def random_inputs(tensors, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(t.shape) + 0.5).astype(t.dtype) for t in tensors]


def run(sch, inputs, output, name="kernel", data=None, executor="interpret"):
    """Lower, verify and execute with the loop-IR interpreter ("interpret") or LLVM code
    generation ("llvm"); returns (output array, PrimFunc)."""
    func = lower(sch, list(inputs) + [output], name)
    verify_primfunc(func)
    data = data if data is not None else random_inputs(inputs)
    out = np.full(output.shape, np.nan, output.dtype)
    if executor == "llvm":
        from tests.targets.jit import jit_run

        jit_run(func, list(data) + [out])
    else:
        run_primfunc(func, list(data) + [out])
    return out, func


def check(sch, inputs, output, ref, rtol=1e-4, atol=1e-4, executor="interpret"):
    """Run ``sch`` and compare with the numpy ``ref``; returns the PrimFunc."""
    data = random_inputs(inputs)
    out, func = run(sch, inputs, output, data=data, executor=executor)
    np.testing.assert_allclose(out, ref(*data), rtol=rtol, atol=atol)
    return func
