"""A reference interpreter for the loop IR, for tests and debugging only.

``run_primfunc(func, arrays)`` translates the PrimFunc into Python source (loops become
``for`` loops over ``range``) and runs it on flat views of numpy arrays, so outputs are
written in place.  Every loop runs serially.  Arithmetic uses numpy scalars of each
expression's dtype.  Local buffers start as NaN (floats) so reading an element before it
is written shows up in the results.  It is slow: keep shapes small.
"""
from __future__ import annotations

import math

import numpy as np

from ..te import expr as E
from . import ir as L

_NP_CALL = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "pow": np.power, "fabs": np.abs,
            "floor": np.floor, "ceil": np.ceil, "round": np.round, "tanh": np.tanh,
            "sin": np.sin, "cos": np.cos, "abs": np.abs}


class InterpretError(RuntimeError):
    """The PrimFunc cannot be run on the given arrays."""


def run_primfunc(func: L.PrimFunc, arrays: list[np.ndarray]) -> None:
    """Execute ``func`` on ``arrays`` (one per param, matching shape and dtype, C-contiguous)."""
    if len(arrays) != len(func.params):
        raise InterpretError(f"{func.name} takes {len(func.params)} arrays, got {len(arrays)}")
    flat = []
    for buf, arr in zip(func.params, arrays):
        if tuple(arr.shape) != tuple(buf.shape) or arr.dtype != np.dtype(buf.dtype):
            raise InterpretError(f"{func.name}: param {buf.name} wants {buf.dtype}{list(buf.shape)}, "
                                 f"got {arr.dtype}{list(arr.shape)}")
        if not arr.flags.c_contiguous:
            raise InterpretError(f"{func.name}: array for {buf.name} must be C-contiguous")
        flat.append(arr.reshape(-1))
    src, env = _Translator(func).translate()
    code = compile(src, f"<loop-ir {func.name}>", "exec")
    exec(code, env)  # noqa: S102 - our own generated source
    env["_kernel"](*flat)


def primfunc_source(func: L.PrimFunc) -> str:
    """The Python source ``run_primfunc`` executes (for debugging)."""
    return _Translator(func).translate()[0]


