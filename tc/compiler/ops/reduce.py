"""Reductions: ReduceSum/Max/Min/Prod/Mean/L1/L2/LogSum/LogSumExp/SumSquare, ArgMax/ArgMin.

The Reduce* family is registered from one table (name, element map before reducing,
combiner, finishing map after reducing), so adding a reduction is one line.

Canonical attributes:
- Reduce*(X; axes, keepdims): ``axes`` a sorted tuple of distinct non-negative axes, never
  empty (the frontend resolves "all axes" and turns ``noop_with_empty_axes`` with no axes
  into Identity); ``keepdims`` 0 or 1. A reduction over an empty set gives the combiner's
  identity (0 for sums, 1 for Prod, the lowest value for Max, -inf for LogSum, NaN for
  Mean). TE: a "reduce" stage (attrs {"axes": axes}), then an "elemwise" finishing stage
  where the op has one (Mean, L2, LogSum, LogSumExp; LogSumExp reduces a max first).
- ArgMax / ArgMin(X; axis, keepdims, select_last_index): ``axis`` non-negative; output
  int64. TE: a "reduce" max (min) stage, then a "reduce" stage taking the first (last)
  index holding it.

``reduce_stage`` is the helper the normalization, loss and scan families build on.
"""
from __future__ import annotations

import numpy as np

from ..graph.dtypes import is_floating
from ..graph.ir import TensorType
from .. import te
from ..te import expr as E
from .common import define_op, normalize_axis
from .registry import OpPattern

_REDUCERS = {"sum": te.sum, "max": te.max, "min": te.min, "prod": te.prod}


def reduced_shape(shape, axes, keepdims: bool) -> tuple[int, ...]:
    """``shape`` with ``axes`` removed, or set to 1 when ``keepdims``."""
    return tuple(1 if d in axes else s for d, s in enumerate(shape) if keepdims or d not in axes)


def full_index(out_index, rank: int, axes, keepdims: bool, reduce_vars) -> tuple:
    """The input index of a reduction: output index ``out_index`` with ``reduce_vars``
    (one per axis of ``axes``, in order) put at ``axes``."""
    out_index = list(out_index)
    by_axis = dict(zip(axes, reduce_vars))
    full, pos = [], 0
    for d in range(rank):
        if d in by_axis:
            full.append(by_axis[d])
            pos += keepdims
        else:
            full.append(out_index[pos])
            pos += 1
    return tuple(full)


def reduce_stage(x, axes, keepdims: bool, combiner: str, body, name: str,
                 tag: str = "reduce") -> te.Tensor:
    """A compute reducing ``body(full_index, out_index)`` over ``x``'s ``axes`` with
    ``combiner`` ("sum", "max", "min", "prod"); its shape is ``reduced_shape``."""
    axes = tuple(axes)
    raxes = [te.reduce_axis(x.shape[a], f"k{a}") for a in axes]
    shape = reduced_shape(x.shape, axes, keepdims)

    def f(*i):
        idx = full_index(i, x.ndim, axes, keepdims, [r.var for r in raxes])
        return _REDUCERS[combiner](body(idx, i), axis=raxes)

    return te.compute(shape, f, name, tag=tag, attrs={"axes": axes})


def keep_index(out_index, axes) -> tuple:
    """Index into a keepdims reduction from a full-rank index."""
    return tuple(E.const(0) if d in axes else v for d, v in enumerate(out_index))


# --- the Reduce* family ----------------------------------------------------------------

def _np_lowest(dtype):
    if dtype == np.bool_:
        return False
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _np_highest(dtype):
    if dtype == np.bool_:
        return True
    return np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).max


def _np_logsumexp(x, axis, keepdims):
    if x.size == 0:
        return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis)


def _np_mean(x, axis, keepdims):
    n = int(np.prod([x.shape[a] for a in axis]))
    s = np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(s.astype(np.float64) / n).astype(x.dtype) if n else s
    with np.errstate(invalid="ignore", divide="ignore"):
        return s / x.dtype.type(n)


def _np_reduce(fn, **kw):
    return lambda x, axis, keepdims: fn(x, axis=axis, keepdims=keepdims, **kw)


def _mean_finish(s, n):
    if E.is_float(s.dtype):
        return s / E.const(n, s.dtype)
    return E.cast(s.dtype, E.cast("float64", s) / E.const(n, "float64"))


_REDUCE = [
    # name, numpy (x, axis, keepdims), TE pre-map, combiner, TE finish (s, count), float only
    ("ReduceSum", lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype),
     None, "sum", None, False),
    ("ReduceMax", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims,
                                                  initial=_np_lowest(x.dtype)),
     None, "max", None, False),
    ("ReduceMin", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims,
                                                  initial=_np_highest(x.dtype)),
     None, "min", None, False),
    ("ReduceProd", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims,
                                                    dtype=x.dtype),
     None, "prod", None, False),
    ("ReduceMean", _np_mean, None, "sum", _mean_finish, False),
    ("ReduceL1", lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims,
                                                 dtype=x.dtype),
     lambda v: E.call("fabs" if E.is_float(v.dtype) else "abs", v), "sum", None, False),
    ("ReduceL2", lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
     lambda v: v * v, "sum", lambda s, n: E.call("sqrt", s), True),
    ("ReduceSumSquare", lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims,
                                                        dtype=x.dtype),
     lambda v: v * v, "sum", None, False),
    ("ReduceLogSum", lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
     None, "sum", lambda s, n: E.call("log", s), True),
    ("ReduceLogSumExp", _np_logsumexp, None, "logsumexp", None, True),
]


