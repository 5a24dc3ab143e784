"""CUDA artifacts built by NVRTC (no nvcc): the kernels embedded as SASS + PTX, the C
launchers launching through the driver API, which the runtime opens with dlopen at the
first run. Without a GPU: the artifact builds, loads and names the missing driver; with a
FAKE driver (fake_libcuda.c: host memory, kernels run by the CPU CUDA emulator) models
run end to end and match onnxruntime, which checks the argument marshalling, the copies,
the arena/constants layout and the launch dimensions."""
import re

import numpy as np
import pytest

import tc
import tc.runtime
from tc.compiler import cuda_artifact
from tc.runtime import CudaError
from tc.targets import nvrtc
from tc.targets.target import Target
from tests.frontends.onnx_models import run_onnxruntime
from tests.runtime.test_cuda_artifact import _build_copies
from tests.runtime.fake_driver import build_fake_driver, compile_with_source, use_fake_driver
from tests.runtime.test_cuda_compile import MODELS

pytestmark = pytest.mark.skipif(not nvrtc.nvrtc_available(),
                                reason="NVRTC is not installed (packages cuda-bindings and "
                                       "nvidia-cuda-nvrtc: pip install \"tc[nvrtc]\")")
NVRTC = "cuda -arch=sm_80 -compiler=nvrtc"
NO_DRIVER = (r"no usable CUDA device \(no CUDA driver: libcuda\.so\.1: cannot open shared object "
             r"file: No such file or directory\): this artifact \(built by NVRTC\) runs through "
             r"the NVIDIA driver's library libcuda\.so\.1; install the NVIDIA driver")


@pytest.fixture(scope="module")
def fake_driver(tmp_path_factory) -> str:
    """fake_libcuda.c built as a libcuda.so.1."""
    return build_fake_driver(tmp_path_factory.mktemp("fake-driver"))


def _compile(name: str, monkeypatch, target: str = NVRTC):
    """(model, inputs, module, CudaSource) of test_cuda_compile's model ``name``."""
    rng = np.random.default_rng(0)
    make, shapes = MODELS[name]
    model = make(rng)
    inputs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    return (model, inputs, *compile_with_source(model, target, monkeypatch))


def test_model_builds_loads_and_names_the_missing_driver(monkeypatch):
    monkeypatch.delenv("TC_CUDA_DRIVER_LIBRARY", raising=False)
    model, inputs, mod, source = _compile("mlp", monkeypatch)
    meta = mod.metadata
    assert mod.device == "cuda" and meta["arch"] == "sm_80"
    assert meta["cuda_compiler"] == "nvrtc" and re.fullmatch(r"\d+\.\d+", meta["nvrtc_version"])
    assert meta["kernels"] and meta["device_workspace_bytes"] > 0
    assert [o["name"] for o in meta["outputs"]] == [o.name for o in model.graph.output]
    for _ in range(2):  # a failed first run leaves nothing half set up
        with pytest.raises(CudaError, match=f"tc_model_run failed: {NO_DRIVER}"):
            mod.run(inputs)
    with pytest.raises(CudaError, match=f"tc_model_profile failed: {NO_DRIVER}"):
        mod.profile(inputs, repeat=1, warmup=0)
    ffi, lib = mod._ffi, mod._lib
    fake = ffi.new("void *[]", [ffi.cast("void *", 4096)] * 4)
    assert lib.tc_model_run_device(fake, fake) == 1
    assert re.match(NO_DRIVER, ffi.string(lib.tc_last_error()).decode())


