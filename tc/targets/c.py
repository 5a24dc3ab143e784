"""The C code generator: PrimFuncs -> one portable C99 translation unit (for boards).

    src = emit_c(funcs, Target.parse("c"))
    src.source          # the C text: every kernel, and the static inline helpers they use
    src.libm_calls      # libm functions it calls ("expf", ...): link with -lm if any
    src.stack_bytes     # the largest stack footprint of one kernel's temporaries
    src.scratch_bytes   # kernel -> workspace bytes for its large temporaries
    obj = build_c_object(funcs, "c")   # the same, compiled for the host (tests, tc.compile)

Each PrimFunc becomes ``void name(void *p0, void *p1, ...)``, the prototype the AOT entry
declares; the body casts each pointer to a typed ``T *restrict`` and runs the loops with
the semantics the LLVM generator gives them (``llvm_ops``: wrapping integers, floor
division, saturating float-to-int casts, NaN-propagating min/max; bool is one byte in
memory, float16 is converted by bit manipulation).  Parallel loops run serially,
vectorized and unrolled loops are plain ``for`` loops (the board's compiler may vectorize
them).  A temporary (``Allocate``) is a fixed-size array on the stack up to
STACK_LIMIT_BYTES; a larger one lives in the caller's workspace: the kernel takes one
more pointer, to scratch space the AOT plan reserves after the arena's tensors and every
such kernel shares (kernels run one at a time), so no malloc, no static RAM, and the
kernels stay reentrant.  float32 exp, tanh and erf are
inline functions (``c_math``); other math functions call libm.  No malloc, no stdio, no
threads, no variable-length arrays.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from .. import __version__
from ..compiler.artifact import _C_KEYWORDS
from ..compiler.loops import ir as L
from ..compiler.te import expr as E
from .c_expr import MUL, ExprEmitter
from .c_helpers import C_TYPE, MEM_TYPE, PREFIX, Helpers, canonical, int_literal
from .errors import CodegenError, check_unique_names, compiling
from . import llvm_func
from .llvm_func import RESERVED_NAMES
from .target import Target

__all__ = ["C_FLAGS", "STACK_LIMIT_BYTES", "CSource", "build_c_object", "compile_c_source", "emit_c"]

SCRATCH_ALIGN = 64
# "unrolled" loops up to llvm_func.UNROLL_LIMIT iterations ask the C compiler to unroll
# them, as the LLVM generator unrolls them itself
_UNROLL_MACRO = """\
/* TC_UNROLL(n): ask the compiler to unroll the next loop (a no-op where unknown) */
#define TC_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define TC_UNROLL(n) TC_PRAGMA(clang loop unroll_count(n))
#elif defined(__GNUC__) && __GNUC__ >= 8
#define TC_UNROLL(n) TC_PRAGMA(GCC unroll n)
#else
#define TC_UNROLL(n)
#endif"""
#: temporaries larger than this live in the workspace rather than on the stack
STACK_LIMIT_BYTES = 4 * 1024  # microcontrollers run with stacks of a few KiB
#: how build_c_object compiles for the host: any warning in generated code is an error
C_FLAGS = ("-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror")
_INDENT = "    "
# identifiers <stdint.h>, <stdbool.h> and <math.h> define (types and object-like macros)
_LIBRARY_NAMES = frozenset(
    ["bool", "true", "false", "main", "INFINITY", "NAN", "HUGE_VAL", "HUGE_VALF", "HUGE_VALL",
     "FP_INFINITE", "FP_NAN", "FP_NORMAL", "FP_SUBNORMAL", "FP_ZERO", "FP_FAST_FMA",
     "FP_FAST_FMAF", "FP_FAST_FMAL", "FP_ILOGB0", "FP_ILOGBNAN", "MATH_ERRNO",
     "MATH_ERREXCEPT", "math_errhandling", "INTPTR_MIN", "INTPTR_MAX", "UINTPTR_MAX",
     "INTMAX_MIN", "INTMAX_MAX", "UINTMAX_MAX", "INTMAX_C", "UINTMAX_C", "PTRDIFF_MIN",
     "PTRDIFF_MAX", "SIG_ATOMIC_MIN", "SIG_ATOMIC_MAX", "SIZE_MAX", "WCHAR_MIN", "WCHAR_MAX",
     "WINT_MIN", "WINT_MAX"] + list(C_TYPE.values()) + list(MEM_TYPE.values())
    + [f"{p}INT{k}{n}_{s}" for p in ("", "U") for k in ("", "_LEAST", "_FAST")
       for n in (8, 16, 32, 64) for s in ("C", "MIN", "MAX")])
