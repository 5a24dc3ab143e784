"""Matrix products: Gemm and MatMul.

- Gemm(A, B[, C]; alpha, beta, transA, transB): ``alpha * A' @ B' + beta * C`` with A', B'
  optionally transposed (``transA``/``transB`` 0 | 1; ``alpha``/``beta`` floats, default
  1.0); C broadcasts to (M, N). TE: "matmul" stage with axes (i, j) and reduce axis k
  (attrs transA/transB say how A and B are read), then, when alpha != 1 or C is given, a
  "broadcast" epilogue stage.
- MatMul(A, B): numpy matmul semantics (batch broadcasting, 1-D operands promoted and
  their unit dim dropped); no attributes. TE: "matmul" stage with axes (batch..., i, j)
  and reduce axis k on the promoted shapes, then an "injective" stage dropping the
  promoted dims when an operand is 1-D.
- PackedMatMul(A, B_panels; n): ``A @ B`` for a constant B (K, n) stored as panels
  (n / NR, K, NR) of NR consecutive columns (``pack_panels``), so that the micro-kernel
  reads each K x NR panel contiguously; A has rank >= 2. Produced by the ``pack_weights``
  pass, never by a frontend. TE: one "matmul" stage (axes (batch..., i, j), reduce k)
  whose ``panel`` attribute is NR.
"""
from __future__ import annotations

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import broadcast_read, broadcast_shapes, define_op, same_dtype
from .registry import OpPattern


# --- Gemm ------------------------------------------------------------------------------

def _gemm_dims(types, attrs):
    a, b = types[:2]
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ValueError(f"Gemm needs 2-D A and B, got {a.shape} and {b.shape}")
    m, k = a.shape[::-1] if attrs.get("transA", 0) else a.shape
    kb, n = b.shape[::-1] if attrs.get("transB", 0) else b.shape
    if k != kb:
        raise ValueError(f"Gemm inner dims differ: A' is {(m, k)}, B' is {(kb, n)}")
    return m, n, k


def _gemm_infer(types, attrs):
    if len(types) not in (2, 3):
        raise ValueError(f"Gemm takes A, B and an optional C, got {len(types)} inputs")
    m, n, _ = _gemm_dims(types, attrs)
    if len(types) == 3 and broadcast_shapes(types[2].shape, (m, n)) != (m, n):
        raise ValueError(f"Gemm's C of shape {types[2].shape} does not broadcast to {(m, n)}")
    return [TensorType((m, n), same_dtype(types, "Gemm"))]


def _gemm_reference(xs, attrs):
    a = xs[0].T if attrs.get("transA", 0) else xs[0]
    b = xs[1].T if attrs.get("transB", 0) else xs[1]
    out = np.asarray(attrs.get("alpha", 1.0), a.dtype) * (a @ b)
    if len(xs) == 3:
        out = out + np.asarray(attrs.get("beta", 1.0), a.dtype) * xs[2]
    return [out]


def _gemm_compute(inputs, attrs):
    a, b = inputs[:2]
    m, n, kk = _gemm_dims([TensorType(t.shape, t.dtype) for t in (a, b)], attrs)
    ta, tb = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
    k = te.reduce_axis(kk, "k")

    def body(i, j):
        av = a[k.var, i] if ta else a[i, k.var]
        bv = b[j, k.var] if tb else b[k.var, j]
        return te.sum(av * bv, axis=k)

    mm = te.compute((m, n), body, "gemm", tag="matmul", attrs={"transA": ta, "transB": tb})
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    if alpha == 1.0 and len(inputs) == 2:
        return [mm]

    def epilogue(i, j):
        v = mm[i, j] if alpha == 1.0 else E.const(alpha, mm.dtype) * mm[i, j]
        if len(inputs) == 3:
            c = broadcast_read(inputs[2], (i, j))
            v = v + (c if beta == 1.0 else E.const(beta, mm.dtype) * c)
        return v

    return [te.compute((m, n), epilogue, "gemm_epilogue", tag="broadcast")]


define_op("Gemm", _gemm_infer, _gemm_reference, _gemm_compute, OpPattern.OUT_FUSABLE,
          __doc__)


# --- MatMul ----------------------------------------------------------------------------

