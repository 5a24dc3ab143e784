"""Loop-IR expressions as C99 expressions, with the semantics ``llvm_ops`` gives them.

A C expression is a :class:`C` (text, precedence); operands are parenthesized by
precedence, and always where gcc's -Wparentheses would ask for it.  Invariant: the C
value of an expression equals the tc value, in the C type ``c_helpers.C_TYPE`` names
(an int8 sum is cast back to int8_t, a float16 result is rounded to float16).

Integer arithmetic that reads memory (the expression contains a Load, or a variable let-
bound to one) wraps as LLVM's does, through helpers; pure index arithmetic on int32/int64
(loop variables and constants) is plain C, where an overflow would index out of bounds
under either backend anyway.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from . import c_math
from .c_helpers import (C_TYPE, Helpers, bits, canonical, float_literal, int_literal,
                        is_signed)
from .errors import CodegenError
from .llvm_func import _check_operands

# C operator precedence, higher binds tighter
PRIMARY, UNARY, MUL, ADD, SHIFT, REL, EQ, BAND, BXOR, BOR, LAND, LOR, COND = (
    16, 15, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3)
_INFIX = {"*": MUL, "/": MUL, "%": MUL, "+": ADD, "-": ADD, "<<": SHIFT, ">>": SHIFT,
          "<": REL, "<=": REL, ">": REL, ">=": REL, "==": EQ, "!=": EQ,
          "&": BAND, "^": BXOR, "|": BOR, "&&": LAND, "||": LOR}
_FLOATS = ("float16", "float32", "float64")
_LIBM = {"exp": "exp", "log": "log", "sqrt": "sqrt", "pow": "pow", "floor": "floor",
         "ceil": "ceil", "round": "rint", "tanh": "tanh", "erf": "erf", "sin": "sin",
         "cos": "cos"}  # round: rint rounds half to even in the default rounding mode


@dataclass(frozen=True)
class C:
    """A C expression and the precedence of its outermost operator."""

    text: str
    prec: int = PRIMARY

    def at(self, prec: int) -> str:
        """The text, parenthesized unless it binds at least as tightly as ``prec``."""
        return self.text if self.prec >= prec else f"({self.text})"


def infix(op: str, a: C, b: C) -> C:
    """``a op b`` (left-associative), parenthesized as C and gcc's -Wparentheses require:
    bitwise and shift operands are never bare operations, comparisons never nest bare,
    and ``&&`` never sits bare in ``||``."""
    p = _INFIX[op]
    if op in ("<<", ">>", "&", "^", "|"):
        return C(f"{a.at(UNARY)} {op} {b.at(UNARY)}", p)
    if p in (REL, EQ):
        return C(f"{a.at(SHIFT)} {op} {b.at(SHIFT)}", p)
    if op in ("&&", "||"):
        left = a.text if a.prec > LAND or a.prec == p else f"({a.text})"
        return C(f"{left} {op} {b.at(EQ)}", p)
    return C(f"{a.at(p)} {op} {b.at(p + 1)}", p)


def call(fn: str, *args: C) -> C:
    return C(f"{fn}({', '.join(a.text for a in args)})")


def cast_to(ctype: str, x: C) -> C:
    return C(f"({ctype}){x.at(UNARY)}", UNARY)


class ExprEmitter:
    """Turns expressions into C; ``names`` maps Vars (and ``buffers`` Buffers) in scope to
    C identifiers, ``temps`` maps hoisted subexpressions (by id) to their temporary."""

    def __init__(self, helpers: Helpers):
        self.lib = helpers
        self.names: dict[E.Var, str] = {}
        self.buffers: dict[L.Buffer, str] = {}
        self.temps: dict[int, str] = {}
        self.data_vars: set[E.Var] = set()     # let-bound to a value read from memory
        self.nonneg_vars: set[E.Var] = set()   # known >= 0 (loops from a constant >= 0)
        self._data_memo: dict[int, tuple[object, bool]] = {}

    # --- facts about expressions ---------------------------------------------------------

    def reads_memory(self, e: E.Expr) -> bool:
        """True when ``e`` contains a Load or a variable bound to one (memoized by id)."""
        hit = self._data_memo.get(id(e))
        if hit is not None and hit[0] is e:
            return hit[1]
        if isinstance(e, L.Load):
            out = True
        elif isinstance(e, E.Var):
            out = e in self.data_vars
        else:
            out = any(self.reads_memory(c) for c in E.children(e))
        self._data_memo[id(e)] = (e, out)
        return out

    def nonneg(self, e: E.Expr) -> bool:
        """True when index expression ``e`` is known to be >= 0."""
        if isinstance(e, E.Const):
            return E.is_int(e.dtype) and e.value >= 0
        if isinstance(e, E.Var):
            return e in self.nonneg_vars
        if isinstance(e, E.Binary) and e.op in ("+", "*", "min", "max"):
            return self.nonneg(e.a) and self.nonneg(e.b)
        if isinstance(e, E.Binary) and e.op in ("/", "//", "%"):
            return self.nonneg(e.a) and isinstance(e.b, E.Const) and e.b.value > 0
        return False

    # --- dispatch ------------------------------------------------------------------------

    def expr(self, e: E.Expr) -> C:
        """The C expression computing ``e``."""
        temp = self.temps.get(id(e))
        if temp is not None:
            return C(temp)
        method = getattr(self, f"_expr_{type(e).__name__}", None)
        if method is None:
            raise CodegenError(f"{type(e).__name__} cannot appear in loop IR ({e}); "
                               f"lower the TE program first")
        return method(e)

    def condition(self, e: E.Expr) -> C:
        """``e`` as a C truth value (non-zero is true, NaN included, as llvm_ops.cast)."""
        if e.dtype == "bool":
            return self.expr(e)
        return self.convert(e.dtype, "bool", self.expr(e))

    def _expr_Const(self, e: E.Const) -> C:
        dtype = canonical(e.dtype)
        if dtype == "bool":
            return C("true" if e.value else "false")
        if dtype in _FLOATS:
            text = float_literal(e.value, dtype)
        else:
            text = int_literal(e.value, dtype)
        return C(text)

    def _expr_Var(self, e: E.Var) -> C:
        try:
            return C(self.names[e])
        except KeyError:
            raise CodegenError(f"variable {e.name!r} is used outside the loop or let that "
                               f"binds it") from None

    def _expr_Load(self, e: L.Load) -> C:
        dtype = canonical(e.buffer.dtype)
        if not E.is_int(e.index.dtype):
            raise CodegenError(f"index {e.index} has dtype {e.index.dtype}; indices must be "
                               f"integers")
        ref = C(f"{self.buffer(e.buffer)}[{self.expr(e.index).text}]")
        if dtype == "bool":
            return C(f"{ref.text} != 0", EQ)
        if dtype == "float16":
            return call(self.lib.need("f16_to_f32"), ref)
        return ref

    def buffer(self, buf: L.Buffer) -> str:
        try:
            return self.buffers[buf]
        except KeyError:
            raise CodegenError(f"buffer {buf.name!r} is neither a parameter of the function nor "
                               f"allocated around its use") from None

    # --- operators -----------------------------------------------------------------------

    def _expr_Binary(self, e: E.Binary) -> C:
        _check_operands(e)
        dtype = canonical(e.a.dtype)
        a, b = self.expr(e.a), self.expr(e.b)
        if dtype in _FLOATS:
            return self._float_binary(e.op, dtype, a, b)
        if dtype == "bool":
            ops = {"&": "&", "|": "|", "^": "^", "min": "&", "max": "|"}
            if e.op not in ops:
                raise CodegenError(f"operator {e.op!r} is not defined on bool; cast to an int "
                                   f"first")
            return infix(ops[e.op], a, b)
        return self._int_binary(e, dtype, a, b)

    def _float_binary(self, op: str, dtype: str, a: C, b: C) -> C:
        lib = self.lib
        if op in ("+", "-", "*", "/"):
            out = infix(op, a, b)
            return call(lib.need("round_f16"), out) if dtype == "float16" else out
        if op == "//":
            q = infix("/", a, b)
            if dtype == "float16":
                q = call(lib.need("round_f16"), q)  # the quotient is a float16 before floor
            return call(lib.libm_call("floor", dtype), q)
        if op == "%":
            return call(lib.need("fmod", dtype), a, b)
        if op in ("min", "max"):  # the result is an operand: no float16 rounding
            return call(lib.need(op, "float32" if dtype == "float16" else dtype), a, b)
        raise CodegenError(f"operator {op!r} is not defined on {dtype}; cast to an int first")

    def _int_binary(self, e: E.Binary, dtype: str, a: C, b: C) -> C:
        op, lib = e.op, self.lib
        plain_width = dtype in ("int32", "int64", "uint32", "uint64")
        if op in ("+", "-", "*"):
            wraps = dtype in ("uint32", "uint64") or (plain_width and not self.reads_memory(e))
            if wraps and not (isinstance(e.a, E.Const) and isinstance(e.b, E.Const)):
                if op == "-" and _is_zero(e.a) and is_signed(dtype):
                    return C(f"-{b.at(UNARY)}", UNARY)
                return infix(op, a, b)
            return call(lib.need({"+": "add", "-": "sub", "*": "mul"}[op], dtype), a, b)
        if op in ("&", "|", "^"):
            return infix(op, a, b)  # same-typed in-range operands give an in-range result
        if op in ("<<", ">>"):
            amount = e.b.value if isinstance(e.b, E.Const) else None
            if plain_width and not is_signed(dtype) and amount is not None \
                    and 0 <= amount < bits(dtype):
                return infix(op, a, b)
            return call(lib.need("shl" if op == "<<" else "shr", dtype), a, b)
        if op in ("min", "max"):
            return call(lib.need(op, dtype), a, b)
        if op in ("/", "//", "%"):
            divisor = e.b.value if isinstance(e.b, E.Const) else None
            if divisor is not None and divisor > 0 and (
                    not is_signed(dtype) or op == "/" or self.nonneg(e.a)):
                return infix("/" if op in ("/", "//") else "%", a, b)
            kind = {"/": "div", "//": "floordiv", "%": "floormod"}[op]
            return call(lib.need(kind, dtype), a, b)
        raise CodegenError(f"unknown binary operator {op!r} on {dtype}")

    def _expr_Compare(self, e: E.Compare) -> C:
        _check_operands(e)
        dtype = canonical(e.a.dtype)
        known = _known_comparison(e, dtype)
        if known is not None:  # e.g. unsigned >= 0: gcc's -Wtype-limits rejects the C
            return C("true" if known else "false")
        return infix(e.op, self.expr(e.a), self.expr(e.b))

    def _expr_Logical(self, e: E.Logical) -> C:
        return infix("&&" if e.op == "and" else "||", self.condition(e.a), self.condition(e.b))

    def _expr_Not(self, e: E.Not) -> C:
        return C(f"(!{self.condition(e.a).at(UNARY)})")

    def _expr_Select(self, e: E.Select) -> C:
        c = self.condition(e.cond)
        t, f = self.expr(e.true_value), self.expr(e.false_value)
        return C(f"{c.at(LOR)} ? {t.at(LOR)} : {f.at(LOR)}", COND)

    # --- conversions ---------------------------------------------------------------------

    def _expr_Cast(self, e: E.Cast) -> C:
        return self.convert(e.value.dtype, e.dtype, self.expr(e.value))

    def convert(self, src: str, dst: str, x: C) -> C:
        """``x`` of dtype ``src`` as dtype ``dst`` (llvm_ops.cast: float -> int truncates
        toward zero and saturates, NaN -> 0; to bool is "non-zero", NaN included)."""
        src, dst = canonical(src), canonical(dst)
        if src == dst:
            return x
        lib = self.lib
        if dst == "bool":
            zero = float_literal(0.0, src) if src in _FLOATS else "0"
            return C(f"{x.at(UNARY)} != {zero}", EQ)
        if dst in _FLOATS:
            if dst == "float16":
                if src == "float64":
                    return call(lib.need("f64_to_f16"), x)
                if src == "bool":
                    return cast_to("float", x)
                return call(lib.need("round_f16"), x if src == "float32" else cast_to("float", x))
            return cast_to(C_TYPE[dst], x)
        if src in _FLOATS:
            return call(lib.need("cvt", "float32" if src == "float16" else src, dst), x)
        return cast_to(C_TYPE[dst], x)

    def _expr_Reinterpret(self, e: E.Reinterpret) -> C:
        src, dst = canonical(e.value.dtype), canonical(e.dtype)
        x = self.expr(e.value)
        if src == dst:
            return x
        if bits(src) != bits(dst) or "bool" in (src, dst):
            raise CodegenError(f"cannot reinterpret {e.value.dtype} as {e.dtype}")
        if src in _FLOATS:  # to an integer of the same width
            fn = self.lib.need("f32_to_f16") if src == "float16" else self.lib.need("bits", src)
            return cast_to(C_TYPE[dst], call(fn, x))
        if dst in _FLOATS:
            unsigned = f"uint{bits(dst)}_t"
            fn = self.lib.need("f16_to_f32") if dst == "float16" else \
                self.lib.need("from_bits", dst)
            return call(fn, cast_to(unsigned, x))
        return cast_to(C_TYPE[dst], x)

    # --- math ----------------------------------------------------------------------------

    def _expr_Call(self, e: E.Call) -> C:
        dtype = canonical(e.args[0].dtype)
        args = [self.expr(a) for a in e.args]
        lib = self.lib
        if e.name in ("abs", "fabs") and dtype not in _FLOATS:
            return args[0] if not is_signed(dtype) else call(lib.need("abs", dtype), args[0])
        if dtype not in _FLOATS:
            raise CodegenError(f"math function {e.name} needs a float argument, got {dtype}; "
                               f"insert a cast to float32")
        if dtype == "float16":  # computed in float32, rounded back (as llvm_ops)
            return call(lib.need("round_f16"), self._float_call(e.name, "float32", args))
        return self._float_call(e.name, dtype, args)

    def _float_call(self, name: str, dtype: str, args: list[C]) -> C:
        lib = self.lib
        if name in ("abs", "fabs"):
            return call(lib.need("fabs", dtype), *args)
        if dtype == "float32" and name in c_math.FLOAT32:
            return call(lib.need(name, dtype), *args)
        if name not in _LIBM:
            raise CodegenError(f"unknown math function {name!r}")
        return call(lib.libm_call(_LIBM[name], dtype), *args)


def _is_zero(e: E.Expr) -> bool:
    return isinstance(e, E.Const) and e.value == 0


def _known_comparison(e: E.Compare, dtype: str) -> bool | None:
    """The value of an integer comparison with a constant that the operand's type decides
    (``u >= 0``, ``i8 < 200``), or None when it depends on the operand."""
    if dtype in _FLOATS:
        return None
    import numpy as np

    lo, hi = (0, 1) if dtype == "bool" else (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    if isinstance(e.b, E.Const) and not isinstance(e.a, E.Const):
        op, c = e.op, int(e.b.value)
    elif isinstance(e.a, E.Const) and not isinstance(e.b, E.Const):
        op, c = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[e.op], \
            int(e.a.value)
    else:
        return None

    def holds(x: int) -> bool:
        return {"<": x < c, "<=": x <= c, ">": x > c, ">=": x >= c, "==": x == c,
                "!=": x != c}[op]
    if op in ("==", "!="):
        return (op == "!=") if not lo <= c <= hi else None
    at_lo, at_hi = holds(lo), holds(hi)  # monotone in x: constant iff equal at both ends
    return at_lo if at_lo == at_hi else None