class _Translator:
    def __init__(self, func: L.PrimFunc):
        self.func = func
        self.names: dict[int, str] = {}
        self.env: dict = {"np": np, "math": math, "_nan_or": _nan_or, "_erf": _erf,
                          "_idiv": _idiv, "_imod": _imod}
        self.lines: list[str] = []

    def translate(self) -> tuple[str, dict]:
        params = [self.name_of(b) for b in self.func.params]
        self.lines.append(f"def _kernel({', '.join(params)}):")
        self.stmt(self.func.body, 1)
        self.lines.append("    return None")
        return "\n".join(self.lines) + "\n", self.env

    def name_of(self, obj) -> str:
        key = id(obj)
        if key not in self.names:
            base = "b" if isinstance(obj, L.Buffer) else "v"
            self.names[key] = f"{base}{len(self.names)}_{''.join(c for c in obj.name if c.isalnum())}"
            self.env.setdefault("_keep", []).append(obj)  # keep ids stable
        return self.names[key]

    def const(self, value, dtype: str) -> str:
        name = f"_c{len(self.env)}"
        self.env[name] = np.dtype(dtype).type(value) if dtype != "bool" else bool(value)
        return name

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def stmt(self, s, ind: int) -> None:
        if isinstance(s, L.For):
            v = self.name_of(s.var)
            self.emit(ind, f"for {v} in range(int({self.expr(s.min)}), "
                           f"int({self.expr(s.min)}) + int({self.expr(s.extent)})):")
            self.stmt(s.body, ind + 1)
        elif isinstance(s, L.Seq):
            if not s.stmts:
                self.emit(ind, "pass")
            for x in s.stmts:
                self.stmt(x, ind)
        elif isinstance(s, L.Store):
            b = self.name_of(s.buffer)
            self.emit(ind, f"{b}[{self.expr(s.index)}] = {self.expr(s.value)}")
        elif isinstance(s, L.IfThenElse):
            self.emit(ind, f"if {self.expr(s.cond)}:")
            self.stmt(s.then_case, ind + 1)
            if s.else_case is not None:
                self.emit(ind, "else:")
                self.stmt(s.else_case, ind + 1)
        elif isinstance(s, L.LetStmt):
            self.emit(ind, f"{self.name_of(s.var)} = {self.expr(s.value)}")
            self.stmt(s.body, ind)
        elif isinstance(s, L.Allocate):
            b = s.buffer
            self.emit(ind, f"{self.name_of(b)} = _nan_or({b.size}, {b.dtype!r})")
            self.stmt(s.body, ind)
        elif isinstance(s, (L.Barrier, L.ThreadAllReduce)):
            self.emit(ind, "pass  # " + type(s).__name__ + ": a no-op when threads run serially")
        else:
            raise InterpretError(f"cannot interpret statement {type(s).__name__}")

    def expr(self, e) -> str:
        x = self.expr
        if isinstance(e, E.Var):
            if id(e) not in self.names:
                raise InterpretError(f"variable {e.name} is used but never bound")
            return self.names[id(e)]
        if isinstance(e, E.Const):
            return self.const(e.value, e.dtype)
        if isinstance(e, L.Load):
            return f"{self.name_of(e.buffer)}[{x(e.index)}]"
        if isinstance(e, E.Binary):
            a, b = x(e.a), x(e.b)
            if e.op in ("min", "max"):
                return f"{e.op}({a}, {b})"
            if e.op in ("//", "%") and E.is_int(e.dtype):
                return f"{'_idiv' if e.op == '//' else '_imod'}({a}, {b})"
            if e.op == "%":  # float modulo follows fmod (C semantics)
                return f"np.fmod({a}, {b})"
            return f"({a} {e.op} {b})"
        if isinstance(e, E.Compare):
            return f"bool({x(e.a)} {e.op} {x(e.b)})"
        if isinstance(e, E.Logical):
            return f"({x(e.a)} {e.op} {x(e.b)})"
        if isinstance(e, E.Not):
            return f"(not {x(e.a)})"
        if isinstance(e, E.Select):
            return f"({x(e.true_value)} if {x(e.cond)} else {x(e.false_value)})"
        if isinstance(e, E.Cast):
            t = self.const(0, e.dtype)
            if E.is_int(e.dtype) and E.is_float(e.value.dtype):
                return f"type({t})(np.trunc({x(e.value)}))"
            if e.dtype == "bool":
                return f"bool({x(e.value)})"
            return f"type({t})({x(e.value)})"
        if isinstance(e, E.Reinterpret):
            self.env["_reinterpret"] = _reinterpret
            return f"_reinterpret({x(e.value)}, {e.value.dtype!r}, {e.dtype!r})"
        if isinstance(e, E.Call):
            args = ", ".join(x(a) for a in e.args)
            t = self.const(0, e.dtype)
            if e.name == "erf":
                return f"type({t})(_erf({args}))"
            fn = f"_np_{e.name}"
            self.env[fn] = _NP_CALL[e.name]
            return f"type({t})({fn}({args}))"
        raise InterpretError(f"cannot interpret expression {type(e).__name__}")


def _reinterpret(value, src: str, dst: str):
    return np.array(value, dtype=src).view(dst)[()]


def _nan_or(size: int, dtype: str) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.full(size, np.nan, dt)
    return np.full(size, 0x5A, dt) if dt.kind in "iu" else np.zeros(size, dt)


def _erf(x):
    return math.erf(float(x))


def _idiv(a, b):
    return a // b  # Python and numpy integers both floor, as the IR specifies


def _imod(a, b):
    return a % b
