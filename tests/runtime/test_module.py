"""tc.runtime.load / Module: checks before calling in, clear errors, reloads, export."""
import ctypes.util
import gc
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import tc.runtime
from tc.compiler.aot_plan import INPUT, OUTPUT, Copy, ExecutionPlan, TensorRef, TensorSpec
from tc.compiler.artifact import write_artifact
from tc.runtime import ArtifactError
from tests.runtime import native


@pytest.fixture
def mod(sample_artifact):
    return tc.runtime.load(sample_artifact[0])


def _xy(rng, dtype=np.float32):
    return [rng.standard_normal((4, 250)).astype(dtype) for _ in range(2)]


def test_specs_and_workspace(mod):
    assert mod.input_specs == (TensorSpec("x", (4, 250), "float32"),
                               TensorSpec("y", (4, 250), "float32"))
    assert [s.name for s in mod.output_specs] == ["out", "x_copy"]
    assert mod.workspace_bytes == 8192
    assert "x: float32[4, 250]" in repr(mod)


def test_wrong_input_count(mod, rng):
    with pytest.raises(ValueError, match=r"expected 2 inputs \('x', 'y'\), got 1"):
        mod.run(_xy(rng)[:1])


def test_wrong_dtype_is_never_cast(mod, rng):
    x, y = _xy(rng)
    with pytest.raises(ValueError, match=r"^input 'y': expected float32\[4, 250\], "
                                         r"got float64\[4, 250\]$"):
        mod.run([x, y.astype(np.float64)])
    with pytest.raises(ValueError, match=r"input 'x': expected float32\[4, 250\], "
                                         r"got float64\[4, 250\]"):
        mod.run([x.tolist(), y])


def test_non_native_byte_order_is_named(mod, rng):
    x, y = _xy(rng)
    with pytest.raises(ValueError, match=r"input 'x': expected float32\[4, 250\], got "
                                         r"float32 \(>f4, non-native byte order\)\[4, 250\]"):
        mod.run([x.astype(">f4"), y])


def test_wrong_shape(mod, rng):
    x, y = _xy(rng)
    with pytest.raises(ValueError, match=r"input 'x': expected float32\[4, 250\], "
                                         r"got float32\[1000\]"):
        mod.run([x.reshape(-1), y])


def test_run_takes_a_list(mod, rng):
    with pytest.raises(TypeError, match="list of arrays"):
        mod.run(_xy(rng)[0])


def test_strided_and_misaligned_inputs_and_fresh_outputs(sample_artifact, mod, rng):
    _, _, consts = sample_artifact
    wide = rng.standard_normal((4, 500)).astype(np.float32)
    x = wide[:, ::2]                                  # strided view
    raw = np.zeros(4001, np.uint8)
    y = raw[1:].view(np.float32).reshape(4, 250)     # misaligned
    y[...] = rng.standard_normal((4, 250))
    assert not y.flags.aligned
    first = mod.run([x, y])
    for got, want in zip(first, native.sample_reference(np.ascontiguousarray(x), y, consts)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    second = mod.run([np.asfortranarray(x), y])
    assert first[0] is not second[0] and not np.shares_memory(first[0], second[0])
    np.testing.assert_array_equal(first[0], second[0])


def test_concurrent_runs_are_serialized(sample_artifact, mod):
    _, _, consts = sample_artifact
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(20):
            x, y = _xy(rng)
            out, _ = mod.run([x, y])
            if not np.allclose(out, native.sample_reference(x, y, consts)[0], atol=1e-6):
                errors.append(seed)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_num_threads(mod):
    mod.set_num_threads(3)
    assert mod.num_threads == 3
    mod.set_num_threads(1)
    assert mod.num_threads == 1


def test_model_errors_from_c_are_reported(mod):
    ffi, lib = mod._ffi, mod._lib
    ws = ffi.new("char[]", 8192 + 64)
    aligned = ffi.cast("void *", (int(ffi.cast("uintptr_t", ws)) + 63) // 64 * 64)
    nulls = ffi.new("void *[]", 2)
    buf = ffi.new("float[]", 1000)
    ptrs = ffi.new("void *[]", [buf, buf])
    assert lib.tc_model_run(nulls, ptrs, aligned) != 0
    assert ffi.string(lib.tc_last_error()) == b"tc_model_run: input 0 ('x') is NULL"
    assert lib.tc_model_run(ptrs, ptrs, ffi.NULL) != 0
    assert b"workspace is NULL but the model needs 8192 bytes" in ffi.string(lib.tc_last_error())
    assert lib.tc_model_run(ptrs, ptrs, ffi.cast("char *", aligned) + 4) != 0
    assert b"64-byte aligned" in ffi.string(lib.tc_last_error())


def test_nonzero_status_raises_runtime_error(mod, rng, monkeypatch):
    ffi = mod._ffi
    message = ffi.new("char[]", b"kernel exploded")

    class FailingLib:
        def tc_model_run(self, *args):
            return 3

        def tc_last_error(self):
            return message

    monkeypatch.setattr(mod, "_lib", FailingLib())
    with pytest.raises(RuntimeError, match="sample.so: tc_model_run failed: kernel exploded"):
        mod.run(_xy(rng))


def test_missing_file(tmp_path):
    with pytest.raises(ArtifactError, match=r"nothere\.so: no such file"):
        tc.runtime.load(tmp_path / "nothere.so")


def test_shared_library_that_is_not_an_artifact(tmp_path):
    probe = native.build_probe_library(tmp_path)  # has tc_last_error etc., no model
    with pytest.raises(ArtifactError, match=rf"{probe}: not a tc artifact"):
        tc.runtime.load(probe)
    libm = ctypes.util.find_library("m")
    candidates = [os.path.join(d, libm) for d in
                  ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                   "/lib/aarch64-linux-gnu", "/usr/lib")] if libm else []
    for path in filter(os.path.isfile, candidates):
        with pytest.raises(ArtifactError, match=rf"{path}: not a tc artifact"):
            tc.runtime.load(path)
        break


@pytest.mark.parametrize("keep", [0.5, 0.9, 64, 10])
def test_truncated_or_garbage_files(sample_artifact, tmp_path, keep):
    data = sample_artifact[0].read_bytes()
    bad = tmp_path / "bad.so"
    bad.write_bytes(data[:int(len(data) * keep)] if keep < 1 else data[:keep])
    with pytest.raises(ArtifactError, match=rf"{bad}: "):
        tc.runtime.load(bad)
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ArtifactError, match=rf"{bad}: cannot be loaded"):
        tc.runtime.load(bad)


