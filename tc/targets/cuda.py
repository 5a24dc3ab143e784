"""The CUDA code generator: PrimFuncs -> one CUDA C++ translation unit (a .cu file).

    src = emit_cuda(funcs, Target.parse("cuda -arch=sm_80"))
    src.source          # the .cu text: device helpers, __global__ kernels, host launchers
    src.launches        # PrimFunc name -> [Launch(kernel, grid, block, shared_bytes), ...]
    src.scratch_bytes   # PrimFunc name -> bytes of device scratch its launcher takes
    check_cuda_source(src.source, "sm_80")   # nvcc, warnings as errors (tests)

A PrimFunc's body is ``Allocate*(Seq(stmt0, stmt1, ...))``: each root statement becomes
one ``__global__`` kernel (``cuda_kernel.KernelEmitter``; launched with, per axis, the
largest extent of the loops bound to it, ``<<<1, 1>>>`` when none is), and the PrimFunc
a host launcher with the CPU kernels' prototype::

    extern "C" void NAME(void *p0, ..., void *pN[, void *scratch])   /* device pointers */

which launches its kernels in order on ``tc_cuda_stream()`` and checks each launch with
``TC_CUDA_CHECK_LAUNCH("NAME:kernel")`` (tc/runtime/c/cuda/tc_cuda.h).  The root-level
temporaries, which the kernels pass to each other, live in device scratch memory the AOT
plan reserves (``scratch_bytes``, the launcher's last argument), each at a 64-byte
aligned offset, as the C target's workspace temporaries.

Expressions and helpers are the C target's (``c_expr``, ``c_helpers``: LLVM's semantics),
the helpers made ``static __device__ __forceinline__``; index arithmetic is int32 where it
provably fits (``cuda_index``), vectorized loops make float4 accesses where alignment
allows (``cuda_vector``), ThreadAllReduce is warp shuffles (``cuda_reduce``), and
``cuda_kernel`` checks that every thread of a block reaches each barrier.  Kernels are
``extern "C"`` (unmangled names, for profilers and a driver-API loader); the includes and
the host launchers are skipped under NVRTC (``__CUDACC_RTC__``), which then needs
<stdint.h>'s types and <math.h>'s INFINITY and NAN from elsewhere.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from .. import __version__
from ..compiler.loops import ir as L
from .c import _RESERVED, _check_name, _comment, _scratch_size, _unique_nodes
from .c_helpers import Helpers
from .cuda_index import narrow_indices
from .cuda_kernel import CUDA_RESERVED, KernelEmitter, launch_dims
from .errors import CodegenError, check_unique_names, compiling
from .target import Target

__all__ = ["CudaSource", "Launch", "check_cuda_source", "emit_cuda", "find_nvcc",
           "NVCC_CHECK_FLAGS"]

#: how check_cuda_source compiles: any warning, in device or host code, is an error
NVCC_CHECK_FLAGS = ("-Werror", "all-warnings", "-Xcompiler", "-Wall,-Werror")


@dataclass(frozen=True)
class Launch:
    """One kernel launch of a launcher: grid and block dimensions (x, y, z) and the
    kernel's static shared memory in bytes."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int

    @property
    def threads(self) -> int:
        """Threads per block."""
        return self.block[0] * self.block[1] * self.block[2]


@dataclass(frozen=True)
class CudaSource:
    """The result of :func:`emit_cuda`: ``scratch_bytes`` maps each PrimFunc whose
    launcher takes a scratch pointer (after its buffers) to the device bytes it needs
    there; ``launches`` maps every PrimFunc to its kernels' launches, in order."""

    source: str
    func_names: tuple[str, ...]
    scratch_bytes: dict[str, int]
    launches: dict[str, list[Launch]]
    #: the launchers again as plain C for the driver API (NVRTC builds, see
    #: :func:`driver_launchers`): each calls ``tc_cuda_launch`` with the kernel's number in
    #: the order of ``launches`` (the functions' in turn)
    c_launchers: str = ""


def emit_cuda(funcs: list[L.PrimFunc], target: Target | str = "cuda") -> CudaSource:
    """One .cu translation unit defining every function of ``funcs`` as a host launcher
    of its kernels.  Raises CodegenError naming the function (and the kernel) when one
    cannot be emitted or launched as scheduled."""
    funcs = list(funcs)
    target = Target.parse(target)
    if target.kind != "cuda":
        raise ValueError(f"the CUDA backend compiles for 'cuda' targets, not {str(target)!r}")
    if not funcs:
        raise ValueError("emit_cuda needs at least one PrimFunc")
    check_unique_names(funcs)
    helpers = Helpers("static __device__ __forceinline__")
    taken = {f.name for f in funcs}
    kernels, launchers, c_launchers, scratch, launches = [], [], [], {}, {}
    for func in funcs:
        with compiling(func, "emit_cuda"):
            fn = _FunctionEmitter(func, helpers, taken)
            kernels.extend(fn.kernels())
        launchers.append(fn.launcher())
        c_launchers.append(fn.c_launcher(sum(len(v) for v in launches.values())))
        launches[func.name] = fn.launches
        if fn.scratch_bytes:
            scratch[func.name] = fn.scratch_bytes
    includes = "\n".join(["#ifndef __CUDACC_RTC__", "#include <math.h>", "#include <stdint.h>",
                          '#include "tc_cuda.h"', "#endif"])
    parts = [_file_header(target, funcs, sum(len(v) for v in launches.values())), includes]
    if helpers.source():
        parts.append(helpers.source())
    parts.extend(kernels)
    parts.append("#ifndef __CUDACC_RTC__\n" + "\n\n".join(launchers) + "\n#endif")
    return CudaSource(source="\n\n".join(parts) + "\n", func_names=tuple(f.name for f in funcs),
                      scratch_bytes=scratch, launches=launches,
                      c_launchers="\n\n".join(c_launchers) + "\n")


