"""Casts to and from the narrow types (bfloat16, float8, float4, e8m0, int4/int2): the
compiled code against ml_dtypes' conversions, bit for bit.

Decoding is checked on every code of each format; encoding on random float32 values
over the format's whole range plus the hard cases: exact ties between neighbours,
subnormals, values just past the largest finite one, signed zeros, infinities and NaN.
"""
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper

import tc
from tests.frontends.onnx_models import typed_model

FLOAT8 = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz")
SMALL_FLOATS = FLOAT8 + ("float4_e2m1fn", "float8_e8m0fnu")
INTS = ("int4", "uint4", "int2", "uint2")


def _onnx_type(dtype: str) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _cast(x: np.ndarray, to: str, opset: int = 25, **attrs) -> np.ndarray:
    model, feeds = typed_model("Cast", [x], dict(to=_onnx_type(to), **attrs), opset,
                               ir_version=11)
    (out,) = tc.compile(model).run(list(feeds.values()))
    assert out.dtype == np.dtype(to) and out.shape == x.shape
    return out


def _codes(dtype: str) -> np.ndarray:
    """Every valid bit pattern of ``dtype`` (as that dtype)."""
    bits = {"bfloat16": 16, "float4_e2m1fn": 4}.get(dtype, 8)
    storage = np.uint16 if bits == 16 else np.uint8
    return np.arange(1 << bits, dtype=np.uint32).astype(storage).view(dtype)


def _same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal bit patterns, except that any NaN matches any NaN."""
    gf, wf = got.astype(np.float32), want.astype(np.float32)
    both_nan = np.isnan(gf) & np.isnan(wf)
    storage = np.uint16 if got.dtype.itemsize == 2 else np.uint8
    g, w = got.view(storage)[~both_nan], want.view(storage)[~both_nan]
    bad = np.flatnonzero(g != w)
    assert not bad.size, (f"{bad.size} codes differ, e.g. input #{bad[0]}: got {g[bad[0]]:#x}, "
                          f"want {w[bad[0]]:#x}")


@pytest.mark.parametrize("dtype", ("bfloat16",) + SMALL_FLOATS)
@pytest.mark.parametrize("to", ["float32", "float16"])
def test_decode_every_code(dtype, to):
    codes = _codes(dtype)
    got = _cast(codes, to)
    want = codes.astype(np.float32).astype(to)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got.view(f"uint{8 * got.itemsize}")[~np.isnan(want)],
                                  want.view(f"uint{8 * want.itemsize}")[~np.isnan(want)])


def _hard_floats(dtype: str, seed: int = 0) -> np.ndarray:
    """Random float32s spanning ``dtype``'s range, plus ties, overflow and specials."""
    rng = np.random.default_rng(seed)
    finite = _codes(dtype).astype(np.float32)
    finite = np.unique(np.abs(finite[np.isfinite(finite)]))
    ties = (finite[:-1] + finite[1:]) / 2            # exactly halfway: round to even
    near = np.concatenate([ties * (1 + 2.0 ** -20), ties * (1 - 2.0 ** -20)])
    top = finite[-1]
    lo = max(float(finite[finite > 0][0]) / 8, 1e-38)
    spread = np.exp(rng.uniform(np.log(lo), np.log(float(top) * 4), 2000))
    specials = [0.0, top * 1.01, top * 1.1, top * 3, np.inf, np.nan, 1e38, 1e-40]
    mags = np.concatenate([finite, ties, near, spread, specials]).astype(np.float32)
    return np.concatenate([mags, -mags])


@pytest.mark.parametrize("dtype", FLOAT8)
@pytest.mark.parametrize("saturate", [1, 0])
def test_encode_float8_rounds_to_nearest_even(dtype, saturate):
    x = _hard_floats(dtype)
    got = _cast(x, dtype, saturate=saturate)
    big = float(ml_dtypes.finfo(dtype).max)
    want = (np.clip(x, -big, big) if saturate else x).astype(dtype)
    _same_bits(got, want)


