"""Test helper: run a PrimFunc in-process with llvmlite's MCJIT.

The runtime's symbols are stubbed: ``tc_parallel_for`` runs the outlined body over a
few chunks on Python threads (so outlined closures are exercised concurrently),
``tc_alloc``/``tc_free`` are libc's malloc/free.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tc.compiler.loops.ir import PrimFunc
from tc.targets.llvm import LLVMArtifact, build_llvm, create_target_machine

_BODY = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
_CHUNKS = 3  # not a divisor of typical extents, so uneven [begin, end) ranges get tested
_POOL = ThreadPoolExecutor(_CHUNKS)


@ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p)
def _parallel_for(n, body, closure):
    fn = _BODY(body)
    bounds = np.linspace(0, n, min(n, _CHUNKS) + 1).astype(np.int64) if n > 0 else []
    ranges = list(zip(bounds[:-1], bounds[1:]))
    for f in [_POOL.submit(fn, int(lo), int(hi), closure) for lo, hi in ranges]:
        f.result()


@functools.lru_cache(maxsize=None)
def _register_runtime_stubs():
    import llvmlite.binding as llvm

    libc = ctypes.CDLL(None)
    llvm.add_symbol("tc_parallel_for", ctypes.cast(_parallel_for, ctypes.c_void_p).value)
    llvm.add_symbol("tc_alloc", ctypes.cast(libc.malloc, ctypes.c_void_p).value)
    llvm.add_symbol("tc_free", ctypes.cast(libc.free, ctypes.c_void_p).value)
    llvm.load_library_permanently(ctypes.util.find_library("m"))


def jit_run(func: PrimFunc, arrays: list[np.ndarray], target=None) -> LLVMArtifact:
    """Compile ``func`` for the host and call it on ``arrays`` (one per parameter, in
    order; outputs are written in place).  Returns the build artifact (for IR checks)."""
    kernel = JitKernel(func, target)
    kernel(arrays)
    return kernel.artifact


class JitKernel:
    """A PrimFunc compiled in-process: call it on arrays as often as needed (timing)."""

    def __init__(self, func: PrimFunc, target=None):
        import llvmlite.binding as llvm

        target = target or "llvm"
        self.func = func
        self.artifact = build_llvm([func], target)
        _register_runtime_stubs()
        self._engine = llvm.create_mcjit_compiler(llvm.parse_assembly(self.artifact.ir),
                                                  create_target_machine(target, jit=True))
        self._engine.finalize_object()
        addr = self._engine.get_function_address(func.name)
        self._fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * len(func.params))(addr)

    def __call__(self, arrays: list[np.ndarray]) -> None:
        func = self.func
        if len(arrays) != len(func.params):
            raise ValueError(f"{func.name} takes {len(func.params)} buffers, got {len(arrays)}")
        for a, buf in zip(arrays, func.params):
            if a.dtype != np.dtype(buf.dtype) or a.size != buf.size or not a.flags.c_contiguous:
                raise ValueError(f"array for {buf.name} must be C-contiguous {buf.dtype} with "
                                 f"{buf.size} elements, got {a.dtype} {a.shape}")
        self._fn(*[a.ctypes.data for a in arrays])

