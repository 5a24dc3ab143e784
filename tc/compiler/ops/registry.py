"""The op registry: one registration per op, with everything the compiler needs of it.

An op module calls ``register_op(OpDef(...))`` once per op:

- ``infer(input_types, attrs) -> [TensorType]``: shape and dtype inference; raises
  ``ValueError`` naming the problem for inputs the op cannot take.
- ``reference(inputs, attrs) -> [np.ndarray]``: the numpy reference (constant folding
  and tests use it); must not import onnx or onnxruntime.
- ``compute(input_tensors, attrs) -> [te.Tensor]``: the TE definition, one tensor per
  output, reading only ``input_tensors`` (placeholders, or other computes when fused).
- ``pattern``: the fusion pattern kind (``OpPattern``).

``attrs`` is the canonical attribute dict of the graph IR node (see each op's docstring);
frontends normalize to it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable


class OpPattern(enum.IntEnum):
    """Fusion pattern kinds, ordered as in TVM: lower fuses more freely."""

    ELEMWISE = 0      # out[i] = f(in[i]) for same-shape inputs
    BROADCAST = 1     # elementwise with numpy broadcasting
    INJECTIVE = 2     # each output element reads a computed index of inputs (reshape, concat)
    REDUCTION = 3     # reduces over some axes (sum, softmax, pooling)
    OUT_FUSABLE = 4   # complex op whose elementwise epilogue fuses (conv, matmul)
    OPAQUE = 8        # never fused


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: Callable[[list, dict], list]
    reference: Callable[[list, dict], list]
    compute: Callable[[list, dict], list]
    pattern: OpPattern
    doc: str = ""


class OpNotRegistered(KeyError):
    """No op of that name is registered."""


_REGISTRY: dict[str, OpDef] = {}


def register_op(opdef: OpDef) -> OpDef:
    if opdef.name in _REGISTRY:
        raise ValueError(f"op {opdef.name!r} registered twice")
    _REGISTRY[opdef.name] = opdef
    return opdef


def lookup_op(name: str) -> OpDef:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise OpNotRegistered(f"op {name!r} is not registered in tc") from None


def registered_ops() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY)


def _ensure_loaded() -> None:
    # importing the package registers every op family exactly once
    from . import _load_all  # noqa: F401


def apply_reference(name: str, inputs: list, attrs: dict[str, Any]) -> list:
    """Run an op's numpy reference."""
    return lookup_op(name).reference(inputs, attrs)
