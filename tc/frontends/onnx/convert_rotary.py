"""ONNX converter for RotaryEmbedding (opset 23), by expanding its ONNX function body.

The body (see function_body.py) covers 3-D (``num_heads`` splits the hidden dim) and
4-D inputs, ``position_ids`` (gathered rows of the cos/sin caches) or none (caches
already per position), ``interleaved`` pairs, and a partial ``rotary_embedding_dim``.
"""
from __future__ import annotations

from .function_body import expand_function_body
from .importer import converter


@converter("RotaryEmbedding")
def _rotary_embedding(cv, node, attrs):
    expand_function_body(cv, node)
