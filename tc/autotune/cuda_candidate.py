"""A tuning candidate for a CUDA target, built as a one-kernel CUDA artifact.

    seconds = build_cuda_candidate(func, "cuda -arch=sm_80", "candidate3.so")

The candidate (a PrimFunc scheduled for the GPU: bound axes, shared-memory tiles) becomes
a model of one step, its params' inputs in and outputs out, written by the same artifact
writer as a whole model (``cuda_artifact.write_cuda_artifact``: nvcc, else NVRTC), so it
is measured through the same runtime a deployed model runs on. The measurement child
(``measure_worker``) runs it once through ``tc_model_run`` (host arrays: the outputs are
checked) and then times ``tc_cuda_rerun`` (the kernels again on the device copies, no
host copies in the timed runs).

Each kernel is named after a digest of its loop IR (``kernel_name``): candidates that
are the same code share a name and different ones never do, so that profiler traces,
nvcc's messages and a fake driver's kernel lookup (tests) tell them apart.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace

from tc.compiler.aot_plan import INPUT, OUTPUT, WORKSPACE, ExecutionPlan, KernelCall, TensorRef
from tc.compiler.aot_plan import TensorSpec
from tc.compiler.loops import ir as L
from tc.compiler.loops.printer import func_str
from tc.targets.target import Target

#: a candidate's kernel is called ``NAME_PREFIX + digest``
NAME_PREFIX = "tc_tune_"


def kernel_name(func: L.PrimFunc) -> str:
    """``func``'s name as a candidate: NAME_PREFIX and a digest of its loop IR (whatever
    it was called)."""
    text = func_str(replace(func, name="f"))
    return NAME_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]


def candidate_source(func: L.PrimFunc, target):
    """The ``CudaSource`` of ``func`` renamed by ``kernel_name`` (its one host launcher)."""
    from tc.targets.cuda import emit_cuda

    return emit_cuda([replace(func, name=kernel_name(func))], Target.parse(str(target)))


def candidate_plan(func: L.PrimFunc, name: str, written: set[int],
                   scratch_bytes: int) -> ExecutionPlan:
    """The plan of a model that calls launcher ``name`` once: ``func``'s params that
    are not ``written`` (buffer ids) are its inputs, the others its outputs, in order;
    ``scratch_bytes`` of workspace follow them when the launcher takes scratch."""
    inputs, outputs, args = [], [], []
    for buf in func.params:
        spec = TensorSpec(buf.name, tuple(int(d) for d in buf.shape), buf.dtype)
        if id(buf) in written:
            args.append(TensorRef(OUTPUT, len(outputs)))
            outputs.append(spec)
        else:
            args.append(TensorRef(INPUT, len(inputs)))
            inputs.append(spec)
    if scratch_bytes:
        args.append(TensorRef(WORKSPACE, 0))
    return ExecutionPlan(inputs=tuple(inputs), outputs=tuple(outputs),
                         steps=(KernelCall(name, tuple(args), label=func.name),),
                         workspace_bytes=scratch_bytes,
                         metadata={"tuning_candidate": func.name})


def build_cuda_candidate(func: L.PrimFunc, target, path: str) -> float:
    """Build ``func`` for the CUDA ``target`` as a one-kernel artifact at ``path`` (see
    the module docstring); returns the seconds it took. Raises what the code generator
    or the CUDA compiler raises (CodegenError, ToolchainError)."""
    from tc.autotune.measure import stored_buffers
    from tc.compiler.cuda_artifact import write_cuda_artifact

    t0 = time.perf_counter()
    target = Target.parse(str(target))
    source = candidate_source(func, target)
    name = source.func_names[0]
    plan = candidate_plan(func, name, stored_buffers(func.body),
                          source.scratch_bytes.get(name, 0))
    write_cuda_artifact(path, source, plan, target)
    return time.perf_counter() - t0
