"""An exported artifact of a real model runs without tc's compiler: from a fresh Python
process through ``tc.load``, and from a plain C program (dlopen + the ABI, no Python)."""
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest

import tc
from tests.runtime.c_harness import harness_metadata, read_tensor, run_harness, write_tensor

from .light import model_path, ort_session, with_random_weights

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def squeezenet(tmp_path_factory):
    """(exported .so path, input, onnxruntime's output) for squeezenet with random weights."""
    pytest.importorskip("onnxruntime")
    model = with_random_weights(onnx.load(model_path("squeezenet")), seed=3)
    x = np.random.default_rng(4).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    sess = ort_session(model)
    expected = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    path = tmp_path_factory.mktemp("export") / "squeezenet.so"
    tc.compile(model).export(path)
    return path, x, expected


def _assert_close(out, expected):
    assert np.ptp(expected) > 0
    np.testing.assert_allclose(out, expected, rtol=1e-3, atol=1e-4 * float(np.abs(expected).max()))


def test_plain_c_program_runs_exported_model(squeezenet, tmp_path):
    path, x, expected = squeezenet
    meta = harness_metadata(path)
    assert [i["shape"] for i in meta["inputs"]] == [[1, 3, 224, 224]]
    inp = tmp_path / "input_0.bin"
    write_tensor(inp, x)
    outs = run_harness(path, [inp], tmp_path / "out", threads=2)
    _assert_close(read_tensor(outs[0], meta["outputs"][0]), expected)


def test_fresh_process_loads_exported_model(squeezenet, tmp_path):
    path, x, expected = squeezenet
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import sys, numpy as np, tc
        mod = tc.load({str(path)!r})
        y, = mod.run([np.load({str(tmp_path / 'x.npy')!r})])
        np.save({str(tmp_path / 'y.npy')!r}, y)
        print(sorted(m for m in ('llvmlite', 'onnx', 'tc.compiler.build') if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", "loading an artifact must not need the compiler"
    _assert_close(np.load(tmp_path / "y.npy"), expected)
