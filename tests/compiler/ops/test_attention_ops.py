"""Attention (opset 23/24, converted by expanding its ONNX function body): the compiled
model and its numpy references against onnxruntime on small random inputs."""
import pytest

from tests.compiler.ops.test_reduce_ops import check, rand

B, S, L, P = 2, 3, 4, 2          # batch, query length, key length, past length


def qkv4(hq=2, hkv=2, d=4, dv=4, dtype="float32"):
    return [rand((B, hq, S, d), dtype, 1), rand((B, hkv, L, d), dtype, 2),
            rand((B, hkv, L, dv), dtype, 3)]


@pytest.mark.parametrize("attrs", [{}, {"scale": 0.3}, {"is_causal": 1}, {"softcap": 2.0}])
def test_attention_4d(attrs):
    check("Attention", qkv4(), attrs, 23, rtol=1e-4, atol=1e-5)


def test_attention_gqa_diff_head_sizes():
    check("Attention", qkv4(hq=4, hkv=2, d=4, dv=3), {"is_causal": 1}, 23, rtol=1e-4, atol=1e-5)


def test_attention_3d():
    ins = [rand((B, S, 8), seed=1), rand((B, L, 4), seed=2), rand((B, L, 6), seed=3)]
    check("Attention", ins, {"q_num_heads": 4, "kv_num_heads": 2}, 23, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mask", ["bool", "float"])
def test_attention_mask(mask):
    m = rand((S, L), "bool", 4) if mask == "bool" else rand((S, L), seed=4)
    if mask == "bool":
        m[:, 0] = True            # no fully masked rows
    check("Attention", qkv4() + [m], {}, 23, rtol=1e-4, atol=1e-5)


def test_attention_past_present_causal_qk_output():
    ins = qkv4() + [None, rand((B, 2, P, 4), seed=5), rand((B, 2, P, 4), seed=6)]
    check("Attention", ins, {"is_causal": 1, "qk_matmul_output_mode": 1}, 23, n_outputs=4,
          rtol=1e-4, atol=1e-5)


def test_attention_float16():
    check("Attention", qkv4(dtype="float16"), {"is_causal": 1}, 23, rtol=2e-3, atol=2e-3)


def test_attention_bfloat16_matches_float32_attention_rounded():
    """bfloat16 runs the float32 body between casts: onnxruntime's float32 Attention on the
    same (bfloat16-representable) inputs is the oracle, within two bfloat16 ulps."""
    import numpy as np

    import tc
    from tests.frontends.onnx_models import run_onnxruntime, typed_model

    ins32 = [x.astype("bfloat16").astype(np.float32) for x in qkv4()]
    model32, feeds32 = typed_model("Attention", ins32, {"is_causal": 1}, 23, ir_version=10)
    model16, feeds16 = typed_model("Attention", [x.astype("bfloat16") for x in ins32],
                                   {"is_causal": 1}, 23, ir_version=10)
    (got,) = tc.compile(model16).run(list(feeds16.values()))
    (want,) = run_onnxruntime(model32, feeds32)
    assert got.dtype == np.dtype("bfloat16")
    np.testing.assert_allclose(got.astype(np.float32), want, rtol=2 ** -7, atol=1e-3)
