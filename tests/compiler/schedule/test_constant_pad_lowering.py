"""A materialized constant-padding stage lowers to a fill and an interior copy (no
select, no clamped reads), runs in parallel when scheduled so, and stays exact; also
through the LLVM path, where the stride-2 reads of the padded input are shuffled loads."""
import numpy as np
import pytest

from tc.compiler import te
from tc.compiler.loops import ir as L
from tc.compiler.ops.pad import pad_stage
from tc.compiler.schedule import create_schedule
from tc.compiler.te import expr as E
from tests.compiler.schedule.sched_programs import check


def _padded_sum(shape=(2, 3, 5, 7), begin=(0, 0, 1, 2), end=(0, 0, 2, 1), value=-1.5,
                stride=1):
    """relu(pad(x)) read back by a stage that sums two horizontally adjacent taps."""
    x = te.placeholder(shape, "float32", "x")
    r = te.compute(shape, lambda a, b, c, d: te.maximum(x[a, b, c, d], te.const(0.0)),
                   "relu", tag="elemwise")
    p = pad_stage(r, begin, end, value, "padded")
    oh, ow = p.shape[2], (p.shape[3] - 2) // stride + 1
    out = te.compute((shape[0], shape[1], oh, ow), lambda a, b, c, d:
                     p[a, b, c, d * stride] + p[a, b, c, d * stride + 1], "taps", tag="pool")

    def ref(xv):
        pv = np.pad(np.maximum(xv, 0), list(zip(begin, end)), constant_values=value)
        return pv[..., 0:ow * stride:stride][..., :ow] + pv[..., 1:ow * stride + 1:stride][..., :ow]
    return x, r, p, out, ref


def _nodes(stmt):
    return list(E.walk(stmt))


@pytest.mark.parametrize("executor", ["interpret", "llvm"])
def test_pad_is_a_fill_and_an_interior_copy(executor):
    x, r, p, out, ref = _padded_sum()
    sch = create_schedule([out])
    sch[r].compute_inline()
    sch[p].parallel(sch[p].leaf_axes[0])
    func = check(sch, [x], out, ref, executor=executor)
    pad_nests = [n for n in _nodes(func.body) if isinstance(n, L.For) and n.kind == L.PARALLEL]
    assert len(pad_nests) == 2  # the fill, then the copy, each over fused rows
    stores = [n for n in _nodes(func.body) if isinstance(n, L.Store) and n.buffer.name == "padded"]
    assert len(stores) == 2
    assert not any(isinstance(m, (E.Select, L.IfThenElse)) for s in stores for m in E.walk(s.value))
    assert not any(isinstance(m, E.Binary) and m.op in ("min", "max") and
                   not any(isinstance(k, E.Const) and k.value == 0.0 and k.dtype == "float32"
                           for k in (m.a, m.b))
                   for s in stores for m in E.walk(s.value))  # only the relu's max(v, 0.0)


def test_stride_two_reads_of_a_padded_input_are_exact_through_llvm():
    x, r, p, out, ref = _padded_sum(shape=(1, 2, 4, 19), begin=(0, 0, 0, 3), end=(0, 0, 0, 3),
                                    value=0.0, stride=2)
    sch = create_schedule([out])
    sch[r].compute_inline()
    _, inner = sch[out].split(sch[out].leaf_axes[-1], 4)
    sch[out].vectorize(inner)
    check(sch, [x], out, ref, executor="llvm")
