"""Det: the determinant of the trailing square matrices of a tensor.

Canonical attributes: none. X is (..., n, n) float; the result has shape X.shape[:-2].

TE: one "injective" stage evaluating the Leibniz formula (a signed sum over the n!
permutations of products of n entries) as a closed-form expression, so it is limited to
n <= MAX_N; larger matrices need an LU factorization, which the TE cannot express as a
loop nest without sequential pivoting.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import define_op
from .registry import OpPattern

MAX_N = 4


def _sign(perm) -> int:
    inversions = sum(a > b for a, b in itertools.combinations(perm, 2))
    return -1 if inversions % 2 else 1


def _infer(types, attrs):
    (x,) = types
    if len(x.shape) < 2 or x.shape[-1] != x.shape[-2] or not is_floating(x.dtype):
        raise ValueError(f"Det needs float square matrices (..., n, n), got {x}")
    if x.shape[-1] > MAX_N:
        raise ValueError(f"Det in tc handles matrices up to {MAX_N}x{MAX_N} (closed form), "
                         f"got {x.shape[-1]}x{x.shape[-1]}")
    return [TensorType(x.shape[:-2], x.dtype)]


def _compute(inputs, attrs):
    (x,) = inputs
    n = x.shape[-1]

    def body(*b):
        if n == 0:
            return E.const(1, x.dtype)
        terms = []
        for perm in itertools.permutations(range(n)):
            term = functools.reduce(lambda a, c: a * c,
                                    [x[tuple(b) + (E.const(r), E.const(c))] for r, c in enumerate(perm)])
            terms.append((_sign(perm), term))
        out = terms[0][1] if terms[0][0] > 0 else E.const(0, x.dtype) - terms[0][1]
        for s, t in terms[1:]:
            out = out + t if s > 0 else out - t
        return out

    return [te.compute(x.shape[:-2], body, "det", tag="injective")]


define_op("Det", _infer, lambda xs, attrs: [np.linalg.det(xs[0])], _compute, OpPattern.INJECTIVE,
          __doc__)
