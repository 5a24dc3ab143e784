"""The CUDA of row groups (softmax, log-softmax, layer norm: one block per row, see
tests/compiler/schedule/test_gpu_row_kernels.py): one ``__global__`` kernel with warp
shuffles and no device scratch between the statistics; run in the CPU emulator (real
threads, barriers and shuffles) against numpy, rows shorter than the block and rows no
multiple of it included; nvcc with warnings as errors for sm_80 and sm_90."""
import numpy as np
import pytest

from tc.compiler.schedule import default_schedule, lower
from tc.targets.cuda import check_cuda_source, emit_cuda, find_nvcc
from tc.targets.target import Target

from ..compiler.schedule.sched_programs import random_inputs
from ..compiler.schedule.test_gpu_row_kernels import row_program
from .cuda_emulator import EmulatedCuda

CUDA = Target.parse("cuda -arch=sm_80")
# the shapes the issue names (softmax rows of 128 and 1000, layer norm rows of 768), a
# row shorter than the 32 threads, a log-softmax, and the attention scores' prologue
CASES = ["softmax_3x128", "softmax_2x1000", "layer_norm_2x768_1", "softmax_4x20",
         "log_softmax_2x3x100", "attention_scores"]


def _func(case: str):
    inputs, out, ref, rows, width = row_program(case)
    func = lower(default_schedule([out], CUDA), inputs + [out], case)
    return func, inputs, out, ref, rows


@pytest.fixture(scope="module")
def programs():
    return {case: _func(case) for case in CASES}


@pytest.fixture(scope="module")
def source(programs):
    return emit_cuda([p[0] for p in programs.values()], CUDA)


def _kernel(source, name: str) -> str:
    return source.source.split(f" {name}(")[1].split("\n}\n")[0]


@pytest.mark.parametrize("case", ["softmax_3x128", "softmax_2x1000", "layer_norm_2x768_1"])
def test_one_kernel_per_row_group(case, programs, source):
    func, _, _, _, rows = programs[case]
    [launch] = source.launches[case]
    assert launch.grid == (rows, 1, 1)
    assert case not in source.scratch_bytes  # the statistics stay in each thread
    text = _kernel(source, launch.kernel)
    assert "__global__" not in text and "blockIdx.x" in text
    assert text.count("__shfl_down_sync(") >= 2 * 5  # two all-reduces, 5 steps a warp
    assert "scratch" not in text


def test_emulated_row_kernels_match_numpy(programs):
    lib = EmulatedCuda([p[0] for p in programs.values()], str(CUDA))
    for case, (func, inputs, out, ref, _) in programs.items():
        data = random_inputs(inputs, seed=8)
        got = np.full(out.shape, np.nan, out.dtype)
        lib.run(case, [*data, got])
        np.testing.assert_allclose(got, ref(*data), rtol=1e-4, atol=1e-5, err_msg=case)


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_nvcc_compiles_row_kernels(programs):
    check_cuda_source(emit_cuda([p[0] for p in programs.values()], "cuda -arch=sm_90").source,
                      ["sm_80", "sm_90"])
