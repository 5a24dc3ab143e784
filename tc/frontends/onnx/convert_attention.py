"""ONNX converter for Attention (opset 23/24), by expanding the op's ONNX function body.

ONNX defines Attention by a context-dependent function (its body depends on the input
ranks and element types and on the attributes): 3-D or 4-D Q/K/V (``q_num_heads`` /
``kv_num_heads`` split the hidden dim of 3-D inputs), grouped-query attention (K/V heads
repeated), ``scale`` (default 1/sqrt(head_size)), ``is_causal`` (offset by the past
length), a boolean (False = masked) or additive float ``attn_mask``, ``past_key`` /
``past_value`` concatenated into the present outputs, ``softcap`` (softcap *
tanh(x / softcap)), ``softmax_precision``, ``qk_matmul_output_mode`` (the optional 4th
output) and, from opset 24, ``nonpad_kv_seqlen``. Rather than re-deriving that spec by
hand, the converter asks ONNX for the body that matches this node and converts its nodes
(MatMul, Transpose, Reshape, Softmax, Where, Trilu, Concat, Tanh, ...) with tc's own
converters, so the result is the spec's decomposition, lowered to tc ops.

float16 and bfloat16 Attention is computed in float32 (inputs cast up, outputs cast back):
the reference results of ONNX's tests keep float32 accuracy in the QK^T / softmax / PV
chain, which a float16 chain does not reach within rtol 1e-3.
"""
from __future__ import annotations

from onnx import helper

from .function_body import expand_function_body
from .importer import converter

_FLOAT_INPUTS = (0, 1, 2, 3, 4, 5)   # Q, K, V, attn_mask, past_key, past_value
_HALF_TYPES = ("float16", "bfloat16")


@converter("Attention")
def _attention(cv, node, attrs):
    ins = cv.inputs(node)
    half = ins[0].type.dtype
    if half not in _HALF_TYPES:
        expand_function_body(cv, node)
        return
    # half precision: run the float32 body between casts.
    up = helper.make_node(node.op_type, [], [], name=node.name, domain=node.domain)
    up.attribute.extend(node.attribute)
    for i, v in enumerate(ins):
        name = node.input[i] if v is not None else ""
        if v is not None and i in _FLOAT_INPUTS and v.type.dtype == half:
            name = f"{node.output[0]}__attention_in{i}_f32"
            cv.emit("Cast", [v], {"to": "float32"}, node, [name])
        up.input.append(name)
    for i, out in enumerate(node.output):
        up.output.append(f"{out}__attention_f32" if out else "")
    expand_function_body(cv, up)
    for out, out32 in zip(node.output, up.output):
        if out and out32 in cv.values:
            cv.emit("Cast", [cv.values[out32]], {"to": half}, node, [out])
