"""Padded pooling reads a materialized padding stage: compiled MaxPool / AveragePool /
LpPool against onnxruntime on random data, over odd sizes, strides 1 to 3,
count_include_pad, ceil_mode and dilations, batch 2."""
import pytest

from tc.compiler import te
from tc.compiler.ops.registry import lookup_op
from tc.compiler.schedule import default_schedule
from tests.compiler.ops.test_conv_pool_ops import check, rand

SIZES = (7, 13, 14)
WINDOWS = [  # (kernel, strides, pads, dilations, ceil_mode)
    ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 0),
    ((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 0),
    ((3, 3), (2, 2), (0, 0, 1, 1), (1, 1), 0),  # SAME_UPPER, as inception's max pools
    ((3, 3), (2, 2), (1, 0, 0, 1), (1, 1), 1),
    ((2, 3), (2, 1), (1, 1, 0, 1), (1, 1), 1),
    ((2, 2), (3, 3), (1, 1, 1, 1), (1, 1), 0),  # stride past the kernel
    ((5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 0),
    ((3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 0),
    ((3, 3), (2, 2), (2, 1, 2, 1), (2, 1), 1),
]


def _attrs(window, **extra):
    kernel, strides, pads, dilations, ceil_mode = window
    return dict(kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
                dilations=list(dilations), ceil_mode=ceil_mode, **extra)


def _id(window):
    kernel, strides, pads, dilations, ceil_mode = window
    return (f"k{kernel[0]}x{kernel[1]}s{strides[0]}x{strides[1]}p{''.join(map(str, pads))}"
            f"d{dilations[0]}x{dilations[1]}{'ceil' if ceil_mode else ''}")


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("window", WINDOWS, ids=_id)
def test_max_pool(window, size):
    check("MaxPool", [rand(2, 3, size, size)], _attrs(window))


@pytest.mark.parametrize("include_pad", [0, 1])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("window", WINDOWS, ids=_id)
def test_average_pool(window, size, include_pad):
    check("AveragePool", [rand(2, 3, size, size)], _attrs(window, count_include_pad=include_pad))


@pytest.mark.parametrize("window", [WINDOWS[1], WINDOWS[3]], ids=_id)
def test_max_pool_with_indices(window):
    attrs = {k: v for k, v in _attrs(window).items() if k != "dilations"}
    check("MaxPool", [rand(2, 3, 13, 13)], attrs, n_outputs=2)


@pytest.mark.parametrize("window", [WINDOWS[0], WINDOWS[2]], ids=_id)
def test_lp_pool(window):
    attrs = {k: v for k, v in _attrs(window, p=2).items() if k not in ("dilations", "ceil_mode")}
    check("LpPool", [rand(2, 3, 14, 14)], attrs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_padding_stage_is_materialized(op, strides):
    """The pool's padding stage is computed once, not inlined into every tap."""
    x = te.placeholder((1, 4, 14, 14), "float32", "x")
    attrs = dict(kernel_shape=(3, 3), strides=strides, pads=(1, 1, 1, 1), dilations=(1, 1),
                 ceil_mode=0, count_include_pad=0)
    outs = lookup_op(op).compute([x], attrs)
    sch = default_schedule(outs)
    pool = next(st for st in sch.stages if st.op.tag == "pool")
    read = [t for t in pool.op.input_tensors if t.op.tag == "pad"]
    assert read and all(sch[t].attach != "inline" for t in read)
