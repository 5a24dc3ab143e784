"""tc-build for boards: --target c and LLVM cross targets write a folder of sources with
its footprint; a .so output for another architecture is refused with what to do."""
import re

import numpy as np
import onnx

import tc
from tc.examples import small_cnn
from tests.models.light import ort_session

from .test_cli import tc_build


def _model(tmp_path):
    onnx.save(small_cnn(seed=3), tmp_path / "cnn.onnx")
    return "cnn.onnx"


def test_c_target_writes_a_folder_and_prints_its_footprint(tmp_path):
    out = tc_build(_model(tmp_path), "--target", "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "cnn_c"
    assert {p.name for p in folder.iterdir()} == {
        "model.h", "model.c", "tc_runtime.h", "tc_board_runtime.c", "Makefile", "README.md"}
    header = (folder / "model.h").read_text()
    assert "#define TC_MODEL_INPUT_0_BYTES 12288" in header  # float32[1, 3, 32, 32]
    assert "#define TC_MODEL_INPUT_IMAGE_BYTES 12288" in header
    assert "#define TC_MODEL_OUTPUT_PROBS_ELEMENTS 10" in header
    assert re.search(r"#define TC_MODEL_WORKSPACE_BYTES [1-9]\d*", header)
    for line in ("footprint (compiled with", "code ", "read-only ", "RAM ", "stack "):
        assert line in out.stdout, out.stdout
    assert re.search(r"stack +\d+ B", out.stdout)


def test_llvm_cross_target_writes_an_object_and_the_full_runtime(tmp_path):
    out = tc_build(_model(tmp_path), "--target", "llvm -mtriple=aarch64-linux-gnu", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "cnn_aarch64"
    assert (folder / "kernels.o").read_bytes()[:4] == b"\x7fELF"
    assert {"thread_pool.c", "model.c", "model.h", "Makefile"} <= {p.name for p in folder.iterdir()}
    assert "-lpthread" in (folder / "Makefile").read_text()


def test_c_target_to_a_shared_library_runs_here(tmp_path):
    """-o NAME.so with the c target: the C kernels compiled for this host, loadable."""
    out = tc_build(_model(tmp_path), "--target", "c", "-o", "cnn_c.so", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "footprint (the shared library cnn_c.so)" in out.stdout
    model = small_cnn(seed=3)
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    got, = tc.load(tmp_path / "cnn_c.so").run([x])
    want, = ort_session(model).run(None, {"image": x})
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_cross_target_shared_library_is_refused(tmp_path):
    out = tc_build(_model(tmp_path), "--target", "llvm -mtriple=aarch64-linux-gnu", "-o",
                   "cnn.so", cwd=tmp_path)
    assert out.returncode == 1
    assert "give a folder as the output" in out.stderr and "Traceback" not in out.stderr
