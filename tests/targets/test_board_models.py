"""Models built for boards run on emulated boards and match onnxruntime: a small CNN and
an MLP as C99 (``--target c``) on aarch64 Linux (qemu-aarch64) and on a Cortex-M4F
MPS2-AN386 (qemu-system-arm), and as an LLVM object for aarch64 Linux.  The board
program compares every output in C and exits 0 (match), 1 (mismatch) or 2 (error).
Skipped, saying which tool is missing, where the cross tools are not installed."""
import shutil
import subprocess

import numpy as np
import pytest

from tc._compile import build_for_board

from .board_harness import run_aarch64_linux, run_cortex_m4, write_main
from .c_models import GraphBuilder, onnxruntime_outputs

RTOL, ATOL = 1e-4, 1e-5


def small_cnn():
    """conv + BN + ReLU, max pool, conv + ReLU, average pool, dense, softmax (about 20 KB
    of weights)."""
    g = GraphBuilder(seed=1)
    x = g.input("image", g.rand(1, 3, 16, 16))
    y = g.op("Conv", [x, g.weight((8, 3, 3, 3))], pads=[1, 1, 1, 1])
    y = g.op("BatchNormalization", [y, g.const(g.rand(8)), g.const(g.rand(8)),
                                    g.const(g.rand(8) * 0.1), g.const(np.abs(g.rand(8)))])
    y = g.op("MaxPool", [g.op("Relu", [y])], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op("Relu", [g.op("Conv", [y, g.weight((16, 8, 3, 3)), g.const(g.rand(16))],
                           pads=[1, 1, 1, 1])])
    y = g.op("AveragePool", [y], kernel_shape=[2, 2], strides=[2, 2])
    y = g.op("Flatten", [y])
    y = g.op("Gemm", [y, g.weight((10, 256)), g.const(g.rand(10))], transB=1)
    g.output(g.op("Softmax", [y], axis=1))
    return g.model(), g.feeds


def mlp():
    g = GraphBuilder(seed=2)
    x = g.input("x", g.rand(2, 64))
    h = g.op("Relu", [g.op("Gemm", [x, g.weight((64, 96)), g.const(g.rand(96))])])
    h = g.op("Tanh", [g.op("Gemm", [h, g.weight((96, 32)), g.const(g.rand(32))])])
    g.output(g.op("Gemm", [h, g.weight((32, 5)), g.const(g.rand(5))]))
    return g.model(), g.feeds


MODELS = {"small_cnn": small_cnn, "mlp": mlp}


def _board_folder(tmp_path, name: str, target: str):
    """The folder built for ``target``, its main.c checking the onnxruntime outputs."""
    model, feeds = MODELS[name]()
    folder = tmp_path / name
    build_for_board(model, target, folder, footprint=False)
    inputs = [feeds[i.name] for i in model.graph.input]
    main_c = write_main(folder, inputs, onnxruntime_outputs(model, feeds), RTOL, ATOL)
    return folder, main_c


@pytest.mark.parametrize("name", MODELS)
def test_c_target_on_aarch64_linux(tmp_path, name):
    folder, main_c = _board_folder(tmp_path, name, "c")
    status, output = run_aarch64_linux(folder, main_c)
    assert status == 0, output


@pytest.mark.parametrize("name", MODELS)
def test_c_target_on_cortex_m4(tmp_path, name):
    folder, main_c = _board_folder(tmp_path, name, "c")
    status, output = run_cortex_m4(folder, main_c)
    assert status == 0, output


@pytest.mark.parametrize("name", MODELS)
def test_llvm_object_for_aarch64_linux(tmp_path, name):
    folder, main_c = _board_folder(tmp_path, name, "llvm -mtriple=aarch64-linux-gnu")
    assert (folder / "kernels.o").exists()
    status, output = run_aarch64_linux(folder, main_c, libs=("-lpthread",))
    assert status == 0, output


def test_a_wrong_expected_output_fails_on_the_board(tmp_path):
    """The check can fail: the board program reports a mismatch with exit status 1."""
    model, feeds = mlp()
    folder = tmp_path / "mlp"
    build_for_board(model, "c", folder, footprint=False)
    want = onnxruntime_outputs(model, feeds)
    want[0] = want[0].copy()
    want[0][1, 3] += 0.01
    main_c = write_main(folder, [feeds["x"]], want, RTOL, ATOL)
    status, output = run_cortex_m4(folder, main_c)
    assert status == 1, output


def test_the_c_library_is_strict_c99_and_calls_no_malloc(tmp_path):
    """Every file of the folder compiles with gcc -std=c99 -Wall -Wextra -Werror
    -pedantic, and no object of the library refers to malloc, free or stdio."""
    if shutil.which("gcc") is None or shutil.which("nm") is None:
        pytest.skip("gcc and nm (binutils) are needed")
    model, _ = small_cnn()
    folder = tmp_path / "cnn"
    build_for_board(model, "c", folder, footprint=False)
    sources = sorted(folder.glob("*.c"))
    assert {p.name for p in sources} == {"model.c", "tc_board_runtime.c"}
    for src in sources:
        obj = tmp_path / (src.stem + ".o")
        subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2",
                        "-I", str(folder), "-c", str(src), "-o", str(obj)], check=True)
        undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True,
                                   check=True).stdout.split()
        forbidden = {"malloc", "calloc", "realloc", "free", "printf", "fprintf", "snprintf",
                     "vsnprintf", "puts", "pthread_create"}
        assert not forbidden & set(undefined), (src.name, undefined)


def test_footprint_of_the_c_folder(tmp_path):
    model, _ = small_cnn()
    report = build_for_board(model, "c", tmp_path / "cnn")
    fp = report.footprint
    assert fp.constant_bytes == report.constant_bytes > 10_000
    assert fp.rodata_bytes >= fp.constant_bytes  # the weights are read-only data
    assert 0 < fp.code_bytes < 100_000
    assert fp.arena_bytes == report.workspace_bytes >= report.memory.arena_bytes
    assert fp.bss_bytes < 1024  # the error buffer; no static temporaries
    assert fp.stack_bytes is not None and 0 < fp.stack_bytes < 16 * 1024