def matmul_shapes(sa, sb, op: str = "MatMul"):
    """(promoted A shape, promoted B shape, full output shape, final output shape): 1-D
    operands are promoted and their unit dim dropped from the final shape, as numpy does."""
    if not sa or not sb:
        raise ValueError(f"{op} operands need rank >= 1")
    pa = (1,) + tuple(sa) if len(sa) == 1 else tuple(sa)
    pb = tuple(sb) + (1,) if len(sb) == 1 else tuple(sb)
    if pa[-1] != pb[-2]:
        raise ValueError(f"{op} inner dims differ: {tuple(sa)} @ {tuple(sb)}")
    batch = broadcast_shapes(pa[:-2], pb[:-2])
    full = batch + (pa[-2], pb[-1])
    final = batch + ((pa[-2],) if len(sa) > 1 else ()) + ((pb[-1],) if len(sb) > 1 else ())
    return pa, pb, full, final


def _matmul_infer(types, attrs):
    a, b = types
    return [TensorType(matmul_shapes(a.shape, b.shape)[3], same_dtype(types, "MatMul"))]


def batched_matmul(a, b, name: str, a_element=None, b_element=None):
    """numpy-style ``a @ b`` as TE: a "matmul" stage over the full (batch..., i, j) shape,
    plus an injective stage dropping the unit dims of 1-D operands.

    ``a_element(value, row)`` and ``b_element(value, col)`` transform each operand element
    before the multiply (casts, zero points); the default keeps it as is.
    """
    pa, pb, full, final = matmul_shapes(a.shape, b.shape, name)
    k = te.reduce_axis(pa[-1], "k")
    nb = len(full) - 2
    a_element = a_element or (lambda v, row: v)
    b_element = b_element or (lambda v, col: v)

    def batch_index(promoted, batch):
        own = promoted[:-2]
        offset = len(batch) - len(own)
        return tuple(E.const(0) if dim == 1 else batch[offset + d] for d, dim in enumerate(own))

    def body(*i):
        batch, row, col = i[:nb], i[nb], i[nb + 1]
        av = a[k.var] if a.ndim == 1 else a[batch_index(pa, batch) + (row, k.var)]
        bv = b[k.var] if b.ndim == 1 else b[batch_index(pb, batch) + (k.var, col)]
        return te.sum(a_element(av, row) * b_element(bv, col), axis=k)

    mm = te.compute(full, body, name, tag="matmul")
    if full == final:
        return mm

    def drop(*i):
        rows = (i[nb],) if a.ndim > 1 else (E.const(0),)
        cols = (i[-1],) if b.ndim > 1 else (E.const(0),)
        return mm[tuple(i[:nb]) + rows + cols]

    return te.compute(final, drop, f"{name}_squeeze", tag="injective")


def _matmul_compute(inputs, attrs):
    return [batched_matmul(inputs[0], inputs[1], "matmul")]


define_op("MatMul", _matmul_infer, lambda xs, attrs: [np.matmul(xs[0], xs[1])], _matmul_compute,
          OpPattern.OUT_FUSABLE, __doc__)


# --- PackedMatMul ----------------------------------------------------------------------

def pack_panels(b: np.ndarray, nr: int) -> np.ndarray:
    """B (K, N), N a multiple of ``nr``, as panels (N / nr, K, nr): panel p holds
    columns [p * nr, (p + 1) * nr)."""
    k, n = b.shape
    if n % nr:
        raise ValueError(f"cannot pack {n} columns into panels of {nr}")
    return np.ascontiguousarray(b.reshape(k, n // nr, nr).transpose(1, 0, 2))


def _packed_infer(types, attrs):
    a, bp = types
    n = int(attrs["n"])
    if len(a.shape) < 2 or len(bp.shape) != 3 or a.shape[-1] != bp.shape[1] \
            or bp.shape[0] * bp.shape[2] != n or a.dtype != bp.dtype:
        raise ValueError(f"PackedMatMul needs A (..., M, K) and panels (n / NR, K, NR) of one "
                         f"dtype with n = {n}, got {a} and {bp}")
    return [TensorType(a.shape[:-1] + (n,), a.dtype)]


def _packed_reference(xs, attrs):
    a, bp = xs
    b = bp.transpose(1, 0, 2).reshape(bp.shape[1], -1)
    return [np.matmul(a, b)]


def _packed_compute(inputs, attrs):
    a, bp = inputs
    nr = bp.shape[2]
    k = te.reduce_axis(a.shape[-1], "k")

    def body(*i):
        col = i[-1]
        return te.sum(a[tuple(i[:-1]) + (k.var,)] * bp[col // E.const(nr), k.var, col % E.const(nr)],
                      axis=k)

    return [te.compute(a.shape[:-1] + (int(attrs["n"]),), body, "packed_matmul", tag="matmul",
                       attrs={"panel": nr})]


define_op("PackedMatMul", _packed_infer, _packed_reference, _packed_compute,
          OpPattern.OUT_FUSABLE, __doc__)
