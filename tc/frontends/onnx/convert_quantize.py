"""ONNX converters for linear quantization: QuantizeLinear, DequantizeLinear,
DynamicQuantizeLinear, MatMulInteger and QLinearMatMul (see tc/compiler/ops/quantize.py
for the canonical attributes)."""
from __future__ import annotations

import numpy as np

from ...compiler.ops.common import normalize_axis
from ...compiler.ops.quantize import QUANT_DTYPES
from .importer import FrontendError, converter, np_dtype


def _axis_block(x, scale, attrs) -> dict:
    """axis (0 for per-tensor scales, where ONNX ignores it) and block_size."""
    block = int(attrs.get("block_size", 0))
    per_tensor = not block and len(scale.type.shape) <= 1 and int(
        np.prod(scale.type.shape, dtype=np.int64)) == 1
    rank = len(x.type.shape)
    axis = 0 if per_tensor or not rank else normalize_axis(attrs.get("axis", 1), rank)
    return {"axis": axis, "block_size": block}


def _check_dtype(node, dtype: str, what: str) -> None:
    if dtype not in QUANT_DTYPES:
        raise FrontendError(f"{node.op_type} {node.name!r}: {what} {dtype} is not supported; "
                            f"tc handles {', '.join(QUANT_DTYPES)}")


@converter("QuantizeLinear")
def _quantize(cv, node, attrs):
    ins = cv.inputs(node) + [None]
    x, scale, zp = ins[:3]
    if zp is not None:
        dtype = zp.type.dtype
    elif attrs.get("output_dtype"):
        dtype = np_dtype(int(attrs["output_dtype"]))
    else:
        dtype = "uint8"
    _check_dtype(node, dtype, "output dtype")
    canon = dict(_axis_block(x, scale, attrs), dtype=dtype)
    if dtype.startswith("float8"):
        canon["saturate"] = int(attrs.get("saturate", 1))
    cv.emit("QuantizeLinear", [v for v in (x, scale, zp) if v is not None], canon, node)


@converter("DequantizeLinear")
def _dequantize(cv, node, attrs):
    ins = cv.inputs(node) + [None]
    x, scale, zp = ins[:3]
    _check_dtype(node, x.type.dtype, "input dtype")
    if attrs.get("output_dtype") and np_dtype(int(attrs["output_dtype"])) != scale.type.dtype:
        raise FrontendError(f"DequantizeLinear {node.name!r}: output_dtype differs from the "
                            f"scale's dtype {scale.type.dtype}")
    cv.emit("DequantizeLinear", [v for v in (x, scale, zp) if v is not None],
            _axis_block(x, scale, attrs), node)


@converter("DynamicQuantizeLinear")
def _dynamic_quantize(cv, node, attrs):
    cv.emit("DynamicQuantizeLinear", cv.inputs(node)[:1], {}, node)


@converter("MatMulInteger")
def _matmul_integer(cv, node, attrs):
    ins = cv.inputs(node) + [None, None]
    a, b, za, zb = ins[:4]
    if zb is not None and za is None:   # B's zero point alone: A's is 0
        za = cv.constant(np.zeros((), a.type.dtype), node.output[0] + "_a_zero_point")
    cv.emit("MatMulInteger", [v for v in (a, b, za, zb) if v is not None], {}, node)


@converter("QLinearMatMul")
def _qlinear_matmul(cv, node, attrs):
    ins = cv.inputs(node)
    if len(ins) != 8 or any(v is None for v in ins):
        raise FrontendError(f"QLinearMatMul {node.name!r}: all 8 inputs are required")
    cv.emit("QLinearMatMul", ins, {}, node)