_RESERVED = _C_KEYWORDS | _LIBRARY_NAMES | RESERVED_NAMES


@dataclass(frozen=True)
class CSource:
    """The result of :func:`emit_c`.

    ``stack_bytes`` is the largest, over the kernels, of the bytes of stack arrays live
    at once (``kernel_stack_bytes`` per kernel); ``scratch_bytes`` maps each kernel that
    keeps larger temporaries in the workspace to the bytes it needs there (such a kernel
    takes one more pointer, after its buffers: the start of that scratch space, 64-byte
    aligned); ``libm_calls`` the libm functions the source calls (empty: no -lm needed).
    """

    source: str
    func_names: tuple[str, ...]
    stack_bytes: int
    libm_calls: tuple[str, ...]
    kernel_stack_bytes: tuple[tuple[str, int], ...] = ()
    scratch_bytes: tuple[tuple[str, int], ...] = ()


def emit_c(funcs: list[L.PrimFunc], target: Target | str = "c", *,
           stack_limit_bytes: int | None = None) -> CSource:
    """One C99 translation unit defining every function of ``funcs``.  Temporaries
    larger than ``stack_limit_bytes`` (default: the target's ``-stack-limit=BYTES``
    option, else STACK_LIMIT_BYTES) go to the workspace.

    Raises CodegenError naming the function when one cannot be emitted."""
    funcs = list(funcs)
    target = Target.parse(target)
    if stack_limit_bytes is None:
        limit = target.option("stack-limit", str(STACK_LIMIT_BYTES))
        if not limit.isdigit():
            raise ValueError(f"-stack-limit={limit} in {str(target)!r}: give a number of bytes")
        stack_limit_bytes = int(limit)
    if target.kind != "c":
        raise ValueError(f"the C backend compiles for the 'c' target, not {str(target)!r}")
    if not funcs:
        raise ValueError("emit_c needs at least one PrimFunc")
    check_unique_names(funcs)
    helpers = Helpers()
    kernels, stacks, scratch = [], [], []
    for func in funcs:
        with compiling(func, "emit_c"):
            em = FunctionEmitter(func, helpers, stack_limit_bytes)
            kernels.append(em.emit())
        stacks.append((func.name, em.stack_bytes))
        if em.scratch_bytes:
            scratch.append((func.name, em.scratch_bytes))
    libm = tuple(sorted(helpers.libm))
    parts = [_file_header(target, funcs, libm, stack_limit_bytes),
             "#include <math.h>\n#include <stdbool.h>\n#include <stdint.h>", _UNROLL_MACRO]
    if helpers.source():
        parts.append(helpers.source())
    needs = dict(scratch)
    parts.append("\n".join(_prototype(f, f.name in needs) + ";" for f in funcs))
    parts.extend(kernels)
    return CSource(source="\n\n".join(parts) + "\n", func_names=tuple(f.name for f in funcs),
                   stack_bytes=max(b for _, b in stacks), libm_calls=libm,
                   kernel_stack_bytes=tuple(stacks), scratch_bytes=tuple(scratch))


def build_c_object(funcs: list[L.PrimFunc], target: Target | str = "c") -> bytes:
    """``emit_c(funcs)`` compiled for the host (see ``compile_c_source``)."""
    return compile_c_source(emit_c(funcs, target))


