"""Typed LLVM instructions for tc's scalar operators, on scalars and vectors alike.

Every helper takes ``ir.Value``s that are either scalars or vectors of one lane count
(combine mixed operands with :func:`broadcast` first) and the tc dtype of the operands,
which decides signed/unsigned/float semantics.  Booleans are ``i1`` in registers and
``i8`` in memory.
"""
from __future__ import annotations

from llvmlite import ir

from ..compiler.graph.dtypes import is_narrow, storage_dtype
from ..compiler.te.expr import is_float
from .errors import CodegenError

I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

_SCALAR = {
    "bool": I1,
    "int8": I8, "int16": ir.IntType(16), "int32": I32, "int64": I64,
    "uint8": I8, "uint16": ir.IntType(16), "uint32": I32, "uint64": I64,
    "float16": ir.HalfType(), "float32": ir.FloatType(), "float64": ir.DoubleType(),
}
DTYPES = tuple(_SCALAR)
FLOAT_CONTRACT = ("contract",)  # fma formation only: no reassociation, results stay close to numpy


def scalar_type(dtype: str) -> ir.Type:
    """The register type of ``dtype`` (bool is i1; a narrow type is its storage integer)."""
    if is_narrow(dtype):
        dtype = storage_dtype(dtype)
    try:
        return _SCALAR[dtype]
    except KeyError:
        raise CodegenError(f"dtype {dtype!r} is not supported by the LLVM backend; "
                           f"use one of {', '.join(DTYPES)}") from None


def memory_type(dtype: str) -> ir.Type:
    """The in-memory type of ``dtype`` (bool is i8)."""
    return I8 if dtype == "bool" else scalar_type(dtype)


def is_signed(dtype: str) -> bool:
    return dtype.startswith("int")


def lanes(value: ir.Value) -> int | None:
    """The lane count of a vector value, or None for a scalar."""
    return value.type.count if isinstance(value.type, ir.VectorType) else None


def with_lanes(t: ir.Type, n: int | None) -> ir.Type:
    return t if n is None else ir.VectorType(t, n)


def const(t: ir.Type, value) -> ir.Constant:
    """A constant of scalar or vector type ``t`` with every lane ``value``."""
    if isinstance(t, ir.VectorType):
        return ir.Constant(t, [ir.Constant(t.element, value)] * t.count)
    return ir.Constant(t, value)


def splat(b: ir.IRBuilder, value: ir.Value, n: int) -> ir.Value:
    """``value`` repeated in ``n`` lanes (constants fold to a constant vector)."""
    if isinstance(value, ir.Constant) and not isinstance(value.type, ir.VectorType):
        return ir.Constant(ir.VectorType(value.type, n), [value] * n)
    one = b.insert_element(ir.Constant(ir.VectorType(value.type, 1), ir.Undefined), value,
                           ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(ir.VectorType(value.type, 1), ir.Undefined),
                            ir.Constant(ir.VectorType(I32, n), [0] * n))


def broadcast(b: ir.IRBuilder, *values: ir.Value) -> list[ir.Value]:
    """Splat scalars to the lane count of the vectors among ``values``."""
    n = next((lanes(v) for v in values if lanes(v) is not None), None)
    if n is None:
        return list(values)
    return [splat(b, v, n) if lanes(v) is None else v for v in values]


def _suffix(t: ir.Type) -> str:
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{_suffix(t.element)}"
    if isinstance(t, ir.IntType):
        return f"i{t.width}"
    return {ir.HalfType: "f16", ir.FloatType: "f32", ir.DoubleType: "f64"}[type(t)]


