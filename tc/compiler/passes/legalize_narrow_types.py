"""Arithmetic on narrow types (bfloat16, float8, int4, ...) done in a standard type.

The code generators only move narrow values and convert them (``Cast``,
``QuantizeLinear``, ``DequantizeLinear``: see ``ops/narrow.py``).  Every other op that
reads or writes one is rewritten to compute in float32 (narrow floats) or int32 (narrow
integers) between casts, as TVM's BF16Legalize does:

    %y: bfloat16 = Celu(%x: bfloat16)
becomes
    %x_f32 = Cast(%x; to=float32)
    %y_f32 = Celu(%x_f32)
    %y     = Cast(%y_f32; to=bfloat16)

The casts are element-wise, so fusion puts them in the op's kernel.
"""
from __future__ import annotations

from ..graph.dtypes import compute_dtype, is_narrow
from ..graph.ir import Graph, Node, TensorType, Value
from ..ops.registry import lookup_op
from .rewrite import Edit

#: ops whose kernels handle narrow types themselves: conversions, and ops that only move
#: elements (their TE reads and writes values without arithmetic on them)
NARROW_NATIVE = frozenset({
    "Cast", "BitCast", "QuantizeLinear", "DequantizeLinear",
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity", "Concat", "Split",
    "Slice", "Gather", "GatherElements", "GatherND", "Compress", "ReverseSequence", "Expand",
    "Tile", "DepthToSpace", "SpaceToDepth", "Shape", "Size",
})


class NarrowTypeError(ValueError):
    """An op would produce a narrow type that tc cannot compute it in."""


def legalize_narrow_types(graph: Graph) -> Graph:
    """Wrap every op outside ``NARROW_NATIVE`` that touches a narrow type in casts to and
    from that type's compute type (see the module docstring)."""
    edit = Edit(graph)
    for node in graph.nodes:
        touched = [v for v in node.inputs + node.outputs if is_narrow(v.type.dtype)]
        if node.op in NARROW_NATIVE or not touched:
            edit.keep(node)
            continue
        inputs = tuple(_cast(edit, v, compute_dtype(v.type.dtype), node.name)
                       if is_narrow(v.type.dtype) else v for v in node.inputs)
        attrs = node.attr_dict
        if is_narrow(attrs.get("dtype", "")):     # e.g. ConstantOfShape(dtype=bfloat16)
            attrs["dtype"] = compute_dtype(attrs["dtype"])
        types = lookup_op(node.op).infer([v.type for v in inputs], attrs)
        outputs = []
        for out, t in zip(node.outputs, types):
            if not is_narrow(out.type.dtype):
                outputs.append(out)
                continue
            if is_narrow(t.dtype) or t.dtype != compute_dtype(out.type.dtype):
                raise NarrowTypeError(
                    f"{node.op} {node.name!r} produces {out.type.dtype} from {t.dtype} inputs; "
                    f"tc computes {out.type.dtype} values only through Cast: cast the "
                    f"result instead")
            wide = Value(edit.fresh(f"{out.name}_{t.dtype}"), TensorType(out.type.shape, t.dtype))
            outputs.append(wide)
        edit.emit(Node(node.op, inputs, tuple(outputs), attrs, node.name))
        for out, wide in zip(node.outputs, outputs):
            if wide is not out:
                edit.emit(Node("Cast", (wide,), (out,), {"to": out.type.dtype}, node.name))
    return edit.finish()


def _cast(edit: Edit, value: Value, dtype: str, name: str) -> Value:
    wide = Value(edit.fresh(f"{value.name}_{dtype}"), TensorType(value.type.shape, dtype))
    edit.emit(Node("Cast", (value,), (wide,), {"to": dtype}, name))
    return wide