def _file_header(target: Target, funcs, n_kernels: int) -> str:
    return "\n".join([
        f"/* Generated by tc {__version__} for target \"{_comment(str(target))}\": "
        f"{len(funcs)} function{'s' if len(funcs) != 1 else ''}, {n_kernels} kernel"
        f"{'s' if n_kernels != 1 else ''}.",
        " * Each function is a host launcher taking device pointers; it launches its kernels",
        " * in order on tc_cuda_stream().",
        " */"])


class _FunctionEmitter:
    """One PrimFunc: its kernels (one per root statement) and its host launcher."""

    def __init__(self, func: L.PrimFunc, helpers: Helpers, taken: set[str]):
        _check_name(func)
        if func.name in CUDA_RESERVED:
            raise CodegenError(f"function name {func.name!r} is a C++ keyword or CUDA built-in; "
                               f"rename the kernel")
        self.func, self.helpers, self.taken = func, helpers, taken
        self.launches: list[Launch] = []
        self.calls: list[str] = []
        self.c_args: list[list[str]] = []   # per kernel, its arguments as void * in C
        self.used_params: set[int] = set()
        self.scratch_bytes = 0

    def kernels(self) -> list[str]:
        """The ``__global__`` definitions, recording their launches."""
        out = []
        statements = []
        self._roots(self.func.body, 0, {}, statements)
        for k, (stmt, temps, top) in enumerate(statements):
            name = self._kernel_name(k)
            stmt = narrow_indices(stmt)
            used = {n.buffer for n in _unique_nodes(stmt) if isinstance(n, (L.Load, L.Store))}
            params = [b for b in self.func.params if b in used] + [b for b in temps if b in used]
            dims = launch_dims(stmt, name)
            kernel = L.PrimFunc(name, tuple(params), stmt)
            em = KernelEmitter(kernel, self.helpers, dims,
                               f"{name}: statement {k} of {_comment(self.func.name)}")
            out.append(em.emit())
            args = [self._arg(b, t, temps) for b, t in zip(params, em.arg_types)]
            c_args = [self._arg(b, None, temps) for b in params]
            if em.scratch_bytes:
                args.append(f"{self._scratch()} + {top}")
                c_args.append(args[-1])
                self.scratch_bytes = max(self.scratch_bytes, top + em.scratch_bytes)
            self.c_args.append(c_args)
            launch = Launch(name, em.grid_dims, em.block_dims, em.shared_bytes)
            self.launches.append(launch)
            self.calls.append(
                f"    {name}<<<dim3({', '.join(map(str, launch.grid))}), "
                f"dim3({', '.join(map(str, launch.block))}), 0, tc_cuda_stream()>>>"
                f"({', '.join(args)});\n"
                f'    TC_CUDA_CHECK_LAUNCH("{_comment(self.func.name)}:{name}");')
        if statements:
            self.scratch_bytes = max(self.scratch_bytes, max(top for _, _, top in statements))
        return out

    def _roots(self, s: L.Stmt, top: int, temps: dict, out: list) -> None:
        """Collect (statement, live root temporaries -> scratch offset, scratch bytes they
        take) for each root statement: the items of the Seq under the root Allocates.
        A Seq holding a barrier or an all-reduce among its items is one statement (its
        temporaries are the threads' own, not scratch)."""
        body, allocs = s, []
        while isinstance(body, L.Allocate) and body.buffer.scope != L.SHARED:
            allocs.append(body.buffer)
            body = body.body
        items = list(body.stmts) if isinstance(body, L.Seq) else [body]
        if any(isinstance(x, (L.Barrier, L.ThreadAllReduce)) for x in items):
            allocs, items = [], [s]
        for buf in allocs:
            if buf in temps:
                raise CodegenError(f"buffer {buf.name!r} is allocated twice")
            temps = {**temps, buf: top}
            top += _scratch_size(buf.nbytes)
        out.extend((x, temps, top) for x in items)

    def _kernel_name(self, k: int) -> str:
        name = f"{self.func.name}_k{k}"
        while name in self.taken or name in _RESERVED:
            name += "_"
        self.taken.add(name)
        return name

    def _scratch(self) -> str:
        self.used_params.add(len(self.func.params))
        return f"(unsigned char *)p{len(self.func.params)}"

    def _arg(self, buf: L.Buffer, ctype: str | None, temps: dict) -> str:
        """The launch argument for ``buf``, cast to ``ctype`` (None: left untyped)."""
        if buf in temps:
            at = f"{self._scratch()} + {temps[buf]}"
            return at if ctype is None else f"({ctype})({at})"
        k = self.func.params.index(buf)
        self.used_params.add(k)
        return f"p{k}" if ctype is None else f"({ctype})p{k}"

    def launcher(self) -> str:
        """The host function launching the kernels (after ``kernels()``)."""
        return "\n".join([*self._launcher_head('extern "C" '), *self.calls, "}"])

    def c_launcher(self, first: int) -> str:
        """The launcher as plain C over the driver API (after ``kernels()``): its kernels
        are numbers ``first``, ``first + 1``, ... of the module's image."""
        calls = []
        for k, (launch, args) in enumerate(zip(self.launches, self.c_args)):
            dims = ", ".join(f"{d}u" for d in (*launch.grid, *launch.block))
            what = f'"{_comment(self.func.name)}:{launch.kernel}"'
            if not args:
                calls.append(f"    tc_cuda_launch({first + k}, {what}, {dims}, NULL);")
                continue
            refs = ", ".join(f"&a{k}[{i}]" for i in range(len(args)))
            calls += [f"    {{ /* {launch.kernel} */",
                      f"        void *a{k}[] = {{{', '.join(args)}}};",
                      f"        void *k{k}[] = {{{refs}}};",
                      f"        tc_cuda_launch({first + k}, {what}, {dims}, k{k});",
                      "    }"]
        return "\n".join([*self._launcher_head(""), *calls, "}"])

    def _launcher_head(self, linkage: str) -> list[str]:
        """A launcher's comment, prototype, opening brace and unused-parameter casts."""
        func = self.func
        count = len(func.params) + (1 if self.scratch_bytes else 0)
        proto = ", ".join(f"void *p{k}" for k in range(count)) or "void"
        unused = [f"    (void)p{k};" for k in range(count) if k not in self.used_params]
        shapes = ", ".join(f"p{k} {_comment(b.name)}: {b.dtype}{list(b.shape)}"
                           for k, b in enumerate(func.params))
        return [f"/* {_comment(func.name)}: {shapes or 'no buffers'}"
                + (f"; p{len(func.params)}: {self.scratch_bytes} bytes of device scratch"
                   if self.scratch_bytes else "") + " */",
                f"{linkage}void {func.name}({proto})", "{", *unused]


