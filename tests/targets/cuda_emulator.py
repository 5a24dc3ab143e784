"""Test helper: run the CUDA generator's .cu source on the CPU, one std::thread per CUDA
thread, so its thread semantics are tested on machines without a GPU.

``EmulatedCuda(funcs)`` emits the CUDA source, swaps ``tc_cuda.h`` for EMULATOR_HEADER
(``__shared__`` is ``static``: the blocks of a launch run one at a time;
``__syncthreads`` is a std::barrier over the block; ``__shfl_*_sync`` exchange values
through per-warp barriers and abort when the mask does not name exactly the warp's
threads, or return a poison value read from a lane outside the mask), rewrites each
``kernel<<<grid, block, shmem, stream>>>(args)`` into a call of ``tc_emu_launch``, builds
the result as C++20 with g++ and calls the launchers through ctypes on host arrays (the
kernels' "device pointers").
"""
from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile

import numpy as np

from tc.compiler.loops.ir import PrimFunc
from tc.runtime.toolchain import ToolchainError, run_tool
from tc.targets.cuda import emit_cuda

from .c_harness import _check_arrays

EMULATOR_HEADER = r"""
#ifndef TC_CUDA_EMULATOR_H
#define TC_CUDA_EMULATOR_H
#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <math.h>
#include <memory>
#include <stdint.h>
#include <thread>
#include <vector>

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(n)
#define __align__(n) __attribute__((aligned(n)))

struct tc_emu_block {
    std::unique_ptr<std::barrier<>> all;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    unsigned char slots[1024][8];
};
inline tc_emu_block *tc_emu_current;

inline void __syncthreads() { tc_emu_current->all->arrive_and_wait(); }

inline unsigned tc_emu_tid() {
    return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}

/* every thread of the warp named in `mask` passes `v`; each gets lane `src`'s */
template <typename T> T tc_emu_exchange(unsigned mask, T v, int src) {
    static_assert(sizeof(T) <= 8, "shuffled values are at most 8 bytes");
    unsigned tid = tc_emu_tid(), warp = tid / 32;
    unsigned n = blockDim.x * blockDim.y * blockDim.z;
    unsigned lanes = n - warp * 32 < 32 ? n - warp * 32 : 32;
    unsigned expect = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
    if (mask != expect) {
        fprintf(stderr, "shuffle mask 0x%x in warp %u of %u threads (expected 0x%x)\n",
                mask, warp, lanes, expect);
        abort();
    }
    std::memcpy(tc_emu_current->slots[tid], &v, sizeof(T));
    tc_emu_current->warps[warp]->arrive_and_wait();
    T out = v;
    if (src >= 0 && src < 32) {
        if ((mask >> src) & 1u)
            std::memcpy(&out, tc_emu_current->slots[warp * 32 + src], sizeof(T));
        else
            std::memset(&out, 0x7f, sizeof(T)); /* undefined on a GPU: poison */
    }
    tc_emu_current->warps[warp]->arrive_and_wait();
    return out;
}
template <typename T> T __shfl_down_sync(unsigned mask, T v, unsigned off) {
    unsigned lane = tc_emu_tid() % 32;
    return tc_emu_exchange(mask, v, lane + off < 32 ? (int)(lane + off) : -1);
}
template <typename T> T __shfl_xor_sync(unsigned mask, T v, int m) {
    return tc_emu_exchange(mask, v, (int)(tc_emu_tid() % 32) ^ m);
}
template <typename T> T __shfl_sync(unsigned mask, T v, int src) {
    return tc_emu_exchange(mask, v, src);
}

template <typename F> void tc_emu_launch(dim3 grid, dim3 block, int, int, F body) {
    gridDim = grid;
    blockDim = block;
    unsigned n = block.x * block.y * block.z;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                tc_emu_block b;
                b.all = std::make_unique<std::barrier<>>(n);
                for (unsigned w = 0; w * 32 < n; ++w)
                    b.warps.push_back(std::make_unique<std::barrier<>>(
                        n - w * 32 < 32 ? n - w * 32 : 32));
                tc_emu_current = &b;
                std::vector<std::thread> threads;
                for (unsigned t = 0; t < n; ++t)
                    threads.emplace_back([&, t] {
                        threadIdx = dim3(t % block.x, t / block.x % block.y,
                                         t / (block.x * block.y));
                        blockIdx = dim3(bx, by, bz);
                        body();
                    });
                for (auto &th : threads)
                    th.join();
            }
}

inline int tc_cuda_stream(void) { return 0; }
#define TC_CUDA_CHECK_LAUNCH(what) ((void)(what))
#endif
"""

