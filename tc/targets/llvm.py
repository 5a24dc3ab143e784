"""The LLVM code generator: PrimFuncs -> optimized LLVM IR -> a relocatable ELF object.

    art = build_llvm([func], Target.parse("llvm"))
    art.object_code   # bytes: link with the C runtime (tc_parallel_for, tc_alloc, tc_free)
                      # and libm into a shared library

Each PrimFunc becomes ``void name(T0 *noalias p0, T1 *noalias p1, ...)``.  External
symbols the object needs: tc_parallel_for, tc_alloc, tc_free (tc's C runtime) and libm
functions (expf, tanhf, erff, ...).
"""
from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import threading
from dataclasses import dataclass

from llvmlite import ir

from ..compiler.loops.ir import PrimFunc
from .errors import CodegenError, check_unique_names
from .llvm_func import EmitState, emit_primfunc
from .target import Target

__all__ = ["LLVMArtifact", "CodegenError", "build_llvm", "create_target_machine"]


@dataclass(frozen=True)
class LLVMArtifact:
    """The result of :func:`build_llvm`.

    ``ir`` is the optimized module's text, ``unoptimized_ir`` what tc emitted,
    ``object_code`` a position-independent ELF object, ``remarks`` notes on loops that
    could not be emitted as scheduled (e.g. a vectorized loop kept scalar).
    """

    ir: str
    unoptimized_ir: str
    object_code: bytes
    func_names: tuple[str, ...]
    target: str
    remarks: tuple[str, ...] = ()


_init_lock = threading.Lock()


@functools.lru_cache(maxsize=None)
def _llvm():
    """llvmlite.binding, with every target initialized (done once, on first codegen)."""
    import llvmlite.binding as llvm

    with _init_lock:
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    return llvm


def create_target_machine(target: Target | str, *, jit: bool = False):
    """An llvmlite TargetMachine for ``target`` (opt level 3, PIC unless ``jit``)."""
    llvm = _llvm()
    t = Target.parse(target).resolved()
    if t.kind != "llvm":
        raise ValueError(f"the LLVM backend compiles for 'llvm' targets, not {str(t)!r}")
    try:
        machine = llvm.Target.from_triple(t.mtriple)
    except RuntimeError as e:
        raise ValueError(f"LLVM has no backend for triple {t.mtriple!r}: {e}") from None
    # LLVM only warns on stderr about an unknown CPU or feature, then may abort the
    # process later (e.g. "64-bit code requested on a subtarget that doesn't support it").
    with _captured_stderr() as log:
        tm = machine.create_target_machine(
            cpu=t.mcpu, features=",".join(t.mattr), opt=3,
            reloc="default" if jit else "pic", codemodel="jitdefault" if jit else "default",
            jit=jit)
    warnings = log()
    if "not a recognized processor" in warnings:
        raise ValueError(f"LLVM does not know -mcpu={t.mcpu} for {t.mtriple}; use a CPU name "
                         f"from `llc -mcpu=help`, or leave -mcpu out to use the host's")
    if "not a recognized feature" in warnings:
        raise ValueError(f"LLVM does not know a feature in -mattr={','.join(t.mattr)} for "
                         f"{t.mtriple}: {warnings.strip().splitlines()[0]}")
    return tm


@contextlib.contextmanager
def _captured_stderr():
    """Capture what native code writes to file descriptor 2; yields a getter."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 2)
        text = []
        try:
            yield lambda: "".join(text)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text.append(tmp.read().decode(errors="replace"))


def optimize(module, tm, speed_level: int = 3) -> None:
    """Run LLVM's standard O``speed_level`` pipeline, vectorizers included, in place."""
    llvm = _llvm()
    pto = llvm.create_pipeline_tuning_options(speed_level=speed_level)
    pto.loop_vectorization = speed_level >= 2
    pto.slp_vectorization = speed_level >= 2
    pto.loop_unrolling = speed_level >= 2
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(module, pb)


def build_llvm(funcs: list[PrimFunc], target: Target | str = "llvm",
               module_name: str = "tc_kernels", opt_level: int = 3) -> LLVMArtifact:
    """Compile ``funcs`` for ``target`` into one optimized module and ELF object.

    Raises CodegenError naming the function when one cannot be compiled.
    """
    funcs = list(funcs)
    if not funcs:
        raise ValueError("build_llvm needs at least one PrimFunc")
    check_unique_names(funcs)
    names = [f.name for f in funcs]
    llvm = _llvm()
    target = Target.parse(target).resolved()
    tm = create_target_machine(target)
    linked = None
    remarks: list[str] = []
    for func in funcs:
        mod = _compile_one(llvm, func, target, tm, module_name, remarks)
        if linked is None:
            linked = mod
            continue
        try:
            linked.link_in(mod)
        except RuntimeError as e:
            raise CodegenError(f"cannot link {func.name} with the functions before it: {e}"
                               ) from None
    linked.name = module_name
    unoptimized = str(linked)
    optimize(linked, tm, opt_level)
    try:
        linked.verify()
    except RuntimeError as e:
        raise CodegenError(f"LLVM's optimizer produced invalid IR for {names}: {e}") from None
    return LLVMArtifact(ir=str(linked), unoptimized_ir=unoptimized,
                        object_code=bytes(tm.emit_object(linked)), func_names=tuple(names),
                        target=str(target), remarks=tuple(remarks))


def _compile_one(llvm, func: PrimFunc, target: Target, tm, module_name: str, remarks: list):
    """Emit, parse and verify one PrimFunc in a module of its own."""
    if not isinstance(func, PrimFunc):
        raise TypeError(f"build_llvm takes PrimFuncs, got {type(func).__name__}")
    module = ir.Module(name=f"{module_name}.{func.name}")
    module.triple = target.mtriple
    module.data_layout = str(tm.target_data)
    state = EmitState()
    try:
        emit_primfunc(module, func, target, state)
    except CodegenError as e:
        raise CodegenError(f"cannot compile {func.name}: {e}") from None
    except Exception as e:  # a bug in tc: still name the function and keep the process up
        raise CodegenError(f"cannot compile {func.name}: internal code generator error "
                           f"({type(e).__name__}: {e}); please report it with the PrimFunc"
                           ) from e
    remarks.extend(state.remarks)
    try:
        mod = llvm.parse_assembly(str(module))
        mod.verify()
    except RuntimeError as e:
        raise CodegenError(f"LLVM rejected the IR generated for {func.name}: {e}") from None
    return mod
