"""RotaryEmbedding (opset 23, converted by expanding its ONNX function body): the compiled
model and its numpy references against onnxruntime."""
import numpy as np
import pytest

from tests.compiler.ops.test_reduce_ops import Const, check, rand

B, S, H, D = 2, 3, 2, 8


def caches(d):
    return [rand((6, d // 2), seed=2), rand((6, d // 2), seed=3)]


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rot_dim", [0, 4])
def test_rotary_4d_position_ids(interleaved, rot_dim):
    pos = Const(np.array([[0, 1, 2], [3, 4, 5]], np.int64))
    x = rand((B, H, S, D), seed=1)
    check("RotaryEmbedding", [x] + caches(rot_dim or D) + [pos], {"interleaved": interleaved,
          "rotary_embedding_dim": rot_dim}, 23, rtol=1e-5, atol=1e-6)


def test_rotary_3d_no_position_ids():
    x = rand((B, S, H * D), seed=1)
    cos, sin = rand((B, S, D // 2), seed=2), rand((B, S, D // 2), seed=3)
    check("RotaryEmbedding", [x, cos, sin], {"num_heads": H}, 23, rtol=1e-5, atol=1e-6)
