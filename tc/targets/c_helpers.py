"""The ``static inline`` C functions that generated C calls, emitted only when used.

Each helper gives one loop-IR operator exactly the semantics ``llvm_ops`` gives it, in
plain C99 with no undefined behaviour: wrapping integer arithmetic, floor division and
modulo that return 0 for a zero divisor, saturating float-to-int conversion, NaN-
propagating min/max, float16 conversions by bit manipulation.  Helper names start with
``tcc_`` and end with the dtypes they take (``tcc_floordiv_i64``).

    lib = Helpers()
    name = lib.need("floordiv", "int64")   # "tcc_floordiv_i64", defined once
    lib.source()                           # every needed definition, dependencies first
"""
from __future__ import annotations

import math
import re

import numpy as np

from ..compiler.graph.dtypes import is_narrow, storage_dtype
from .errors import CodegenError

PREFIX = "tcc_"

#: register (value) types; bool values are C99 ``bool``, float16 values are ``float``
#: holding a value exactly representable in float16
C_TYPE = {
    "bool": "bool",
    "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "float16": "float", "float32": "float", "float64": "double",
}
#: in-memory element types (as llvm_ops.memory_type: bool is one byte, 0 or 1)
MEM_TYPE = {**C_TYPE, "bool": "uint8_t", "float16": "uint16_t"}
SUFFIX = {"bool": "b", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
          "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
          "float16": "f16", "float32": "f32", "float64": "f64"}


def canonical(dtype: str) -> str:
    """The dtype the C code computes in: a narrow type is its storage integer (as in
    llvm_ops.scalar_type); raises CodegenError for a dtype C cannot hold."""
    if is_narrow(dtype):
        dtype = storage_dtype(dtype)
    if dtype not in C_TYPE:
        raise CodegenError(f"dtype {dtype!r} is not supported by the C backend; use one of "
                           f"{', '.join(C_TYPE)} (or a narrow type stored in one)")
    return dtype


def is_signed(dtype: str) -> bool:
    return dtype.startswith("int")


def bits(dtype: str) -> int:
    return 8 * np.dtype(dtype).itemsize


def wide_unsigned(dtype: str) -> str:
    """The unsigned type integer arithmetic on ``dtype`` wraps in (never promoted to int)."""
    return "uint64_t" if bits(dtype) == 64 else "uint32_t"


def int_literal(value: int, dtype: str) -> str:
    """A C constant of integer ``dtype`` (wrapped into its range), valid in any context."""
    info = np.iinfo(dtype)
    value = (int(value) - int(info.min)) % (1 << bits(dtype)) + int(info.min)
    if is_signed(dtype):
        if value == info.min and bits(dtype) >= 32:
            return f"INT{bits(dtype)}_MIN"
        if -2 ** 31 < value < 2 ** 31:
            return str(value) if value >= 0 else f"({value})"
        return f"INT64_C({value})" if value >= 0 else f"(-INT64_C({-value}))"
    if value < 2 ** 31:
        return f"{value}u" if bits(dtype) >= 32 else str(value)
    return f"UINT32_C({value})" if value < 2 ** 32 else f"UINT64_C({value})"


def float_literal(value: float, dtype: str) -> str:
    """A C constant of float ``dtype``: float16 and float32 values rounded as LLVM rounds
    them (float16 values are computed in float)."""
    value = float(value)
    if dtype in ("float16", "float32"):
        value = float(np.float32(np.float16(value)) if dtype == "float16" else np.float32(value))
        suffix, cast = "f", ""
    else:
        suffix, cast = "", "(double)"
    if math.isnan(value):
        return f"{cast}NAN"
    if math.isinf(value):
        return f"{cast}INFINITY" if value > 0 else f"(-{cast}INFINITY)"
    text = str(np.float32(value)) if suffix else repr(value)
    if "." not in text and "e" not in text:
        text += ".0"
    return text + suffix if value >= 0 else f"({text}{suffix})"


