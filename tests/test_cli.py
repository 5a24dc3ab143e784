"""tc-build from the shell: the example, a model file, the report, and clear errors."""
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

import tc
from tc.examples import small_cnn
from tests.models.light import ort_session


def tc_build(*args, cwd):
    return subprocess.run([sys.executable, "-m", "tc.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_example_compiles_runs_and_checks_itself(tmp_path):
    out = tc_build("--example", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "small_cnn.so").exists()
    for word in ("input   image: float32[1, 3, 32, 32]", "output  probs: float32[1, 10]",
                 "kernels", "workspace", "max |tc - onnxruntime|"):
        assert word in out.stdout


def test_example_for_a_gpu_without_one_is_built_and_says_why_it_cannot_run(tmp_path,
                                                                         monkeypatch):
    from tc.targets.nvrtc import nvrtc_available

    if not nvrtc_available():
        import pytest

        pytest.skip("NVRTC is not installed (pip install \"tc[nvrtc]\")")
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", str(tmp_path / "no-libcuda.so.1"))
    out = tc_build("--example", "--target", "cuda -compiler=nvrtc", cwd=tmp_path)
    assert out.returncode == 1 and (tmp_path / "small_cnn.so").exists()
    assert "device workspace" in out.stdout and "+ 0 B workspace arena" in out.stdout
    assert out.stderr.startswith("tc-build: built small_cnn.so, but the example could not run: ")
    assert "no usable CUDA device (no CUDA driver" in out.stderr
    assert "Traceback" not in out.stderr


def test_model_file_report_and_dump(tmp_path):
    model = small_cnn(seed=5)
    onnx.save(model, tmp_path / "cnn.onnx")
    out = tc_build("cnn.onnx", "-o", "cnn.so", "--report", "--dump-ir", "ir", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "fold_constants" in out.stdout and "eliminate" in out.stdout
    assert "frontend: ONNX import" in out.stdout and "phases: import" in out.stdout
    assert sorted(p.name for p in (tmp_path / "ir").iterdir())[0] == "00_input.txt"
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    y, = tc.load(tmp_path / "cnn.so").run([x])
    expected, = ort_session(model).run(None, {"image": x})
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-6)


def test_unsupported_ops_are_all_listed_before_compiling(tmp_path):
    # random sampling has no place in a compiled inference model: tc will never take these
    nodes = [helper.make_node("Bernoulli", ["x"], ["nz"], name="find"),
             helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Multinomial", ["r"], ["h"], name="hm1"),
             helper.make_node("Multinomial", ["h"], ["y"], name="hm2")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
                               helper.make_tensor_value_info("nz", TensorProto.INT64, None)])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    out = tc_build("m.onnx", cwd=tmp_path)
    assert out.returncode == 1
    for word in ("Bernoulli", "find", "Multinomial", "hm1", "hm2", "17"):
        assert word in out.stderr
    assert "relu" not in out.stderr.lower().replace("unsupported", "")
    assert not (tmp_path / "m.so").exists()


def test_truncated_model_names_the_file(tmp_path):
    data = small_cnn().SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 3])
    out = tc_build("cut.onnx", cwd=tmp_path)
    assert out.returncode == 1
    assert "cut.onnx" in out.stderr and "Traceback" not in out.stderr


def test_tc_dump_ir_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("TC_DUMP_IR", str(tmp_path / "dump"))
    tc.compile(small_cnn())
    names = sorted(p.name for p in (tmp_path / "dump").iterdir())
    assert names[0] == "00_input.txt" and names[-1].endswith("_fuse_and_plan_memory.txt")
    assert "Conv(" in (tmp_path / "dump" / names[-1]).read_text()


def test_ops_listing_comes_from_the_registry(tmp_path):
    from tc.frontends.onnx import CONVERTERS

    out = tc_build("--ops", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[2:]
            if line.strip() and not line.startswith(("canonical", " ")) and line.split()[0] in CONVERTERS}
    assert set(rows) == set(CONVERTERS)
    assert [v.strip(",") for v in rows["Conv"]] == ["1", "11", "22"]
