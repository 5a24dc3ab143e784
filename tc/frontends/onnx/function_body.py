"""Convert an ONNX op by expanding the function body ONNX defines for it.

Some recent ops (Attention, RotaryEmbedding) are specified by a context-dependent
function: a body of primitive ONNX ops that depends on the node's attributes and on its
inputs' element types and ranks. ``expand_function_body`` asks ONNX for the body matching
a node, renames the body's internal values apart (prefixed by the node's first output),
and converts each body node with tc's registered converters, so the op lowers to the
spec's own decomposition. Not a ``convert_`` module: the op modules that use it import it.
"""
from __future__ import annotations

import numpy as np
from onnx import AttributeProto, FunctionProto, NodeProto, TypeProto, defs, helper

from .importer import CONVERTERS, FrontendError, attribute_values


def _type_proto(v) -> TypeProto:
    """The ONNX TypeProto of tc value ``v`` (element type and static shape)."""
    if v is None:
        return TypeProto()
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(v.type.dtype))
    return helper.make_tensor_type_proto(elem, list(v.type.shape))


def function_body(cv, node) -> FunctionProto:
    """The FunctionProto ONNX defines for ``node`` at the model's opset."""
    schema = defs.get_schema(node.op_type, cv.opset, domain=node.domain)
    versions = [v for v in schema.context_dependent_function_opset_versions if v <= cv.opset]
    if not versions:
        raise FrontendError(f"ONNX defines no function body for {node.op_type} at opset "
                            f"{cv.opset}; add a hand-written converter for it")
    types = [_type_proto(cv.value(n) if n else None).SerializeToString() for n in node.input]
    fn = FunctionProto()
    fn.ParseFromString(schema.get_context_dependent_function_with_opset_version(
        max(versions), node.SerializeToString(), types))
    return fn


def renamed_node(inner: NodeProto, rename, node_attrs: dict,
                 keep_subgraphs: bool = False) -> NodeProto:
    """``inner`` with its edges renamed and attribute references resolved (from
    ``node_attrs``, the calling node's attributes by name).  Subgraph attributes are an
    error unless ``keep_subgraphs`` (then they are copied unchanged: the caller makes
    the names they read resolvable)."""
    out = NodeProto()
    out.CopyFrom(inner)
    del out.input[:], out.output[:], out.attribute[:]
    out.input.extend(rename(n) for n in inner.input)
    out.output.extend(rename(n) for n in inner.output)
    for attr in inner.attribute:
        if (attr.type == AttributeProto.GRAPH or attr.type == AttributeProto.GRAPHS) \
                and not keep_subgraphs:
            raise FrontendError(f"{inner.op_type} {inner.name!r} inside a function body or "
                                f"control-flow body has a subgraph of its own; tc does not "
                                f"inline nested subgraphs yet")
        if attr.HasField("ref_attr_name"):
            if attr.ref_attr_name not in node_attrs:
                continue
            new = AttributeProto()
            new.CopyFrom(node_attrs[attr.ref_attr_name])
            new.name = attr.name
            out.attribute.append(new)
        else:
            out.attribute.append(attr)
    return out


def expand_function_body(cv, node) -> None:
    """Convert ``node`` by converting the nodes of its ONNX function body in order."""
    fn = function_body(cv, node)
    names = {f: (node.input[i] if i < len(node.input) else "") for i, f in enumerate(fn.input)}
    names.update({f: a for f, a in zip(fn.output, node.output) if a})
    prefix = f"{node.output[0]}__{node.op_type.lower()}_"

    def rename(name: str) -> str:
        return names.get(name, prefix + name) if name else ""

    node_attrs = {a.name: a for a in node.attribute}
    for inner in fn.node:
        if inner.op_type not in CONVERTERS:
            raise FrontendError(f"{node.op_type}'s ONNX function body uses {inner.op_type}, "
                                "which tc does not convert")
        renamed = renamed_node(inner, rename, node_attrs)
        CONVERTERS[inner.op_type](cv, renamed, attribute_values(renamed))
