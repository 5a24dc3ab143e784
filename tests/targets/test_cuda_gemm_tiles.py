"""The GEMM tiles the tuner may pick beyond the defaults (128-wide blocks, 8x8 register
tiles): the generated CUDA computes A @ B in the CPU emulator, partial tiles included,
and ptxas fits them in registers without spilling, for sm_80 and sm_90."""
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tc.compiler import te
from tc.compiler.schedule import Knobs, default_schedule, lower, schedule_space
from tc.targets.cuda import cuda_include_dir, emit_cuda, find_nvcc
from tc.targets.target import Target
from tests.targets.cuda_emulator import EmulatedCuda

CUDA = Target.parse("cuda -arch=sm_80")
BIG_TILES = [([128, 128], [8, 8]), ([128, 64], [8, 4]), ([64, 128], [4, 8]),
             ([128, 128], [4, 4])]


def _gemm(m: int, n: int, k: int, block, reg, k_step: int = 8, name: str = "gemm"):
    A = te.placeholder((m, k), "float32", "A")
    B = te.placeholder((k, n), "float32", "B")
    r = te.reduce_axis(k, "k")
    C = te.compute((m, n), lambda i, j: te.sum(A[i, r] * B[r, j], axis=r), "C", tag="matmul")
    config = {"s0.matmul.block": block, "s0.matmul.reg": reg, "s0.matmul.k_step": k_step}
    assert set(config) == set(schedule_space([C], CUDA))
    return lower(default_schedule([C], CUDA, Knobs(config)), [A, B, C], name)


@pytest.mark.parametrize("block,reg", BIG_TILES)
def test_big_tiles_compute_the_product_in_the_emulator(block, reg):
    m, n, k = 136, 200, 24  # no tile divides: partial blocks on both axes
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = np.full((m, n), np.nan, np.float32)
    EmulatedCuda([_gemm(m, n, k, block, reg)]).run("gemm", [a, b, c])
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_big_tiles_do_not_spill_registers(arch):
    source = emit_cuda([_gemm(1024, 1024, 1024, block, reg, k_step=16, name=f"gemm{i}")
                        for i, (block, reg) in enumerate(BIG_TILES)], f"cuda -arch={arch}").source
    with tempfile.TemporaryDirectory() as tmp:
        cu = Path(tmp) / "gemm.cu"
        cu.write_text(source)
        proc = subprocess.run([find_nvcc(), "-c", f"-arch={arch}", "--resource-usage", "-I",
                               cuda_include_dir(), str(cu), "-o", str(Path(tmp) / "gemm.o")],
                              capture_output=True, text=True, check=True)
    report = proc.stdout + proc.stderr
    registers = [int(x) for x in re.findall(r"Used (\d+) registers", report)]
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
    assert len(registers) == len(BIG_TILES) and max(registers) <= 255, report
    assert spills and all(s == ("0", "0") for s in spills), report


@pytest.mark.parametrize("block,reg", BIG_TILES[:2])
def test_a_conv_in_big_tiles_matches_onnxruntime(block, reg):
    """Convs share the GEMM tiles (rows: output channels, columns: pixels)."""
    from tc.autotune.tasks import extract_tasks
    from tests.targets.c_models import GraphBuilder, onnxruntime_outputs

    g = GraphBuilder(seed=7)
    x = g.input("x", g.rand(1, 24, 10, 10))
    w = g.input("w", g.rand(136, 24, 3, 3) / np.float32(15))
    bias = g.input("b", g.rand(136) / np.float32(10))
    g.output(g.op("Relu", [g.op("Conv", [x, w, bias], pads=[1, 1, 1, 1])]))
    model = g.model()
    task, = extract_tasks(model, "cuda -arch=sm_80")
    knob = {name.rsplit(".", 1)[1]: name for name in task.space()}  # s1.conv2d.block ...
    config = {knob["block"]: block, knob["reg"]: reg,  # the smallest step fits in 48 KB
              knob["k_step"]: min(task.space()[knob["k_step"]].choices)}
    func = task.lower(config)
    assert [tuple(b.shape) for b in func.params[:3]] == [(1, 24, 10, 10), (136, 24, 3, 3),
                                                         (136,)]
    out = np.full((1, 136, 10, 10), np.nan, np.float32)
    EmulatedCuda([func]).run(func.name, [g.feeds["x"], g.feeds["w"], g.feeds["b"], out])
    np.testing.assert_allclose(out, onnxruntime_outputs(model, g.feeds)[0], rtol=1e-4,
                               atol=1e-5)
