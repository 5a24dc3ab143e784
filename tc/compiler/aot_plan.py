"""The execution plan of a compiled model: what the AOT entry does, in order.

The build driver produces it; the artifact writer turns it into ``tc_model_run``.
Every tensor argument is a ``TensorRef``: a graph input or output (by position), a
byte offset into the workspace arena, or a byte offset into the constants blob.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INPUT, OUTPUT, WORKSPACE, CONSTANT = "input", "output", "workspace", "constant"


@dataclass(frozen=True)
class TensorRef:
    kind: str     # INPUT | OUTPUT | WORKSPACE | CONSTANT
    index: int    # position for INPUT/OUTPUT; byte offset for WORKSPACE/CONSTANT


@dataclass(frozen=True)
class KernelCall:
    """Call kernel ``func`` (a PrimFunc's name) with one pointer per parameter.
    ``label`` (what it computes, for people) and ``flops`` only feed the metadata."""

    func: str
    args: tuple[TensorRef, ...]
    label: str = ""
    flops: int = 0


@dataclass(frozen=True)
class Copy:
    """memcpy ``nbytes`` from ``src`` to ``dst`` (e.g. a graph output that is an input)."""

    src: TensorRef
    dst: TensorRef
    nbytes: int


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ExecutionPlan:
    """Everything the AOT entry needs besides the kernels' object code."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    steps: tuple[KernelCall | Copy, ...]
    workspace_bytes: int
    constants: bytes = b""          # the blob CONSTANT offsets point into (64-byte aligned)
    metadata: dict = field(default_factory=dict)  # extra JSON fields (target, version, ...)


def pack_constants(arrays: dict[str, np.ndarray], align: int = 64) -> tuple[bytes, dict[str, int]]:
    """Concatenate arrays into one blob, each at an ``align``-byte offset; returns
    (blob, name -> offset)."""
    offsets: dict[str, int] = {}
    chunks: list[bytes] = []
    pos = 0
    for name, arr in arrays.items():
        pad = (-pos) % align
        if pad:
            chunks.append(b"\0" * pad)
            pos += pad
        offsets[name] = pos
        data = np.ascontiguousarray(arr).tobytes()
        chunks.append(data)
        pos += len(data)
    return b"".join(chunks), offsets