class Helpers:
    """The helpers one translation unit needs, and the libm functions it calls.
    ``qualifier`` replaces the ``static inline`` that starts each definition (the CUDA
    generator makes them ``static __device__ __forceinline__``)."""

    def __init__(self, qualifier: str = "static inline"):
        self._defs: dict[str, str | None] = {}
        self.libm: set[str] = set()
        self.qualifier = qualifier

    def need(self, kind: str, *dtypes: str) -> str:
        """The name of helper ``kind`` for ``dtypes``, defining it (and what it calls) once."""
        name = PREFIX + kind + "".join("_" + SUFFIX[d] for d in dtypes)
        if name not in self._defs:
            self._defs[name] = None  # reserved, so the helpers it needs come before it
            text = _GENERATORS[kind](self, name, *dtypes)
            del self._defs[name]
            self._defs[name] = text
        return name

    def libm_call(self, base: str, dtype: str) -> str:
        """The libm function ``base`` for float ``dtype`` (``expf`` / ``exp``), recorded."""
        name = base + ("f" if dtype in ("float16", "float32") else "")
        self.libm.add(name)
        return name

    def source(self) -> str:
        text = "\n\n".join(t for t in self._defs.values() if t)
        if self.qualifier != "static inline":
            text = re.sub(r"(?m)^static inline ", self.qualifier + " ", text)
        return text


# --- generators: (lib, name, *dtypes) -> C text --------------------------------------------

def _bits(lib, name, dtype):
    f, u = C_TYPE[dtype], f"uint{bits(dtype)}_t"
    return (f"static inline {u} {name}({f} x)\n{{\n    union {{ {f} f; {u} u; }} v;\n"
            f"    v.f = x;\n    return v.u;\n}}")


def _from_bits(lib, name, dtype):
    f, u = C_TYPE[dtype], f"uint{bits(dtype)}_t"
    return (f"static inline {f} {name}({u} x)\n{{\n    union {{ {f} f; {u} u; }} v;\n"
            f"    v.u = x;\n    return v.f;\n}}")


def _sign_mask(dtype):
    return "0x80000000u" if dtype == "float32" else "UINT64_C(0x8000000000000000)"


def _fabs(lib, name, dtype):
    b, fb = lib.need("bits", dtype), lib.need("from_bits", dtype)
    return (f"static inline {C_TYPE[dtype]} {name}({C_TYPE[dtype]} x)\n{{\n"
            f"    return {fb}({b}(x) & ~{_sign_mask(dtype)});\n}}")


def _copysign(lib, name, dtype):
    b, fb = lib.need("bits", dtype), lib.need("from_bits", dtype)
    t, m = C_TYPE[dtype], _sign_mask(dtype)
    return (f"static inline {t} {name}({t} x, {t} sign)\n{{\n"
            f"    return {fb}(({b}(x) & ~{m}) | ({b}(sign) & {m}));\n}}")


def _f16_to_f32(lib, name):
    fb, cs = lib.need("from_bits", "float32"), lib.need("copysign", "float32")
    return f"""/* the float16 with bits h, as a float (exact) */
static inline float {name}(uint16_t h)
{{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = ((uint32_t)h >> 10) & 0x1fu;
    uint32_t mantissa = (uint32_t)h & 0x3ffu;
    if (exponent == 0x1fu) /* inf, or NaN (made quiet) */
        return {fb}(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u));
    if (exponent != 0u)
        return {fb}(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    /* zero or subnormal: mantissa * 2^-24 */
    return {cs}((float)mantissa * 5.9604644775390625e-8f, {fb}(sign));
}}"""


def _f32_to_f16(lib, name):
    b = lib.need("bits", "float32")
    return f"""/* the bits of the float16 nearest to x (ties to even; NaN stays NaN) */
static inline uint16_t {name}(float x)
{{
    uint32_t u = {b}(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    uint32_t e, m, s, q, rest, halfway;
    if (a > 0x7f800000u) /* NaN: quiet, with the payload's top bits */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* 65520 and above round to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) {{ /* normal: rebias the exponent, round 13 bits to even */
        a -= 0x38000000u;
        return (uint16_t)(sign | ((a + 0xfffu + ((a >> 13) & 1u)) >> 13));
    }}
    e = a >> 23;
    if (e < 102u) /* below 2^-25: rounds to zero */
        return (uint16_t)sign;
    m = (a & 0x7fffffu) | 0x800000u;
    s = 126u - e; /* subnormal: m * 2^(e - 150) in units of 2^-24 */
    q = m >> s;
    rest = m & ((1u << s) - 1u);
    halfway = 1u << (s - 1u);
    if (rest > halfway || (rest == halfway && (q & 1u) != 0u))
        q += 1u;
    return (uint16_t)(sign | q);
}}"""


