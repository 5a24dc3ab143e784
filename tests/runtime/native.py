"""Build the hand-written C used by the runtime tests (kernels standing in for generated
code, the thread-pool probes) and the sample plan that exercises every step kind."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tc.compiler.aot_plan import (CONSTANT, INPUT, OUTPUT, WORKSPACE, Copy, ExecutionPlan,
                                  KernelCall, TensorRef, TensorSpec, pack_constants)
from tc.runtime import toolchain

HERE = Path(__file__).parent
N = 1000  # elements of every sample kernel's tensors (sample_kernels.c's N)


def compile_object(source: Path, out: Path, defines: dict[str, int] | None = None) -> Path:
    """Compile one C file against tc_runtime.h into a position-independent object."""
    flags = [f"-D{k}={v}" for k, v in (defines or {}).items()]
    toolchain.run_compiler(["-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror", *flags,
                            "-I", str(toolchain.runtime_include_dir()), "-c", str(source),
                            "-o", str(out)], f"compiling {source.name}")
    return out


def build_probe_library(out_dir: Path) -> Path:
    """pool_probe.c linked with the cached runtime object into a plain shared library."""
    obj = compile_object(HERE / "pool_probe.c", out_dir / "pool_probe.o")
    lib = out_dir / "libpool_probe.so"
    toolchain.run_compiler(["-shared", "-fPIC", "-pthread", "-o", str(lib), str(obj),
                            str(toolchain.runtime_object()), "-lm"], "linking pool_probe")
    return lib


def sample_kernels(out_dir: Path, big_n: int = 1024) -> bytes:
    """The object code of sample_kernels.c (k_add, k_scale, k_relu, k_copy_big)."""
    obj = compile_object(HERE / "sample_kernels.c", out_dir / f"kernels_{big_n}.o",
                         {"N": N, "BIG_N": big_n})
    return obj.read_bytes()


def sample_plan(rng: np.random.Generator) -> tuple[ExecutionPlan, dict[str, np.ndarray]]:
    """A plan using every step kind: out0 = relu((x + y) * w + b), out1 = copy of x.

    Intermediates live at workspace offsets 0 and 4096; w and b come from the constants
    blob. Returns the plan and the constants by name."""
    consts = {"w": rng.standard_normal(N).astype(np.float32),
              "b": rng.standard_normal(N).astype(np.float32)}
    blob, offsets = pack_constants(consts)
    f32 = "float32"
    plan = ExecutionPlan(
        inputs=(TensorSpec("x", (4, 250), f32), TensorSpec("y", (4, 250), f32)),
        outputs=(TensorSpec("out", (4, 250), f32), TensorSpec("x_copy", (4, 250), f32)),
        steps=(
            KernelCall("k_add", (TensorRef(INPUT, 0), TensorRef(INPUT, 1),
                                 TensorRef(WORKSPACE, 0))),
            KernelCall("k_scale", (TensorRef(WORKSPACE, 0), TensorRef(CONSTANT, offsets["w"]),
                                   TensorRef(WORKSPACE, 4096))),
            KernelCall("k_add", (TensorRef(WORKSPACE, 4096), TensorRef(CONSTANT, offsets["b"]),
                                 TensorRef(WORKSPACE, 0))),
            KernelCall("k_relu", (TensorRef(WORKSPACE, 0), TensorRef(OUTPUT, 0))),
            Copy(TensorRef(INPUT, 0), TensorRef(OUTPUT, 1), N * 4),
        ),
        workspace_bytes=8192,
        constants=blob,
        metadata={"target": "llvm -mcpu=generic", "model": "sample"},
    )
    return plan, consts


def sample_reference(x: np.ndarray, y: np.ndarray, consts: dict[str, np.ndarray]):
    """numpy's answer for sample_plan."""
    w, b = consts["w"].reshape(x.shape), consts["b"].reshape(x.shape)
    return [np.maximum((x + y) * w + b, 0), x.copy()]