_LAUNCH = re.compile(r"^(\s*)(\w+)<<<(.*)>>>\((.*)\);$", re.M)


def emulator_source(cuda_source: str) -> str:
    """``cuda_source`` with its launches rewritten for the emulator."""
    return _LAUNCH.sub(r"\1tc_emu_launch(\3, [&] { \2(\4); });", cuda_source)


LAUNCH_BY_NAME = r"""
#include <tuple>
/* the kernel `k` over `grid` x `block`, its arguments read from `args` (cuLaunchKernel's
   kernelParams: a pointer to each argument) */
template <typename... A> void tc_emu_call(void (*k)(A...), dim3 grid, dim3 block, void **args) {
    size_t i = 0;
    std::tuple<A...> values{*static_cast<A *>(args[i++])...};
    tc_emu_launch(grid, block, 0, 0, [&] { std::apply(k, values); });
}
"""


def launch_by_name_source(kernels: list[str]) -> str:
    """C++ defining ``extern "C" int tc_emu_launch_by_name(name, gx, gy, gz, bx, by, bz,
    args)`` over ``kernels`` (0 when it ran the kernel, 1 when it knows no such kernel)."""
    cases = "".join(f'    if (std::strcmp(name, "{k}") == 0) {{\n'
                    f"        tc_emu_call({k}, dim3(gx, gy, gz), dim3(bx, by, bz), args);\n"
                    f"        return 0;\n    }}\n" for k in kernels)
    return (LAUNCH_BY_NAME + 'extern "C" int tc_emu_launch_by_name(const char *name, unsigned gx, '
            "unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, void **args) {\n"
            + cases + "    return 1;\n}\n")


def build_emulator(cuda_source, folder: str, by_name: bool = False) -> str:
    """``cuda_source`` (a CudaSource) built for the CPU emulator as ``folder``/kernels.so;
    with ``by_name`` it also exports ``tc_emu_launch_by_name`` (for a fake CUDA driver)."""
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        raise ToolchainError("the CUDA emulator needs a C++20 compiler (g++ or clang++)")
    with open(os.path.join(folder, "tc_cuda.h"), "w") as f:
        f.write(EMULATOR_HEADER)
    text = emulator_source(cuda_source.source)
    if by_name:
        text += launch_by_name_source([launch.kernel for func in cuda_source.func_names
                                       for launch in cuda_source.launches[func]])
    with open(os.path.join(folder, "kernels.cpp"), "w") as f:
        f.write(text)
    so = os.path.join(folder, "kernels.so")
    run_tool([cxx, "-std=c++20", "-O1", "-fPIC", "-shared", "-pthread",
              "-Wno-unknown-pragmas", "-I", folder, os.path.join(folder, "kernels.cpp"), "-o", so],
             "building the emulated CUDA")
    return so


class EmulatedCuda:
    """``funcs`` through ``emit_cuda``, built for the CPU emulator; ``source`` is the
    ``CudaSource``."""

    def __init__(self, funcs: list[PrimFunc], target: str = "cuda -arch=sm_80"):
        self.funcs = {f.name: f for f in funcs}
        self.source = emit_cuda(funcs, target)
        self._dir = tempfile.TemporaryDirectory(prefix="tc-cuda-emu-")
        self._lib = ctypes.CDLL(build_emulator(self.source, self._dir.name))

    def run(self, name: str, arrays: list[np.ndarray]) -> None:
        """Call launcher ``name`` on ``arrays`` (outputs written in place), with the
        scratch it asks for filled with garbage."""
        _check_arrays(self.funcs[name], arrays)
        scratch = self.source.scratch_bytes.get(name)
        if scratch:
            raw = np.full(scratch + 64, 0x5A, np.uint8)
            arrays = [*arrays, raw[(-raw.ctypes.data) % 64:]]
        fn = getattr(self._lib, name)
        fn.restype = None
        fn.argtypes = [ctypes.c_void_p] * len(arrays)
        fn(*[a.ctypes.data for a in arrays])
