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


def compile_with_source(model, target: str, monkeypatch, **options):
    """(``tc.compile(model, target=target, **options)``, the CudaSource its artifact was
    built from): the source an emulator of its kernels is made from."""
    import tc
    from tc.compiler import cuda_artifact

    sources = []
    write = cuda_artifact.write_cuda_artifact

    def capture(path, source, plan, target):
        sources.append(source)
        write(path, source, plan, target)

    monkeypatch.setattr(cuda_artifact, "write_cuda_artifact", capture)
    module = tc.compile(model, target=target, **options)
    return module, sources[0]


def use_fake_driver(monkeypatch, fake_driver: str, source, folder) -> None:
    """Runs of artifacts loaded from now on go to the fake driver and ``source``'s
    kernels in the emulator (built in ``folder``)."""
    from tests.targets.cuda_emulator import build_emulator

    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", build_emulator(source, str(folder), by_name=True))
