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
from tests.runtime.fake_driver import build_fake_driver
from tests.runtime.test_cuda_compile import MODELS
from tests.targets.cuda_emulator import build_emulator

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
    sources = []
    write = cuda_artifact.write_cuda_artifact

    def capture(path, source, plan, target):
        sources.append(source)
        write(path, source, plan, target)

    monkeypatch.setattr(cuda_artifact, "write_cuda_artifact", capture)
    rng = np.random.default_rng(0)
    make, shapes = MODELS[name]
    model = make(rng)
    inputs = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    return model, inputs, tc.compile(model, target=target), sources[0]


def _use_fake(monkeypatch, fake_driver: str, source, folder) -> None:
    """Runs of artifacts loaded from now on go to the fake driver and ``source``'s
    kernels in the emulator."""
    monkeypatch.setenv("TC_CUDA_DRIVER_LIBRARY", fake_driver)
    monkeypatch.setenv("TC_FAKE_CUDA_KERNELS", build_emulator(source, str(folder), by_name=True))


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
    _use_fake(monkeypatch, fake_driver, source, tmp_path)
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
    _use_fake(monkeypatch, fake_driver, source, tmp_path)
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