def compile_c_source(src: CSource) -> bytes:
    """``src`` compiled by the host's C compiler (C_FLAGS) into a relocatable object, for
    the artifact path that links kernels into a shared library.  Raises ToolchainError
    with the compiler's output (and the source's path kept) on failure."""
    from ..runtime import toolchain

    with tempfile.TemporaryDirectory(prefix="tc-c-") as tmp:
        c_path, obj_path = os.path.join(tmp, "kernels.c"), os.path.join(tmp, "kernels.o")
        with open(c_path, "w") as f:
            f.write(src.source)
        try:
            toolchain.run_compiler([*C_FLAGS, "-c", c_path, "-o", obj_path],
                                   "compiling the generated C kernels")
        except toolchain.ToolchainError as e:
            with tempfile.NamedTemporaryFile("w", prefix="tc-kernels-", suffix=".c",
                                             delete=False) as keep:
                keep.write(src.source)
            raise toolchain.ToolchainError(f"{e}\n(the generated C is kept in {keep.name})"
                                           ) from None
        with open(obj_path, "rb") as f:
            return f.read()


def _file_header(target: Target, funcs, libm: tuple[str, ...], limit: int) -> str:
    math = (f"calls libm ({', '.join(libm)}): link with -lm" if libm
            else "needs no libm (float32 exp/tanh/erf are inline)")
    kernels = f"{len(funcs)} kernel{'s' if len(funcs) != 1 else ''}"
    return "\n".join([
        f"/* Generated by tc {__version__} for target \"{_comment(str(target))}\": {kernels}.",
        " * Plain C99: no malloc, no threads, no stdio, no variable-length arrays.",
        f" * Math: {math}.",
        f" * Temporaries above {limit} bytes live in the caller's workspace (a last argument).",
        " */"])


