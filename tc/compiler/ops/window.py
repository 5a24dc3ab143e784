"""Sliding-window arithmetic shared by Conv, pooling and the frontends.

Conventions (the canonical attributes of Conv and pooling):
``pads`` = (begin_0, ..., begin_{n-1}, end_0, ..., end_{n-1}) over the n spatial dims;
``strides`` and ``dilations`` have one entry per spatial dim. ``auto_pad`` never reaches
an op: frontends call ``resolve_auto_pad`` to turn it into explicit pads.
"""
from __future__ import annotations

import math
from typing import Sequence


def effective_kernel(k: int, dilation: int) -> int:
    """Extent covered by a kernel of size ``k`` with ``dilation``."""
    return (k - 1) * dilation + 1


def output_size(size: int, k: int, stride: int, pad_begin: int, pad_end: int,
                dilation: int = 1, ceil_mode: bool = False) -> int:
    """Number of window positions along one dim.

    With ``ceil_mode`` a last partial window counts, unless it would start past the
    input's end plus begin padding (it would then see only padding)."""
    span = size + pad_begin + pad_end - effective_kernel(k, dilation)
    if span < 0:
        raise ValueError(f"window of {effective_kernel(k, dilation)} does not fit an input "
                         f"of {size} padded by ({pad_begin}, {pad_end})")
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def output_sizes(spatial: Sequence[int], kernel: Sequence[int], strides, pads, dilations,
                 ceil_mode: bool = False) -> tuple[int, ...]:
    """``output_size`` for each spatial dim."""
    n = len(spatial)
    return tuple(output_size(spatial[d], kernel[d], strides[d], pads[d], pads[n + d],
                             dilations[d], ceil_mode) for d in range(n))


def resolve_auto_pad(auto_pad: str, spatial: Sequence[int], kernel: Sequence[int],
                     strides: Sequence[int], dilations: Sequence[int]) -> tuple[int, ...]:
    """Explicit pads for ONNX ``auto_pad`` SAME_UPPER / SAME_LOWER / VALID.

    SAME gives ``ceil(size / stride)`` outputs; the odd pad goes at the end (UPPER)
    or the beginning (LOWER)."""
    n = len(spatial)
    if auto_pad == "VALID":
        return (0,) * (2 * n)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ValueError(f"unknown auto_pad {auto_pad!r}; expected NOTSET, VALID, SAME_UPPER "
                         "or SAME_LOWER")
    begin, end = [], []
    for d in range(n):
        out = math.ceil(spatial[d] / strides[d])
        total = max((out - 1) * strides[d] + effective_kernel(kernel[d], dilations[d])
                    - spatial[d], 0)
        small, big = total // 2, total - total // 2
        b, e = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
        begin.append(b)
        end.append(e)
    return tuple(begin + end)


def check_window_attrs(op: str, n: int, attrs: dict, keys=("strides", "pads", "dilations")):
    """ValueError unless each listed attribute has the length ``n`` spatial dims need."""
    for key in keys:
        want = 2 * n if key == "pads" else n
        if key in attrs and len(attrs[key]) != want:
            raise ValueError(f"{op}: {key} {tuple(attrs[key])} should have {want} entries "
                             f"for {n} spatial dims")