def _check_reduce_attrs(name, x_type, attrs):
    axes = tuple(attrs["axes"])
    rank = len(x_type.shape)
    if not axes or list(axes) != sorted(set(axes)) or any(not 0 <= a < rank for a in axes):
        raise ValueError(f"{name} needs sorted distinct non-negative axes below rank {rank}, "
                         f"got {axes}")
    return axes, bool(attrs.get("keepdims", 1))


def _register_reduce(name, np_fn, pre, combiner, finish, float_only):
    def infer(types, attrs):
        (x,) = types
        axes, keep = _check_reduce_attrs(name, x, attrs)
        if float_only and not is_floating(x.dtype):
            raise ValueError(f"{name} is defined for float tensors in tc, got {x.dtype}; "
                             "Cast the input to float first")
        if x.dtype == "bool" and combiner not in ("max", "min"):
            raise ValueError(f"{name} does not take bool tensors")
        return [TensorType(reduced_shape(x.shape, axes, keep), x.dtype)]

    def reference(xs, attrs):
        axes, keep = tuple(attrs["axes"]), bool(attrs.get("keepdims", 1))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return [np_fn(xs[0], axes, keep)]

    def compute(inputs, attrs):
        (x,) = inputs
        axes, keep = tuple(attrs["axes"]), bool(attrs.get("keepdims", 1))
        stage = name.lower()
        if combiner == "logsumexp":
            return [_logsumexp_compute(x, axes, keep, stage)]
        fn = pre or (lambda v: v)
        red = reduce_stage(x, axes, keep, combiner, lambda idx, i: fn(x[idx]), stage)
        if finish is None:
            return [red]
        n = int(np.prod([x.shape[a] for a in axes]))
        return [te.compute(red.shape, lambda *i: finish(red[i], n), f"{stage}_out",
                           tag="elemwise")]

    define_op(name, infer, reference, compute, OpPattern.REDUCTION,
              f"{name}(X; axes, keepdims): see the module docstring.")


def _logsumexp_compute(x, axes, keep, stage):
    mx = reduce_stage(x, axes, True, "max", lambda idx, i: x[idx], f"{stage}_max")
    zero = E.const(0, x.dtype)

    def shift(i):  # the max, or 0 where it is infinite (empty sets, all -inf)
        m = mx[i]
        finite = E.logical_and(E.gt(m, E.const(-np.inf, x.dtype)), E.lt(m, E.const(np.inf, x.dtype)))
        return E.select(finite, m, zero)

    def body(idx, i):
        return E.call("exp", x[idx] - shift(keep_index(idx, axes)))

    s = reduce_stage(x, axes, keep, "sum", body, f"{stage}_sum")

    def out(*i):
        full = full_index(i, x.ndim, axes, keep, [E.const(0)] * len(axes)) if not keep else i
        return E.call("log", s[i]) + shift(keep_index(full, axes))

    return te.compute(s.shape, out, stage, tag="elemwise")


for _row in _REDUCE:
    _register_reduce(*_row)


# --- ArgMax / ArgMin -------------------------------------------------------------------

def _arg_params(x_type, attrs):
    axis = normalize_axis(attrs.get("axis", 0), len(x_type.shape))
    return axis, bool(attrs.get("keepdims", 1)), bool(attrs.get("select_last_index", 0))


def _register_arg(name, np_fn, combiner):
    def infer(types, attrs):
        (x,) = types
        axis, keep, _ = _arg_params(x, attrs)
        if x.shape[axis] == 0:
            raise ValueError(f"{name} over an empty axis {axis} has no answer")
        return [TensorType(reduced_shape(x.shape, (axis,), keep), "int64")]

    def reference(xs, attrs):
        (x,) = xs
        axis, keep, last = _arg_params(TensorType(x.shape, str(x.dtype)), attrs)
        if last:
            out = x.shape[axis] - 1 - np_fn(np.flip(x, axis), axis=axis)
        else:
            out = np_fn(x, axis=axis)
        return [np.expand_dims(out, axis) if keep else out]

    def compute(inputs, attrs):
        (x,) = inputs
        axis, keep, last = _arg_params(x, attrs)
        best = reduce_stage(x, (axis,), True, combiner, lambda idx, i: x[idx], f"{name.lower()}_value")
        n = x.shape[axis]

        def body(idx, i):
            hit = E.eq(x[idx], best[keep_index(idx, (axis,))])
            k = idx[axis]
            return E.select(hit, k, E.const(-1 if last else n))

        return [reduce_stage(x, (axis,), keep, "max" if last else "min", body, name.lower())]

    define_op(name, infer, reference, compute, OpPattern.REDUCTION,
              f"{name}(X; axis, keepdims, select_last_index): see the module docstring.")


_register_arg("ArgMax", np.argmax, "max")
_register_arg("ArgMin", np.argmin, "min")
