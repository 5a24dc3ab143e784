"""The fake CUDA driver of fake_libcuda.c (host memory, kernels run by the CPU CUDA
emulator), for running NVRTC-built artifacts without a GPU."""
from __future__ import annotations

from pathlib import Path

from tc.runtime import toolchain


def build_fake_driver(folder: Path) -> str:
    """fake_libcuda.c built as ``folder``/libcuda.so.1; returns its path (what
    $TC_CUDA_DRIVER_LIBRARY takes)."""
    toolchain.run_compiler(["-std=c99", "-O1", "-fPIC", "-shared", "-Wall", "-Werror",
                            str(Path(__file__).parent / "fake_libcuda.c"),
                            "-o", str(folder / "libcuda.so.1"), "-ldl"], "building the fake driver")
    return str(folder / "libcuda.so.1")