def _other_plan():
    spec = TensorSpec("z", (3,), "int16")
    return ExecutionPlan((spec,), (spec,), (Copy(TensorRef(INPUT, 0), TensorRef(OUTPUT, 0), 6),),
                         0)


def test_reloading_a_rebuilt_path_sees_the_new_file(sample_artifact, tmp_path, kernels_object,
                                                    rng):
    _, plan, consts = sample_artifact
    path = tmp_path / "model.so"
    write_artifact(path, kernels_object, plan)
    first = tc.runtime.load(path)
    write_artifact(path, b"", _other_plan())
    second = tc.runtime.load(path)
    assert [s.name for s in second.input_specs] == ["z"]
    z = np.array([1, -2, 3], np.int16)
    np.testing.assert_array_equal(second.run([z])[0], z)
    x, y = _xy(rng)  # the first module still runs its own code
    np.testing.assert_allclose(first.run([x, y])[0], native.sample_reference(x, y, consts)[0],
                               atol=1e-6)
    assert tc.runtime.load(path).input_specs == second.input_specs  # same path twice


def test_export_copies_the_loaded_library(sample_artifact, tmp_path, kernels_object, rng):
    _, plan, consts = sample_artifact
    path = tmp_path / "model.so"
    write_artifact(path, kernels_object, plan)
    mod = tc.runtime.load(path)
    path.unlink()  # export does not need the original any more
    mod.export(tmp_path / "exported.so")
    again = tc.runtime.load(tmp_path / "exported.so")
    x, y = _xy(rng)
    np.testing.assert_array_equal(again.run([x, y])[0], mod.run([x, y])[0])


def test_unloading_stops_the_pool_and_cleans_up(sample_artifact):
    """Dropping a Module dlcloses its library: its pool threads must be gone first."""
    script = textwrap.dedent(f"""
        import gc, os, time
        import numpy as np
        import tc.runtime
        baseline = len(os.listdir('/proc/self/task'))  # numpy's BLAS may run threads
        for i in range(3):
            mod = tc.runtime.load({str(sample_artifact[0])!r})
            mod.set_num_threads(4)
            x = np.ones((4, 250), np.float32)
            mod.run([x, x])
            assert len(os.listdir('/proc/self/task')) == baseline + 3
            tmp = mod._loaded_path.parent
            del mod
            gc.collect()
            assert not tmp.exists(), tmp
        time.sleep(0.05)
        assert len(os.listdir('/proc/self/task')) == baseline
        pid = os.fork()  # the unloaded library's fork handler must be gone too
        if pid == 0:
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        print('ok')
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    gc.collect()