def declare(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    """Get or declare the external function ``name``."""
    fn = module.globals.get(name)
    if fn is None:
        fn = ir.Function(module, ir.FunctionType(ret, args), name)
    return fn


def intrinsic(b: ir.IRBuilder, base: str, args: list[ir.Value], overloads: list[ir.Type],
              ret: ir.Type | None = None) -> ir.Value:
    """Call ``llvm.<base>.<suffixes of overloads>`` (the result type defaults to args[0]'s)."""
    name = ".".join([f"llvm.{base}"] + [_suffix(t) for t in overloads])
    fn = declare(b.module, name, ret or args[0].type, [a.type for a in args])
    return b.call(fn, args)


def _int_consts(v: ir.Value) -> list[int] | None:
    if not isinstance(v, ir.Constant):
        return None
    c = v.constant
    items = c if isinstance(c, list) else [c]
    vals = [x.constant if isinstance(x, ir.Constant) else x for x in items]
    return vals if all(isinstance(x, int) for x in vals) else None


def from_memory(b: ir.IRBuilder, dtype: str, v: ir.Value) -> ir.Value:
    """A loaded value in register form (bool: i8 -> i1)."""
    return b.icmp_unsigned("!=", v, const(v.type, 0)) if dtype == "bool" else v


def to_memory(b: ir.IRBuilder, dtype: str, v: ir.Value) -> ir.Value:
    """A register value in memory form (bool: i1 -> i8)."""
    if dtype != "bool":
        return v
    return b.zext(v, with_lanes(I8, lanes(v)))


# --- arithmetic -----------------------------------------------------------------------

def binary(b: ir.IRBuilder, op: str, dtype: str, x: ir.Value, y: ir.Value) -> ir.Value:
    """``x op y`` with tc semantics (``//`` and ``%`` floor for signed ints and floats)."""
    x, y = broadcast(b, x, y)
    if is_float(dtype):
        return _float_binary(b, op, dtype, x, y)
    if dtype == "bool":
        ops = {"&": b.and_, "|": b.or_, "^": b.xor, "min": b.and_, "max": b.or_}
        if op not in ops:
            raise CodegenError(f"operator {op!r} is not defined on bool; cast to an int first")
        return ops[op](x, y)
    signed = is_signed(dtype)
    simple = {"+": b.add, "-": b.sub, "*": b.mul, "&": b.and_, "|": b.or_, "^": b.xor,
              "<<": b.shl, ">>": b.ashr if signed else b.lshr}
    if op in simple:
        return simple[op](x, y)
    if op in ("min", "max"):
        name = ("s" if signed else "u") + op
        return intrinsic(b, name, [x, y], [x.type])
    if op in ("/", "//", "%"):
        return _int_division(b, op, signed, x, y)
    raise CodegenError(f"unknown binary operator {op!r} on {dtype}")


def _float_binary(b, op, dtype, x, y):
    if op == "+":
        return b.fadd(x, y, flags=FLOAT_CONTRACT)
    if op == "-":
        return b.fsub(x, y, flags=FLOAT_CONTRACT)
    if op == "*":
        return b.fmul(x, y, flags=FLOAT_CONTRACT)
    if op == "/":
        return b.fdiv(x, y)
    if op == "//":
        return intrinsic(b, "floor", [b.fdiv(x, y)], [x.type])
    if op == "%":  # numpy's mod: the remainder takes the divisor's sign
        r = b.frem(x, y)
        zero = const(x.type, 0.0)
        fix = b.and_(b.fcmp_ordered("!=", r, zero),
                     b.xor(b.fcmp_ordered("<", r, zero), b.fcmp_ordered("<", y, zero)))
        return b.select(fix, b.fadd(r, y), r)
    if op in ("min", "max"):  # propagate NaN as numpy does
        return intrinsic(b, "minimum" if op == "min" else "maximum", [x, y], [x.type])
    raise CodegenError(f"operator {op!r} is not defined on {dtype}; cast to an int first")


def _int_division(b, op, signed, x, y):
    """Truncating ``/``, floor ``//`` and floor ``%``; x/0 and x%0 give 0 as numpy does,
    and INT_MIN // -1 wraps, instead of trapping."""
    t = x.type
    ys = _int_consts(y)
    guarded = ys is None or any(v == 0 or (signed and v == -1) for v in ys)
    safe = y
    if guarded:
        is_zero = b.icmp_unsigned("==", y, const(t, 0))
        bad = b.or_(is_zero, b.icmp_signed("==", y, const(t, -1))) if signed else is_zero
        safe = b.select(bad, const(t, 1), y)
    q = (b.sdiv if signed else b.udiv)(x, safe)
    r = (b.srem if signed else b.urem)(x, safe)
    if signed and op in ("//", "%"):
        # floor: step toward -inf when the remainder is non-zero and its sign differs
        fix = b.and_(b.icmp_signed("!=", r, const(t, 0)),
                     b.icmp_signed("<", b.xor(r, safe), const(t, 0)))
        q = b.select(fix, b.sub(q, const(t, 1)), q)
        r = b.select(fix, b.add(r, safe), r)
    if op == "%":
        return r  # r is already 0 when the divisor was 0 or -1 (safe == 1)
    if guarded:
        if signed:
            q = b.select(b.icmp_signed("==", y, const(t, -1)), b.sub(const(t, 0), x), q)
        q = b.select(b.icmp_unsigned("==", y, const(t, 0)), const(t, 0), q)
    return q


def compare(b: ir.IRBuilder, op: str, dtype: str, x: ir.Value, y: ir.Value) -> ir.Value:
    """``x op y`` as i1 (vector of i1 for vectors); ``!=`` is true when a float is NaN."""
    x, y = broadcast(b, x, y)
    if is_float(dtype):
        if op == "!=":
            return b.fcmp_unordered("!=", x, y)
        return b.fcmp_ordered(op, x, y)
    return (b.icmp_signed if is_signed(dtype) else b.icmp_unsigned)(op, x, y)


def reinterpret(b: ir.IRBuilder, dst: str, x: ir.Value) -> ir.Value:
    """``x``'s bits as dtype ``dst`` (a bitcast; nothing when the register types agree)."""
    t = with_lanes(scalar_type(dst), lanes(x))
    return x if x.type == t else b.bitcast(x, t)


def cast(b: ir.IRBuilder, src: str, dst: str, x: ir.Value) -> ir.Value:
    """Convert ``x`` from dtype ``src`` to ``dst`` (numpy semantics; float->int truncates
    toward zero and saturates instead of producing poison)."""
    if src == dst:
        return x
    n = lanes(x)
    st, dt = scalar_type(src), with_lanes(scalar_type(dst), n)
    if dst == "bool":
        if is_float(src):
            return b.fcmp_unordered("!=", x, const(x.type, 0.0))
        return b.icmp_unsigned("!=", x, const(x.type, 0))
    if is_float(dst):
        if is_float(src):
            if _float_bits(src) < _float_bits(dst):
                return b.fpext(x, dt)
            if (src, dst) == ("float64", "float16"):
                x = _double_to_float_round_to_odd(b, x)
            return b.fptrunc(x, dt)
        return (b.sitofp if is_signed(src) else b.uitofp)(x, dt)
    if is_float(src):
        name = "fptosi.sat" if is_signed(dst) else "fptoui.sat"
        return intrinsic(b, name, [x], [dt, x.type], ret=dt)
    sw, dw = st.width, dt.element.width if n else dt.width
    if sw == dw:
        return x
    if sw > dw:
        return b.trunc(x, dt)
    return (b.sext if is_signed(src) else b.zext)(x, dt)


def _double_to_float_round_to_odd(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    """float64 -> float32 rounded to odd, so that a second rounding to float16 is correct.

    (A direct double -> half fptrunc becomes a call to __truncdfhf2, which not every
    toolchain's runtime library provides.)"""
    n = lanes(x)
    f32, i32 = with_lanes(ir.FloatType(), n), with_lanes(I32, n)
    f = b.fptrunc(x, f32)
    back = b.fpext(f, x.type)
    bits = b.bitcast(f, i32)
    away = b.fcmp_ordered(">", intrinsic(b, "fabs", [back], [back.type]),
                          intrinsic(b, "fabs", [x], [x.type]))
    bits = b.sub(bits, b.zext(away, i32))  # truncate toward zero
    inexact = b.zext(b.fcmp_unordered("!=", back, x), i32)
    return b.bitcast(b.or_(bits, inexact), f32)


def _float_bits(dtype: str) -> int:
    return int(dtype[len("float"):])


# --- math intrinsics --------------------------------------------------------------------

_LLVM_INTRINSIC = {"exp": "exp", "log": "log", "sqrt": "sqrt", "pow": "pow", "fabs": "fabs",
                   "floor": "floor", "ceil": "ceil", "round": "roundeven", "tanh": "tanh",
                   "sin": "sin", "cos": "cos", "abs": "fabs"}
_LIBM = {"erf": {"float32": "erff", "float64": "erf"}}


def math_call(b: ir.IRBuilder, name: str, dtype: str, args: list[ir.Value]) -> ir.Value:
    """The math intrinsic ``name`` (see te.expr.INTRINSICS) applied element-wise.

    ``round`` rounds half to even (numpy's rule).  float16 is computed in float32.
    float32 exp, erf and tanh are inline polynomials (llvm_math), since LLVM would
    otherwise call libm once per vector lane.
    """
    from . import llvm_math  # imports this module
    args = broadcast(b, *args)
    if name in ("abs", "fabs") and not is_float(dtype):
        if not is_signed(dtype):
            return args[0]
        return intrinsic(b, "abs", [args[0], ir.Constant(I1, 0)], [args[0].type])
    if not is_float(dtype):
        raise CodegenError(f"math function {name} needs a float argument, got {dtype}; "
                           f"insert a cast to float32")
    if dtype == "float16":
        wide = [cast(b, "float16", "float32", a) for a in args]
        return cast(b, "float32", "float16", math_call(b, name, "float32", wide))
    if dtype == "float32" and name in llvm_math.FLOAT32:
        return llvm_math.FLOAT32[name](b, *args)
    if name in _LIBM:
        return _libm_call(b, _LIBM[name][dtype], args)
    if name not in _LLVM_INTRINSIC:
        raise CodegenError(f"unknown math function {name!r}")
    return intrinsic(b, _LLVM_INTRINSIC[name], args, [args[0].type])


def _libm_call(b, fname, args):
    """Call a scalar libm function, once per lane for vectors."""
    n = lanes(args[0])
    elem = args[0].type.element if n else args[0].type
    fn = declare(b.module, fname, elem, [elem] * len(args))
    if n is None:
        return b.call(fn, args)
    out = ir.Constant(args[0].type, ir.Undefined)
    for i in range(n):
        k = ir.Constant(I32, i)
        out = b.insert_element(out, b.call(fn, [b.extract_element(a, k) for a in args]), k)
    return out