def _comment(text: str) -> str:
    """``text`` safe inside a C comment (a name may hold "*/" or non-ASCII characters)."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text).replace("*/", "*_/")


def _prototype(func: L.PrimFunc, scratch: bool) -> str:
    count = len(func.params) + (1 if scratch else 0)
    params = ", ".join(f"void *p{k}" for k in range(count)) or "void"
    return f"void {func.name}({params})"


def _check_name(func: L.PrimFunc) -> None:
    name = func.name
    if not name.isidentifier() or not name.isascii():
        raise CodegenError(f"function name {name!r} is not a C identifier")
    if name in _RESERVED or name.startswith(PREFIX):
        raise CodegenError(f"function name {name!r} is a C keyword, a C library or tc symbol; "
                           f"rename the kernel")
    if len(set(map(id, func.params))) != len(func.params):
        raise CodegenError(f"a buffer appears twice among the parameters of {name}")


def _unique_nodes(root):
    """Every Expr/Stmt under ``root`` once (shared subexpressions visited once)."""
    seen, stack = set(), [root]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        stack.extend(E.children(n))


def _live_bytes(s: L.Stmt, size) -> int:
    """The most bytes of temporaries live at once under ``s``, each counted as
    ``size(buffer)`` (0 for those kept elsewhere)."""
    if isinstance(s, L.Allocate):
        return size(s.buffer) + _live_bytes(s.body, size)
    if isinstance(s, L.Seq):
        return max((_live_bytes(x, size) for x in s.stmts), default=0)
    if isinstance(s, (L.For, L.LetStmt)):
        return _live_bytes(s.body, size)
    if isinstance(s, L.IfThenElse):
        return max(_live_bytes(s.then_case, size),
                   _live_bytes(s.else_case, size) if s.else_case is not None else 0)
    return 0


def _scratch_size(nbytes: int) -> int:
    """Bytes a temporary takes in the workspace scratch: whole 64-byte lines, so each
    one starts aligned."""
    return -(-nbytes // SCRATCH_ALIGN) * SCRATCH_ALIGN


class FunctionEmitter:
    """Emits one PrimFunc as a C function definition.  Other C dialects (the CUDA
    generator) subclass it: ``RESTRICT`` spells the restrict qualifier,
    ``EXPR_EMITTER`` turns expressions into text, ``loop_hint`` precedes a loop."""

    RESTRICT = "restrict"
    EXPR_EMITTER = ExprEmitter

    def __init__(self, func: L.PrimFunc, helpers: Helpers, stack_limit: int):
        self.func, self.limit = func, stack_limit
        self.ex = self.EXPR_EMITTER(helpers)
        self.lines: list[str] = []
        self.depth = 1
        self.used = set(_RESERVED) | {f"p{k}" for k in range(len(func.params))}
        self.stack_bytes = _live_bytes(
            func.body, lambda b: b.nbytes if b.nbytes <= stack_limit else 0)
        self.scratch_bytes = _live_bytes(
            func.body, lambda b: _scratch_size(b.nbytes) if b.nbytes > stack_limit else 0)
        self.scratch_top = 0  # bytes of the scratch taken by the enclosing temporaries
        self.n_temps = 0

    def fresh(self, hint: str) -> str:
        """A C identifier not used before in this function, close to ``hint``."""
        base = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_"
                       for ch in hint) or "v"
        if base[0].isdigit() or base[0] == "_" or base.startswith(PREFIX):
            base = "v" + ("" if base[0] == "_" else "_") + base
        name, k = base, 0
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def line(self, text: str) -> None:
        self.lines.append(_INDENT * self.depth + text)

    # --- the function ------------------------------------------------------------------

    def emit(self) -> str:
        func = self.func
        _check_name(func)
        loaded, stored = set(), set()
        for n in _unique_nodes(func.body):
            if isinstance(n, L.Load):
                loaded.add(n.buffer)
            elif isinstance(n, L.Store):
                stored.add(n.buffer)
        header = [f" * {func.name}: {len(func.params)} buffers"]
        for k, buf in enumerate(func.params):
            mem = MEM_TYPE[canonical(buf.dtype)]
            use = ("read, written" if buf in loaded and buf in stored else "written"
                   if buf in stored else "read" if buf in loaded else "unused")
            header.append(f" *   p{k} {_comment(buf.name)}: {buf.dtype}{list(buf.shape)}, {use}")
            if buf not in loaded and buf not in stored:
                self.line(f"(void)p{k};")
                continue
            name = self.fresh(buf.name)
            qual = "" if buf in stored else "const "
            self.line(f"{qual}{mem} *{self.RESTRICT} {name} = ({qual}{mem} *)p{k};")
            self.ex.buffers[buf] = name
        if self.scratch_bytes:
            k = len(func.params)
            header.append(f" *   p{k}: {self.scratch_bytes} bytes of the workspace for temporaries")
            self.scratch = self.fresh("scratch")
            self.line(f"unsigned char *{self.RESTRICT} {self.scratch} = (unsigned char *)p{k};")
        self.stmt(func.body)
        header.append(f" * temporaries: {self.stack_bytes} bytes on the stack, "
                      f"{self.scratch_bytes} in the workspace")
        return "\n".join(["/*", *header, " */", _prototype(func, self.scratch_bytes > 0), "{",
                          *self.lines, "}"])

    # --- statements ----------------------------------------------------------------------

    def stmt(self, s: L.Stmt) -> None:
        method = getattr(self, f"_stmt_{type(s).__name__}", None)
        if method is None:
            raise CodegenError(f"unknown statement {type(s).__name__}")
        method(s)

    def _stmt_Seq(self, s: L.Seq) -> None:
        for x in s.stmts:
            self.stmt(x)

    def _stmt_Store(self, s: L.Store) -> None:
        if s.value.dtype != s.buffer.dtype:
            raise CodegenError(f"store of a {s.value.dtype} value into {s.buffer.dtype} buffer "
                               f"{s.buffer.name!r}; insert a cast")
        if not E.is_int(s.index.dtype):
            raise CodegenError(f"index {s.index} has dtype {s.index.dtype}; indices must be "
                               f"integers")
        with self.hoisted([s.index, s.value]):
            target = f"{self.ex.buffer(s.buffer)}[{self.ex.expr(s.index).text}]"
            value = self.ex.expr(s.value).text
            if canonical(s.buffer.dtype) == "float16":
                value = f"{self.ex.lib.need('f32_to_f16')}({value})"
            self.line(f"{target} = {value};")

    def _stmt_IfThenElse(self, s: L.IfThenElse) -> None:
        with self.hoisted([s.cond]):
            cond = self.ex.condition(s.cond).text
        self.block(f"if ({cond})", s.then_case)
        if s.else_case is not None:
            self.lines[-1] += " else {"
            self.depth += 1
            self.stmt(s.else_case)
            self.depth -= 1
            self.line("}")

    def _stmt_LetStmt(self, s: L.LetStmt) -> None:
        if s.var.dtype != s.value.dtype:
            raise CodegenError(f"let {s.var.name} ({s.var.dtype}) is bound to a "
                               f"{s.value.dtype} value; insert a cast")
        if not any(n is s.var for n in _unique_nodes(s.body)):
            self.stmt(s.body)  # an unused binding (its value has no side effects)
            return
        with self.hoisted([s.value]):
            value = self.ex.expr(s.value).text
        name = self.fresh(s.var.name)
        self.line(f"const {C_TYPE[canonical(s.var.dtype)]} {name} = {value};")
        if self.ex.reads_memory(s.value):
            self.ex.data_vars.add(s.var)
        if self.ex.nonneg(s.value):
            self.ex.nonneg_vars.add(s.var)
        with self.bound(s.var, name):
            self.stmt(s.body)

    def _stmt_Allocate(self, s: L.Allocate) -> None:
        buf = s.buffer
        if buf in self.ex.buffers:
            raise CodegenError(f"buffer {buf.name!r} is allocated twice")
        name = self.fresh(buf.name)
        mem = MEM_TYPE[canonical(buf.dtype)]
        shape = f"{buf.dtype}{list(buf.shape)}"
        top = self.scratch_top
        if buf.nbytes > self.limit:
            self.line(f"{mem} *{self.RESTRICT} {name} = ({mem} *)({self.scratch} + {top}); "
                      f"/* {shape}: {buf.nbytes} bytes of the workspace (over {self.limit}) */")
            self.scratch_top += _scratch_size(buf.nbytes)
        else:
            self.line(f"{mem} {name}[{max(buf.size, 1)}]; /* {shape} */")
        self.ex.buffers[buf] = name
        try:
            self.stmt(s.body)
        finally:
            del self.ex.buffers[buf]
            self.scratch_top = top

    def _stmt_Barrier(self, s: L.Barrier) -> None:
        """Threads bound to GPU axes run serially here: nothing to wait for."""

    def _stmt_ThreadAllReduce(self, s: L.ThreadAllReduce) -> None:
        """The loop bound to the thread axis ran serially, so ``buffer[0]`` already
        holds the whole reduction."""

    def _stmt_For(self, s: L.For) -> None:
        if not (E.is_int(s.var.dtype) and E.is_int(s.min.dtype) and E.is_int(s.extent.dtype)):
            raise CodegenError(f"loop {s.var.name}: variable, min and extent must be integers")
        dtype = canonical(s.var.dtype)
        ctype = C_TYPE[dtype]
        with self.hoisted([s.min, s.extent]):
            lo = self.ex.convert(s.min.dtype, dtype, self.ex.expr(s.min))
            ext = self.ex.convert(s.extent.dtype, dtype, self.ex.expr(s.extent))
        v = self.fresh(s.var.name)
        if isinstance(s.min, E.Const) and isinstance(s.extent, E.Const):
            stop = int_literal(s.min.value + s.extent.value, dtype)
            init, cond = f"{v} = {lo.text}", f"{v} < {stop}"
        elif (_is_zero(s.min) and isinstance(s.extent, (E.Const, E.Var))
              and not self.ex.reads_memory(s.extent)):
            init, cond = f"{v} = {lo.text}", f"{v} < {ext.text}"
        else:  # the bounds are evaluated once, as LLVM does
            end = self.fresh(f"{v}_end")
            stop = ext.text if _is_zero(s.min) else f"{v} + {ext.at(MUL)}"
            init, cond = f"{v} = {lo.text}, {end} = {stop}", f"{v} < {end}"
        kind = "" if s.kind == L.SERIAL else f" /* {s.kind} */"
        if self.ex.nonneg(s.min):
            self.ex.nonneg_vars.add(s.var)
        hint = self.loop_hint(s)
        if hint:
            self.line(hint)
        with self.bound(s.var, v):
            self.block(f"for ({ctype} {init}; {cond}; ++{v})", s.body, kind)

    def loop_hint(self, s: L.For) -> str | None:
        """The line before loop ``s`` asking the compiler to unroll it, if any: "unrolled"
        loops up to llvm_func.UNROLL_LIMIT iterations (a register tile's accumulators stay
        in registers only when its loops unroll)."""
        if (s.kind == L.UNROLLED and isinstance(s.extent, E.Const)
                and 1 < s.extent.value <= llvm_func.UNROLL_LIMIT):
            return f"TC_UNROLL({s.extent.value})"
        return None

    # --- helpers -------------------------------------------------------------------------

    def block(self, header: str, body: L.Stmt, comment: str = "") -> None:
        """``header {`` body ``}``."""
        self.line(f"{header} {{{comment}")
        self.depth += 1
        self.stmt(body)
        self.depth -= 1
        self.line("}")

    def bound(self, var: E.Var, name: str):
        """Bind ``var`` to the C identifier ``name`` for a ``with`` block."""
        return _Binding(self.ex.names, var, name)

    def hoisted(self, roots: list[E.Expr]):
        """A ``with`` block in which every subexpression that ``roots`` share (the same
        node reached twice, as inlining makes) is a ``const`` temporary declared before
        the statement, so each is computed and printed once.  Every C operation the
        generator emits is total (division by zero, shifts and float-to-int conversions
        are defined), and loop IR only loads in bounds even under a Select, so computing
        a shared value unconditionally is safe."""
        counts: dict[int, int] = {}
        order: list[E.Expr] = []

        def visit(n):
            k = id(n)
            if k in counts:
                counts[k] += 1
                return
            counts[k] = 1
            for c in E.children(n):
                visit(c)
            order.append(n)

        for r in roots:
            visit(r)
        shared = [n for n in order if counts[id(n)] > 1 and not isinstance(n, (E.Var, E.Const))]
        for n in shared:
            text = self.ex.expr(n).text
            dtype = canonical(n.buffer.dtype if isinstance(n, L.Load) else n.dtype)
            name = self.fresh(f"t{self.n_temps}")
            self.n_temps += 1
            self.line(f"const {C_TYPE[dtype]} {name} = {text};")
            self.ex.temps[id(n)] = name
        return _Temps(self.ex.temps, [id(n) for n in shared])


def _is_zero(e: E.Expr) -> bool:
    return isinstance(e, E.Const) and e.value == 0


class _Binding:
    def __init__(self, names: dict, var: E.Var, name: str):
        self.names, self.var, self.name = names, var, name

    def __enter__(self):
        self.old = self.names.get(self.var)
        self.names[self.var] = self.name

    def __exit__(self, *exc):
        if self.old is None:
            del self.names[self.var]
        else:
            self.names[self.var] = self.old


class _Temps:
    def __init__(self, temps: dict, keys: list[int]):
        self.temps, self.keys = temps, keys

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for k in self.keys:
            self.temps.pop(k, None)
