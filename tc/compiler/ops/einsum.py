"""Einsum: a sum of products over the index letters of an equation, as one TE compute.

Canonical attributes: ``equation`` (the ONNX string as given: explicit ``"ij,jk->ik"`` or
implicit ``"ij,jk"``, ``...`` for broadcast batch dimensions, spaces allowed).

The equation compiles into one compute: each output letter is a spatial axis, each letter
absent from the output a reduce axis, and the body is the product of the operands read at
their letters (a letter repeated within one operand reads its diagonal). Ellipsis dims
broadcast numpy-style across operands. TE tag: "reduce" when letters are summed,
"injective" otherwise (transposes, diagonals).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import define_op, same_dtype
from .registry import OpPattern


@dataclass(frozen=True)
class Plan:
    terms: tuple[tuple[str, ...], ...]   # letters of each operand, one per dim
    output: tuple[str, ...]              # output letters
    extents: dict                        # letter -> extent

    @property
    def summed(self) -> tuple[str, ...]:
        seen = [c for t in self.terms for c in t]
        return tuple(dict.fromkeys(c for c in seen if c not in self.output))


def parse(equation: str, shapes) -> Plan:
    """Resolve ``equation`` against the operand ``shapes``; ValueError when they disagree."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    raw_terms = lhs.split(",")
    if len(raw_terms) != len(shapes):
        raise ValueError(f"Einsum equation {equation!r} names {len(raw_terms)} operands, "
                         f"got {len(shapes)}")
    ell_ranks = []
    for t, s in zip(raw_terms, shapes):
        named = len(t.replace("...", ""))
        if "..." not in t and named != len(s) or named > len(s):
            raise ValueError(f"Einsum term {t!r} does not fit an operand of shape {tuple(s)}")
        ell_ranks.append(len(s) - named if "..." in t else 0)
    n_ell = max(ell_ranks, default=0)
    ell = [f"...{d}" for d in range(n_ell)]

    def letters(term, rank_e):
        head, dots, tail = term.partition("...")
        return tuple(head) + (tuple(ell[n_ell - rank_e:]) if dots else ()) + tuple(tail)

    terms = tuple(letters(t, r) for t, r in zip(raw_terms, ell_ranks))
    seen: dict = {}
    for t, s in zip(terms, shapes):
        for c, n in zip(t, s):
            seen.setdefault(c, set()).add(int(n))
    extents = {}
    for c, ns in seen.items():
        big = ns - {1} if c.startswith("...") else ns  # only ellipsis dims broadcast
        if len(big) > 1:
            what = "an ellipsis dim" if c.startswith("...") else f"letter {c!r}"
            raise ValueError(f"Einsum {equation!r}: {what} has extents {sorted(ns)}")
        extents[c] = big.pop() if big else 1
    if arrow:
        output = letters(rhs, n_ell) if "..." in rhs else tuple(rhs)
    else:
        counts = [c for t in terms for c in t if not c.startswith("...")]
        output = tuple(ell) + tuple(sorted(c for c in set(counts) if counts.count(c) == 1))
    for c in output:
        if c not in extents:
            raise ValueError(f"Einsum {equation!r}: output letter {c!r} is in no operand")
    return Plan(terms, output, extents)


def _infer(types, attrs):
    if not types:
        raise ValueError("Einsum needs at least one operand")
    dtype = same_dtype(types, "Einsum")
    if dtype == "bool":
        raise ValueError("Einsum does not take bool tensors")
    plan = parse(attrs["equation"], [t.shape for t in types])
    return [TensorType(tuple(plan.extents[c] for c in plan.output), dtype)]


def _reference(xs, attrs):
    return [np.einsum(attrs["equation"], *xs)]


def _compute(inputs, attrs):
    plan = parse(attrs["equation"], [t.shape for t in inputs])
    summed = plan.summed
    raxes = [te.reduce_axis(plan.extents[c], f"r_{c.strip('.')}") for c in summed]
    shape = tuple(plan.extents[c] for c in plan.output)

    def body(*i):
        var = dict(zip(plan.output, i))
        var.update({c: r.var for c, r in zip(summed, raxes)})
        reads = [t[tuple(E.const(0) if n == 1 and plan.extents[c] != 1 else var[c]
                         for c, n in zip(term, t.shape))]
                 for t, term in zip(inputs, plan.terms)]
        prod = functools.reduce(lambda a, b: a * b, reads)
        return te.sum(prod, axis=raxes) if raxes else prod

    return [te.compute(shape, body, "einsum", tag="reduce" if raxes else "injective",
                       attrs={"equation": attrs["equation"]})]


define_op("Einsum", _infer, _reference, _compute, OpPattern.REDUCTION, __doc__)