@pytest.mark.parametrize("dtype", ["bfloat16", "float4_e2m1fn"])
def test_encode_bfloat16_and_float4(dtype):
    x = _hard_floats(dtype) if dtype != "bfloat16" else np.concatenate(
        [_hard_floats("float8_e5m2"), np.random.default_rng(1).standard_normal(4000).astype(np.float32),
         np.float32([3.4e38, -3.4e38, 1e-39, np.inf, np.nan])])
    got = _cast(x, dtype)
    nan = np.isnan(x)
    if dtype == "float4_e2m1fn":   # no NaN in the format: only check the finite lanes here
        _same_bits(got[~nan], x[~nan].astype(dtype))
    else:
        _same_bits(got, x.astype(dtype))


def test_encode_float16_input():
    x = np.random.default_rng(2).uniform(-600, 600, 500).astype(np.float16)
    got = _cast(x, "float8_e4m3fn")
    _same_bits(got, np.clip(x.astype(np.float32), -448, 448).astype("float8_e4m3fn"))


def _e8m0_oracle(x: np.ndarray, saturate: bool, mode: str) -> np.ndarray:
    """2**k chosen arithmetically (independent of the bit-level implementation)."""
    out = np.empty(x.shape, np.uint8)
    for i, v in enumerate(x.astype(np.float64)):
        if not np.isfinite(v):
            out[i] = 0xFF
            continue
        a = abs(v)
        k = -127 if a < 2.0 ** -126 else int(np.floor(np.log2(a)))   # float32 binade
        k = max(k, -127)
        frac = a / 2.0 ** k - 1 if a >= 2.0 ** -126 else a / 2.0 ** -127
        if a >= 2.0 ** -126:
            if mode == "up" and frac > 0:
                k += 1
            elif mode == "nearest" and frac >= 0.5:   # ONNX rounds e8m0 ties up
                k += 1
        elif mode == "up" and a > 0:
            k += 1
        if saturate:
            k = min(k, 127)
        out[i] = 0xFF if k > 127 else k + 127
    return out.view("float8_e8m0fnu")


@pytest.mark.parametrize("mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_encode_e8m0(mode, saturate):
    rng = np.random.default_rng(3)
    powers = 2.0 ** rng.integers(-120, 127, 200)
    x = np.concatenate([powers, powers * rng.uniform(1, 2, 200), powers * 1.5,
                        [0.0, 3.4e38, 2.0 ** 127, np.inf, np.nan, 1e-3]]).astype(np.float32)
    got = _cast(x, "float8_e8m0fnu", saturate=saturate, round_mode=mode)
    _same_bits(got, _e8m0_oracle(x, saturate, mode))


@pytest.mark.parametrize("dtype", INTS)
def test_narrow_ints_truncate_and_wrap(dtype):
    x = np.random.default_rng(4).uniform(-20, 20, 300).astype(np.float32)
    got = _cast(x, dtype)
    _same_bits(got, x.astype(dtype))
    back = _cast(got, "int8" if dtype.startswith("int") else "uint8")
    np.testing.assert_array_equal(back, got.astype(back.dtype))


def test_int64_to_int4_wraps_like_c():
    x = np.random.default_rng(5).integers(-1000, 1000, 200)
    _same_bits(_cast(x, "int4"), x.astype("int4"))


def test_bfloat16_to_float8_goes_through_float32():
    x = np.random.default_rng(6).uniform(-500, 500, 300).astype(np.float32).astype("bfloat16")
    got = _cast(x, "float8_e5m2")
    _same_bits(got, x.astype(np.float32).astype("float8_e5m2"))


def test_cast_attrs_are_canonical_only_where_they_matter():
    from tc.frontends.onnx import from_onnx

    model, _ = typed_model("Cast", [np.zeros(3, np.float32)], {"to": TensorProto.INT8,
                                                              "saturate": 0}, 25, ir_version=11)
    (node,) = from_onnx(model).nodes
    assert node.attr_dict == {"to": "int8"}