def find_nvcc() -> str | None:
    """The path of nvcc (as the CUDA artifact builder finds it), or None when the CUDA
    toolkit is not installed."""
    from ..compiler.cuda_artifact import find_nvcc as locate
    from ..runtime.toolchain import ToolchainError

    try:
        return locate()
    except ToolchainError:
        return None


def cuda_include_dir() -> str:
    """The folder holding tc_cuda.h."""
    from ..runtime.toolchain import RUNTIME_SOURCE_DIR

    return str(RUNTIME_SOURCE_DIR / "cuda")


def check_cuda_source(source: str, arch) -> None:
    """Compile ``source`` with nvcc for ``arch`` ("sm_80", or a list of archs: one nvcc
    call, one ptxas pass each) into an object, with every warning an error
    (NVCC_CHECK_FLAGS).  Raises ToolchainError with nvcc's output (and the source kept in
    a file) when it fails or when nvcc is missing."""
    from ..compiler.cuda_artifact import parse_arch, run_nvcc
    from ..runtime.toolchain import ToolchainError

    archs = [arch] if isinstance(arch, str) else list(arch)
    for a in archs:
        parse_arch(a)
    arch_flags = [f"-arch={archs[0]}"] if len(archs) == 1 else [
        f"-gencode=arch=compute_{a[3:]},code={a}" for a in archs]
    arch = ",".join(archs)
    if find_nvcc() is None:
        raise ToolchainError("checking CUDA source needs nvcc, the CUDA toolkit's compiler, "
                             "which is not installed")
    with tempfile.TemporaryDirectory(prefix="tc-cuda-") as tmp:
        cu, obj = os.path.join(tmp, "kernels.cu"), os.path.join(tmp, "kernels.o")
        with open(cu, "w") as f:
            f.write(source)
        try:
            run_nvcc([*arch_flags, *NVCC_CHECK_FLAGS, "-I", cuda_include_dir(),
                      "-c", cu, "-o", obj], f"compiling the generated CUDA for {arch}")
        except ToolchainError as e:
            with tempfile.NamedTemporaryFile("w", prefix="tc-kernels-", suffix=".cu",
                                             delete=False) as keep:
                keep.write(source)
            raise ToolchainError(f"{e}\n(the generated CUDA is kept in {keep.name})") from None