def _round_f16(lib, name):
    to, back = lib.need("f32_to_f16"), lib.need("f16_to_f32")
    return (f"/* x rounded to float16 (held in a float) */\n"
            f"static inline float {name}(float x)\n{{\n    return {back}({to}(x));\n}}")


def _f64_to_f16(lib, name):
    b, fb = lib.need("bits", "float32"), lib.need("from_bits", "float32")
    fabs, rnd = lib.need("fabs", "float64"), lib.need("round_f16")
    return f"""/* x rounded to float16 (held in a float): first to float rounding to odd, so
   that the second rounding is correct (as llvm_ops does) */
static inline float {name}(double x)
{{
    float f = (float)x;
    double back = (double)f;
    uint32_t u = {b}(f);
    if ({fabs}(back) > {fabs}(x))
        u -= 1u;
    if (back != x)
        u |= 1u;
    return {rnd}({fb}(u));
}}"""


def _float_max(lib, name, dtype):
    """Selects of values computed unconditionally, no branches and no bit tests, so that
    gcc and clang if-convert and vectorize loops calling it."""
    t, zero = C_TYPE[dtype], float_literal(0.0, dtype)
    return f"""/* max propagating NaN, with -0 below +0 (llvm.maximum): a + b is the answer
   when either is NaN and when both are zeros */
static inline {t} {name}({t} a, {t} b)
{{
    {t} sum = a + b;
    {t} m = a > b ? a : b;
    return (a != a || b != b || (a == {zero} && b == {zero})) ? sum : m;
}}"""


def _min(lib, name, dtype):
    t = C_TYPE[dtype]
    if dtype in ("float32", "float64"):
        return (f"/* min propagating NaN, with -0 below +0 (llvm.minimum) */\n"
                f"static inline {t} {name}({t} a, {t} b)\n{{\n"
                f"    return -{lib.need('max', dtype)}(-a, -b);\n}}")
    return f"static inline {t} {name}({t} a, {t} b)\n{{\n    return a < b ? a : b;\n}}"


def _max(lib, name, dtype):
    if dtype in ("float32", "float64"):
        return _float_max(lib, name, dtype)
    t = C_TYPE[dtype]
    return f"static inline {t} {name}({t} a, {t} b)\n{{\n    return a > b ? a : b;\n}}"


def _wrapping(op):
    def gen(lib, name, dtype):
        t, w = C_TYPE[dtype], wide_unsigned(dtype)
        return (f"static inline {t} {name}({t} a, {t} b)\n{{\n"
                f"    return ({t})(({w})a {op} ({w})b);\n}}")
    return gen


def _negate_wrapping(dtype: str, x: str) -> str:
    return f"({C_TYPE[dtype]})(0u - ({wide_unsigned(dtype)}){x})"


def _div(lib, name, dtype):
    """Truncating division: x / 0 == 0, INT_MIN / -1 wraps (llvm_ops._int_division)."""
    t = C_TYPE[dtype]
    if not is_signed(dtype):
        return (f"static inline {t} {name}({t} x, {t} y)\n{{\n"
                f"    return y == 0 ? ({t})0 : ({t})(x / y);\n}}")
    return f"""static inline {t} {name}({t} x, {t} y)
{{
    if (y == 0)
        return 0;
    if (y == -1)
        return {_negate_wrapping(dtype, 'x')};
    return ({t})(x / y);
}}"""


def _floordiv(lib, name, dtype):
    """Floor division; as ``_div`` for a zero or -1 divisor."""
    t = C_TYPE[dtype]
    if not is_signed(dtype):
        return _div(lib, name, dtype)
    return f"""/* x // y rounding toward -inf; x // 0 == 0 */
static inline {t} {name}({t} x, {t} y)
{{
    {t} q, r;
    if (y == 0)
        return 0;
    if (y == -1)
        return {_negate_wrapping(dtype, 'x')};
    q = ({t})(x / y);
    r = ({t})(x % y);
    return (r != 0 && (r ^ y) < 0) ? ({t})(q - 1) : q;
}}"""


