"""Whole models' GPU kernels checked numerically without a GPU: the PrimFuncs that
``build(graph, Target.parse("cuda -arch=sm_80"), ...)`` compiles for the C target's small
models (a CNN, an MLP, a BERT-like encoder layer) run as CUDA source in the CPU emulator
(tests/targets/cuda_emulator.py: one std::thread per CUDA thread, real barriers and warp
shuffles) and through the C target (bound loops serially, barriers and all-reduces as
no-ops) on the same random inputs; the two must agree kernel by kernel.

Where the serial C run is right (tests/compiler/schedule/test_gpu_defaults.py checks the
same schedules against onnxruntime), a disagreement points at the CUDA generator's thread
semantics: a missing barrier, a wrong shuffle, a guard that skips or repeats work.
"""
import numpy as np
import pytest

from tc._compile import import_graph
from tc.autotune.tasks import kernel_groups
from tc.compiler.build import lower_group
from tc.compiler.loops.ir import PrimFunc
from tc.targets.target import Target

from . import test_c_models
from .c_harness import CLibrary
from .cuda_emulator import EmulatedCuda

CUDA = Target.parse("cuda -arch=sm_80")


def _model(name: str, monkeypatch):
    """The ONNX model that test ``name`` of test_c_models builds (its check replaced)."""
    models = []
    monkeypatch.setattr(test_c_models, "check_c_target",
                        lambda model, feeds, **tolerances: models.append(model))
    getattr(test_c_models, name)()
    [model] = models
    return model


def model_kernels(model) -> list[tuple[PrimFunc, int]]:
    """The model's kernels as ``build`` lowers them for CUDA (same groups, same default GPU
    schedules, same names), each with its number of inputs (the params before its
    outputs)."""
    graph, _ = import_graph(model)
    kernels = []
    for i, group in enumerate(kernel_groups(graph, CUDA)):
        func, _ = lower_group(group, graph, CUDA, f"tc_k{i}_{group.name}"[:60])
        kernels.append((func, len(group.inputs)))
    return kernels


def _random_inputs(func: PrimFunc, n_inputs: int, rng) -> list[np.ndarray]:
    """Non-zero values of either sign, |v| in [0.5, 1.5), for each input parameter."""
    return [(rng.uniform(0.5, 1.5, p.size) * rng.choice([-1, 1], p.size)).astype(p.dtype)
            for p in func.params[:n_inputs]]


def _outputs(func: PrimFunc, n_inputs: int) -> list[np.ndarray]:
    """NaN-filled output arrays, so that an element no thread writes shows."""
    return [np.full(p.size, np.nan, p.dtype) for p in func.params[n_inputs:]]


@pytest.mark.parametrize("name", ["test_small_cnn", "test_mlp",
                                  "test_bert_like_encoder_layer"])
def test_emulated_cuda_kernels_match_the_c_target(name, monkeypatch):
    """Every kernel of the model, emulated as CUDA and run as C on the same inputs."""
    # Random values are only meaningful for float inputs: an integer input would be an
    # index tensor (Gather's ids, ...) that random values would drive out of range, so
    # kernels reading one are left out (these models, after constant folding, have none).
    kernels = [(f, n) for f, n in model_kernels(_model(name, monkeypatch))
               if all(np.dtype(p.dtype).kind == "f" for p in f.params)]
    assert kernels
    funcs = [f for f, _ in kernels]
    emulated, c_lib = EmulatedCuda(funcs, str(CUDA)), CLibrary(funcs)
    rng = np.random.default_rng(7)
    for func, n_inputs in kernels:
        inputs = _random_inputs(func, n_inputs, rng)
        from_cuda, from_c = _outputs(func, n_inputs), _outputs(func, n_inputs)
        emulated.run(func.name, [*inputs, *from_cuda])
        c_lib.run(func.name, [*inputs, *from_c])
        for k, (got, want) in enumerate(zip(from_cuda, from_c)):
            what = f"{func.name} output {k}"
            assert np.isfinite(want).all(), f"{what}: the C run left elements unwritten"
            assert np.isfinite(got).all(), f"{what}: the emulated CUDA left elements unwritten"
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=what)
