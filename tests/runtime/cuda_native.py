"""CUDA artifacts from hand-written kernels (sample_kernels.cu, standing in for the CUDA
code generator's output) for the runtime tests."""
from __future__ import annotations

import dataclasses
import types
from pathlib import Path

import numpy as np
import pytest

from tc.compiler.aot_plan import ExecutionPlan
from tc.runtime.toolchain import ToolchainError
from tc.targets.target import Target
from tests.runtime import native

HERE = Path(__file__).parent


def require_nvcc() -> None:
    """Skip the calling test when nvcc is not installed."""
    from tc.compiler.cuda_artifact import find_nvcc

    try:
        find_nvcc()
    except ToolchainError as exc:
        pytest.skip(str(exc))


def sample_source() -> types.SimpleNamespace:
    """sample_kernels.cu as a CudaSource-like object (no scratch)."""
    return types.SimpleNamespace(source=(HERE / "sample_kernels.cu").read_text(),
                                 scratch_bytes={}, launches={})


def build(path: Path, plan: ExecutionPlan, arch: str) -> None:
    """Write ``plan`` over sample_kernels.cu as a CUDA artifact for ``arch``."""
    from tc.compiler.cuda_artifact import write_cuda_artifact

    require_nvcc()
    write_cuda_artifact(path, sample_source(), plan, Target.parse(f"cuda -arch={arch}"))


def build_sample(path: Path, arch: str) -> tuple[ExecutionPlan, dict[str, np.ndarray]]:
    """native.sample_plan (every step kind) as a CUDA artifact at ``path``."""
    plan, consts = native.sample_plan(np.random.default_rng(0))
    plan = dataclasses.replace(plan, metadata={**plan.metadata,
                                               "target": f"cuda -arch={arch}"})
    build(path, plan, arch)
    return plan, consts