def test_artifact_embeds_sass_and_ptx_and_exports_only_the_abi(tmp_path, monkeypatch):
    from tests.targets.test_cuda_models_compile import _cuda_source

    source, plan = _cuda_source(MODELS["conv"][0](np.random.default_rng(0)), monkeypatch)
    monkeypatch.undo()
    path = tmp_path / "conv.so"
    cuda_artifact.write_cuda_artifact(path, source, plan, Target.parse("cuda -arch=sm_90 "
                                                                       "-compiler=nvrtc"))
    data = path.read_bytes()
    assert b".target sm_90" in data and data.count(b"\x7fELF") >= 2  # the cubin inside
    names = [launch.kernel for launches in source.launches.values() for launch in launches]
    assert all(n.encode() + b"\0" in data for n in names)
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void tc_cuda_launch(void); void tc_cuda_kernel_image(void);"
             "int tc_model_run_device(void *const *, void *const *);")
    lib = ffi.dlopen(str(path))
    lib.tc_model_run_device  # noqa: B018 (exported)
    for hidden in ("tc_cuda_launch", "tc_cuda_kernel_image", *names[:1]):
        with pytest.raises(AttributeError):
            getattr(lib, hidden)
    ffi.dlclose(lib)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_on_the_fake_driver_matches_onnxruntime(name, fake_driver, tmp_path, monkeypatch):
    model, inputs, mod, source = _compile(name, monkeypatch)
    use_fake_driver(monkeypatch, fake_driver, source, tmp_path)
    expected = run_onnxruntime(model, {"x": inputs[0]})
    for got, ref in zip(mod.run(inputs), expected):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    steps = mod.profile(inputs, repeat=1, warmup=0)  # a second run: the setup is reused
    assert [s["kernel"] for s in steps] == mod.metadata["kernels"]


def test_arch_mismatch_on_the_fake_driver(fake_driver, monkeypatch):
    _, inputs, mod, _ = _compile("mlp", monkeypatch, "cuda -arch=sm_90 -compiler=nvrtc")
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_ARCH", "86")
    with pytest.raises(CudaError, match=r"CUDA arch mismatch: this artifact was built for sm_90, "
                                        r"but CUDA device 0 \(Fake CUDA device\) is sm_86; "
                                        r"rebuild it for target \"cuda -arch=sm_86\""):
        mod.run(inputs)


def test_launch_failure_names_the_error_and_the_kernel(fake_driver, monkeypatch):
    _, inputs, mod, source = _compile("mlp", monkeypatch)
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.delenv("TC_FAKE_CUDA_KERNELS", raising=False)  # the fake cannot launch
    first = next(iter(source.launches))
    kernel = source.launches[first][0].kernel
    with pytest.raises(CudaError, match=rf"launching {first}:{kernel}: CUDA_ERROR_LAUNCH_FAILED: "):
        mod.run(inputs)


def test_copies_and_constants_without_kernels_on_the_fake_driver(fake_driver, tmp_path,
                                                                 monkeypatch, rng):
    table = _build_copies(tmp_path / "copies.so", rng, NVRTC)
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    mod = tc.runtime.load(tmp_path / "copies.so")
    assert mod.metadata["kernels"] == [] and mod.metadata["cuda_compiler"] == "nvrtc"
    x = rng.integers(-5, 5, (2, 2))
    x_again, got = mod.run([x])
    np.testing.assert_array_equal(x_again, x)
    np.testing.assert_array_equal(got, table)


def test_rerun_launches_the_kernels_again_on_the_last_runs_device_copies(fake_driver, tmp_path,
                                                                        monkeypatch):
    import ctypes

    _, inputs, mod, source = _compile("mlp", monkeypatch)
    use_fake_driver(monkeypatch, fake_driver, source, tmp_path)
    lib = ctypes.CDLL(str(mod.path))  # the same loaded library as the module's
    lib.tc_last_error.restype = ctypes.c_char_p
    assert lib.tc_cuda_rerun(1) == 1
    assert lib.tc_last_error().decode() == (
        "tc_cuda_rerun: no host run came first: it runs on the device copies of the last "
        "tc_model_run's inputs (call tc_model_run once)")
    mod.run(inputs)
    fake = ctypes.CDLL(fake_driver)
    launches = ctypes.c_int.in_dll(fake, "fake_launches")
    before = launches.value
    per_run = sum(len(v) for v in source.launches.values())
    assert per_run > 0 and lib.tc_cuda_rerun(3) == 0
    assert launches.value - before == 3 * per_run
    assert lib.tc_cuda_rerun(-1) == 1 and b"not a count" in lib.tc_last_error()


