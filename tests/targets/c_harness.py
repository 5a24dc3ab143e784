"""Test helpers: run PrimFuncs through the C code generator and through LLVM, in-process.

``CLibrary(funcs)`` emits one C translation unit, compiles it into a shared library with
the host C compiler (strict flags: any warning fails) and calls kernels through ctypes;
``LLVMLibrary(funcs)`` compiles the same functions with llvmlite's MCJIT, so the two
generators can be compared on the same inputs.
"""
from __future__ import annotations

import ctypes
import os
import tempfile

import numpy as np

from tc.compiler.graph.dtypes import storage_dtype
from tc.compiler.loops.ir import PrimFunc
from tc.runtime.toolchain import run_compiler
from tc.targets.c import emit_c
from tc.targets.llvm import build_llvm, create_target_machine

from .jit import _register_runtime_stubs

STRICT_FLAGS = ("-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", "-pedantic")


def _check_arrays(func: PrimFunc, arrays: list[np.ndarray]) -> None:
    if len(arrays) != len(func.params):
        raise ValueError(f"{func.name} takes {len(func.params)} buffers, got {len(arrays)}")
    for a, buf in zip(arrays, func.params):
        want = np.dtype(storage_dtype(buf.dtype))  # a narrow type as its storage integer
        if a.dtype != want or a.size != buf.size or not a.flags.c_contiguous:
            raise ValueError(f"array for {buf.name} must be C-contiguous {buf.dtype} with "
                             f"{buf.size} elements, got {a.dtype} {a.shape}")


class CLibrary:
    """``funcs`` compiled from generated C into a shared library; ``source`` is the
    ``CSource``."""

    def __init__(self, funcs: list[PrimFunc], flags=STRICT_FLAGS):
        self.funcs = {f.name: f for f in funcs}
        self.source = emit_c(funcs)
        self._dir = tempfile.TemporaryDirectory(prefix="tc-c-test-")
        c_path = os.path.join(self._dir.name, "kernels.c")
        so_path = os.path.join(self._dir.name, "kernels.so")
        with open(c_path, "w") as f:
            f.write(self.source.source)
        run_compiler([*flags, "-shared", "-o", so_path, c_path, "-lm"],
                     "compiling generated C for a test")
        self._lib = ctypes.CDLL(so_path)

    def run(self, name: str, arrays: list[np.ndarray]) -> None:
        """Call kernel ``name`` on ``arrays`` (outputs are written in place), with the
        scratch space it asks for, if any."""
        _check_arrays(self.funcs[name], arrays)
        scratch = dict(self.source.scratch_bytes).get(name)
        if scratch:
            raw = np.full(scratch + 64, 0x5A, np.uint8)  # garbage the kernel must overwrite
            arrays = [*arrays, raw[(-raw.ctypes.data) % 64:]]
        fn = getattr(self._lib, name)
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * len(arrays)
        fn(*[a.ctypes.data for a in arrays])


class LLVMLibrary:
    """``funcs`` compiled by the LLVM generator for the host and loaded with MCJIT."""

    def __init__(self, funcs: list[PrimFunc]):
        import llvmlite.binding as llvm

        self.funcs = {f.name: f for f in funcs}
        art = build_llvm(funcs, "llvm")
        _register_runtime_stubs()
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(art.ir),
                                                  create_target_machine("llvm", jit=True))
        self._engine.finalize_object()

    def run(self, name: str, arrays: list[np.ndarray]) -> None:
        _check_arrays(self.funcs[name], arrays)
        addr = self._engine.get_function_address(name)
        kernel = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(arrays))(addr)
        kernel(*[a.ctypes.data for a in arrays])


def run_both(c_lib: CLibrary, llvm_lib: LLVMLibrary, name: str, inputs: list[np.ndarray],
             outputs: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Outputs of kernel ``name`` from C and from LLVM (each run on fresh output copies)."""
    from_c = [o.copy() for o in outputs]
    from_llvm = [o.copy() for o in outputs]
    c_lib.run(name, list(inputs) + from_c)
    llvm_lib.run(name, list(inputs) + from_llvm)
    return from_c, from_llvm


def assert_same_values(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal element for element, NaN matching NaN (payloads aside), signed zeros told apart."""
    assert got.dtype == want.dtype, what
    if got.dtype.kind == "f":
        nan_g, nan_w = np.isnan(got), np.isnan(want)
        bad = (nan_g != nan_w) | (~nan_g & (got.view(f"u{got.itemsize}") !=
                                            want.view(f"u{want.itemsize}")))
    else:
        bad = got != want
    if bad.any():
        k = np.flatnonzero(bad.reshape(-1))[:5]
        g, w = got.reshape(-1)[k].tolist(), want.reshape(-1)[k].tolist()
        raise AssertionError(f"{what}: {bad.sum()} of {bad.size} differ; first at "
                             f"{k.tolist()}: C {g} vs LLVM {w}")