def _floormod(lib, name, dtype):
    """Floor modulo (the divisor's sign); x % 0 == 0."""
    t = C_TYPE[dtype]
    if not is_signed(dtype):
        return (f"static inline {t} {name}({t} x, {t} y)\n{{\n"
                f"    return y == 0 ? ({t})0 : ({t})(x % y);\n}}")
    return f"""/* x % y with the divisor's sign; x % 0 == 0 */
static inline {t} {name}({t} x, {t} y)
{{
    {t} r;
    if (y == 0 || y == -1)
        return 0;
    r = ({t})(x % y);
    return (r != 0 && (r ^ y) < 0) ? ({t})(r + y) : r;
}}"""


def _fmod(lib, name, dtype):
    """numpy's float modulo: fmod, then the divisor's sign (llvm_ops._float_binary)."""
    t = "double" if dtype == "float64" else "float"
    z = "0.0" if dtype == "float64" else "0.0f"
    fmod = lib.libm_call("fmod", dtype)
    fix = "r + y" if dtype != "float16" else f"{lib.need('round_f16')}(r + y)"
    return f"""static inline {t} {name}({t} x, {t} y)
{{
    {t} r = {fmod}(x, y);
    return ((r < {z} || r > {z}) && ((r < {z}) != (y < {z}))) ? {fix} : r;
}}"""


def _shl(lib, name, dtype):
    t, w, n = C_TYPE[dtype], wide_unsigned(dtype), bits(dtype)
    return (f"/* a << b (an amount of {n} or more is poison in LLVM; here it is taken mod {n}) */\n"
            f"static inline {t} {name}({t} a, {t} b)\n{{\n"
            f"    return ({t})(({w})a << (({w})b & {n - 1}u));\n}}")


def _shr(lib, name, dtype):
    t, w, n = C_TYPE[dtype], wide_unsigned(dtype), bits(dtype)
    if not is_signed(dtype):
        return (f"static inline {t} {name}({t} a, {t} b)\n{{\n"
                f"    return ({t})(a >> (({w})b & {n - 1}u));\n}}")
    return f"""/* arithmetic shift right, without relying on how C shifts negative numbers */
static inline {t} {name}({t} a, {t} b)
{{
    unsigned s = (unsigned)(({w})b & {n - 1}u);
    return a < 0 ? ({t})~(~a >> s) : ({t})(a >> s);
}}"""


def _abs(lib, name, dtype):
    t = C_TYPE[dtype]
    return (f"/* |a|, with INT_MIN staying INT_MIN (llvm.abs) */\n"
            f"static inline {t} {name}({t} a)\n{{\n"
            f"    return a < 0 ? {_negate_wrapping(dtype, 'a')} : a;\n}}")


def _float_to_int(lib, name, src, dst):
    """Truncation toward zero, saturating at the range, NaN -> 0 (llvm.fpto[su]i.sat)."""
    t, f = C_TYPE[dst], C_TYPE[src]
    info = np.iinfo(dst)
    lo_t = int_literal(int(info.min), dst) if is_signed(dst) else "0"
    hi_t = int_literal(int(info.max), dst)
    # -2^(n-1) and 2^(n-1) (or 0 and 2^n) are exact in float and double
    lo = float_literal(float(info.min), src)
    hi = float_literal(float(int(info.max) + 1), src)
    return f"""static inline {t} {name}({f} x)
{{
    if (x != x)
        return 0;
    if (x <= {lo})
        return {lo_t};
    if (x >= {hi})
        return {hi_t};
    return ({t})x;
}}"""


def _math(kind):
    def gen(lib, name, dtype):
        from . import c_math

        return c_math.DEFINITIONS[kind](lib, name)
    return gen


_GENERATORS = {
    "bits": _bits, "from_bits": _from_bits, "fabs": _fabs, "copysign": _copysign,
    "f16_to_f32": _f16_to_f32, "f32_to_f16": _f32_to_f16, "round_f16": _round_f16,
    "f64_to_f16": _f64_to_f16,
    "min": _min, "max": _max,
    "add": _wrapping("+"), "sub": _wrapping("-"), "mul": _wrapping("*"),
    "div": _div, "floordiv": _floordiv, "floormod": _floormod, "fmod": _fmod,
    "shl": _shl, "shr": _shr, "abs": _abs,
    "cvt": _float_to_int,
    "exp": _math("exp"), "tanh": _math("tanh"), "erf": _math("erf"),
}