def test_a_kernel_fault_is_reported_by_every_later_run(fake_driver, monkeypatch):
    """A launch failure is sticky on a real GPU (the context is lost): the next run names
    the first fault instead of blaming whatever step meets the error next."""
    _, inputs, mod, source = _compile("mlp", monkeypatch)
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.delenv("TC_FAKE_CUDA_KERNELS", raising=False)  # every launch fails
    first = next(iter(source.launches))
    kernel = source.launches[first][0].kernel
    with pytest.raises(CudaError, match=rf"launching {first}:{kernel}: CUDA_ERROR_LAUNCH_FAILED"):
        mod.run(inputs)
    with pytest.raises(CudaError, match=rf"an earlier kernel fault in this process \(launching "
                                        rf"{first}:{kernel}: CUDA_ERROR_LAUNCH_FAILED\) left its "
                                        r"CUDA context unusable: .*restart the process"):
        mod.run(inputs)


def test_kernels_load_from_the_ptx_when_the_sass_is_for_another_arch(fake_driver, tmp_path,
                                                                      monkeypatch):
    model, inputs, mod, source = _compile("mlp", monkeypatch)
    use_fake_driver(monkeypatch, fake_driver, source, tmp_path)
    monkeypatch.setenv("TC_FAKE_CUDA_SASS_ARCH", "1")  # the cubin is refused (209)
    for got, ref in zip(mod.run(inputs), run_onnxruntime(model, {"x": inputs[0]})):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


_RUN_IN_A_CHILD = """
import ctypes, json, sys
import numpy as np
import tc.runtime
fake = ctypes.CDLL(sys.argv[2])
count = lambda name: ctypes.c_int.in_dll(fake, name).value
allocations = count("fake_allocations")
mod = tc.runtime.load(sys.argv[1])
try:
    mod.run([np.ones((8, 64), np.float32)])
    error = None
except tc.runtime.CudaError as e:
    error = str(e)
print(json.dumps({"error": error, "stale": count("fake_stale_calls"),
                  "leaked": count("fake_allocations") - allocations}))
"""


def _run_in_a_child(mod, fake_driver: str, env: dict) -> dict:
    """A fresh process (the fake driver's counters its own) runs ``mod`` once."""
    import json
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _RUN_IN_A_CHILD, str(mod.path), fake_driver],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TC_CUDA_DRIVER_LIBRARY": fake_driver, **env})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_refused_ptx_names_the_jit_log_and_frees_all_before_the_context(fake_driver,
                                                                          monkeypatch):
    """The first run fails after the stream and the arena exist: they are freed while the
    primary context is still retained (releasing it last resets it on a real driver)."""
    _, _, mod, _ = _compile("mlp", monkeypatch)
    out = _run_in_a_child(mod, fake_driver, {
        "TC_FAKE_CUDA_SASS_ARCH": "1",
        "TC_FAKE_CUDA_PTX_ERROR": "ptxas fatal: Unsupported .version 9.0"})
    assert ("loading the kernels' PTX for this device (the artifact's SASS is for sm_80; a "
            "driver older than the CUDA 13.0 of the NVRTC") in out["error"]
    assert ("; the driver's JIT: ptxas fatal: Unsupported .version 9.0 on CUDA device 0: "
            "CUDA_ERROR_UNSUPPORTED_PTX_VERSION") in out["error"]
    assert out["stale"] == 0 and out["leaked"] == 0


def test_a_driver_older_than_the_nvrtc_is_named(fake_driver, monkeypatch):
    _, _, mod, _ = _compile("mlp", monkeypatch)
    major = nvrtc.nvrtc_version()[0]
    out = _run_in_a_child(mod, fake_driver, {"TC_FAKE_CUDA_DRIVER_VERSION":
                                             str((major - 1) * 1000 + 80)})
    assert (f"the driver found supports CUDA {major - 1}.8 only; install an NVIDIA driver "
            f"for CUDA {major}") in out["error"]
    assert out["stale"] == 0 and out["leaked"] == 0


def test_waiting_for_a_default_stream_works_from_a_thread_without_a_context(fake_driver,
                                                                           monkeypatch):
    """The legacy and per-thread default streams name a stream of the current context:
    the runtime makes one current (the fake driver refuses a sync without one)."""
    import ctypes
    import threading

    _, _, mod, _ = _compile("mlp", monkeypatch)
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    lib = ctypes.CDLL(str(mod.path))
    lib.tc_last_error.restype = ctypes.c_char_p
    status = []
    thread = threading.Thread(target=lambda: status.append(
        (lib.tc_cuda_sync_stream(ctypes.c_size_t(2)), lib.tc_last_error())))
    thread.start()
    thread.join()
    assert status == [(0, b"")]
