"""write_cuda_artifact: hand-written CUDA kernels + a plan -> one shared library by nvcc,
loaded like any artifact, with clear errors when no GPU can run it."""
import re
import subprocess

import cffi
import numpy as np
import pytest

import tc.runtime
from tc.compiler import cuda_artifact
from tc.compiler.aot_plan import (CONSTANT, INPUT, OUTPUT, WORKSPACE, Copy, ExecutionPlan,
                                  KernelCall, TensorRef, TensorSpec, pack_constants)
from tc.compiler.cuda_artifact import cuda_entry_source, parse_arch, write_cuda_artifact
from tc.runtime import CudaError, toolchain
from tc.targets.target import Target
from tests.conftest import gpu_usable
from tests.runtime import cuda_native, native

NO_GPU = r"no usable CUDA device \(cudaError\w+: [^)]+\): this artifact needs an NVIDIA GPU " \
         r"with a driver; build for \"llvm\" to run on the CPU"


def _xy(rng):
    return [rng.standard_normal((4, 250)).astype(np.float32) for _ in range(2)]


def test_metadata_says_device_arch_and_device_workspace(cuda_sample_artifact):
    path, plan, _, arch = cuda_sample_artifact
    mod = tc.runtime.load(path)
    meta = mod.metadata
    assert mod.device == "cuda" and meta["device"] == "cuda"
    assert meta["arch"] == arch and meta["target"] == f"cuda -arch={arch}"
    assert meta["workspace_bytes"] == 0 and mod.workspace_bytes == 0  # the arena is internal
    assert meta["device_workspace_bytes"] == plan.workspace_bytes == 8192
    assert meta["constants_bytes"] == len(plan.constants)
    assert meta["kernels"] == ["k_add", "k_scale", "k_relu"]
    assert [s.name for s in mod.output_specs] == ["out", "x_copy"]
    assert meta["model"] == "sample"  # the plan's own metadata is kept


def test_kernels_are_built_for_the_arch(cuda_sample_artifact):
    path, _, _, arch = cuda_sample_artifact
    # the kernels' cubin records the ptxas command line (the PTX beside it is compressed)
    assert f"-arch {arch} -m 64".encode() in path.read_bytes()


def test_only_the_abi_and_the_device_entry_are_exported(cuda_sample_artifact):
    path, _, _, _ = cuda_sample_artifact
    ffi = cffi.FFI()
    ffi.cdef("void k_add(void *, void *, void *); void tc_cuda_fail(const char *, int);"
             "void *tc_cuda_stream(void); const char *tc_model_metadata(void);"
             "int tc_model_run_device(void *const *, void *const *);"
             "int tc_cuda_sync_stream(uintptr_t); size_t tc_model_workspace_bytes(void);")
    lib = ffi.dlopen(str(path))
    assert b'"device": "cuda"' in ffi.string(lib.tc_model_metadata())
    assert lib.tc_model_workspace_bytes() == 0
    lib.tc_model_run_device, lib.tc_cuda_sync_stream  # noqa: B018 (exported)
    for hidden in ("k_add", "tc_cuda_fail", "tc_cuda_stream"):
        with pytest.raises(AttributeError):
            getattr(lib, hidden)
    ffi.dlclose(lib)


@pytest.mark.skipif(gpu_usable(), reason="checks the error of a machine without a GPU")
def test_run_without_gpu_is_a_clear_error(cuda_sample_artifact, rng):
    path, _, _, _ = cuda_sample_artifact
    mod = tc.runtime.load(path)
    for _ in range(2):  # a failed first run leaves nothing half set up
        with pytest.raises(CudaError, match=f"tc_model_run failed: {NO_GPU}"):
            mod.run(_xy(rng))
    with pytest.raises(CudaError, match=f"tc_model_profile failed: {NO_GPU}"):
        mod.profile(_xy(rng), repeat=1, warmup=0)
    assert issubclass(CudaError, RuntimeError)


@pytest.mark.skipif(gpu_usable(), reason="checks the error of a machine without a GPU")
def test_device_entry_without_gpu_is_a_clear_error(cuda_sample_artifact):
    path, _, _, _ = cuda_sample_artifact
    mod = tc.runtime.load(path)
    ffi, lib = mod._ffi, mod._lib
    fake = ffi.new("void *[]", [ffi.cast("void *", 4096), ffi.cast("void *", 8192)])
    assert lib.tc_model_run_device(fake, fake) == 1
    assert re.fullmatch(NO_GPU, ffi.string(lib.tc_last_error()).decode())


def test_input_errors_come_before_cuda(cuda_sample_artifact, rng):
    path, _, _, _ = cuda_sample_artifact
    mod = tc.runtime.load(path)
    x, y = _xy(rng)
    with pytest.raises(ValueError, match=r"expected 2 inputs \('x', 'y'\), got 1"):
        mod.run([x])
    with pytest.raises(ValueError, match=r"input 'y': expected float32\[4, 250\], "
                                         r"got float64\[4, 250\]"):
        mod.run([x, y.astype(np.float64)])
    ffi, lib = mod._ffi, mod._lib
    outs = ffi.new("void *[]", [ffi.cast("void *", 4096)] * 2)
    assert lib.tc_model_run(ffi.NULL, outs, ffi.NULL) == 1
    assert ffi.string(lib.tc_last_error()) == b"tc_model_run: the inputs array is NULL"
    ins = ffi.new("void *[]", [ffi.cast("void *", 4096), ffi.NULL])
    assert lib.tc_model_run_device(ins, outs) == 1
    assert ffi.string(lib.tc_last_error()) == b"tc_model_run_device: input 1 ('y') is NULL"


def test_entry_runs_the_steps_on_device_pointers(tmp_path):
    plan, _ = native.sample_plan(np.random.default_rng(0))
    src = cuda_entry_source(plan, "sm_90")
    body = src[src.index("static int run_steps"):]
    assert "const unsigned char *cst = tc_cuda_constants();" in body
    assert "k_scale(ws + 0, (void *)(cst + 0), ws + 4096);" in body
    assert "tc_cuda_copy(outputs[1], inputs[0], 4000);" in body
    assert body.count("if (tc_cuda_step_failed(") == len(plan.steps)
    assert 'tc_cuda_step_failed("step 3 (k_relu)", seconds != NULL)' in body
    assert "memcpy" not in body
    assert '"sm_90", 9, 0, TC_CUDA_ARCH_OR_LATER,' in src and "return (size_t)0;" in src
    # the entry is plain C: it compiles without CUDA headers, warnings as errors
    (tmp_path / "entry.c").write_text(src)
    toolchain.run_compiler(["-std=c99", "-O2", "-fPIC", "-Wall", "-Wextra", "-Werror",
                            "-pedantic", "-I", str(toolchain.runtime_include_dir()), "-I",
                            str(cuda_artifact.CUDA_RUNTIME_DIR), "-c", str(tmp_path / "entry.c"),
                            "-o", str(tmp_path / "entry.o")], "compiling entry.c")


def _build_copies(path, rng, target: str = "cuda -arch=sm_80") -> np.ndarray:
    """A CUDA artifact of copies only (no kernels: no CUDA source) through the workspace
    and the constants, for ``target``; returns the constant table its second output
    copies."""
    table = rng.standard_normal(5)
    blob, offsets = pack_constants({"pad": np.ones(3), "table": table})
    plan = ExecutionPlan(
        (TensorSpec("x", (2, 2), "int64"),),
        (TensorSpec("x_again", (2, 2), "int64"), TensorSpec("table", (5,), "float64")),
        (Copy(TensorRef(INPUT, 0), TensorRef(WORKSPACE, 64), 32),
         Copy(TensorRef(WORKSPACE, 64), TensorRef(OUTPUT, 0), 32),
         Copy(TensorRef(CONSTANT, offsets["table"]), TensorRef(OUTPUT, 1), 40)),
        128, blob)
    if "-compiler=nvrtc" not in target:
        cuda_native.require_nvcc()
    write_cuda_artifact(path, None, plan, Target.parse(target))
    return table


def test_plan_of_copies_builds_without_kernels(tmp_path, rng):
    _build_copies(tmp_path / "copies.so", rng)
    mod = tc.runtime.load(tmp_path / "copies.so")
    assert mod.metadata["kernels"] == [] and mod.metadata["device_workspace_bytes"] == 128


def test_missing_kernel_is_a_link_error_naming_it(tmp_path):
    spec = TensorSpec("x", (1000,), "float32")
    plan = ExecutionPlan((spec,), (spec,), (KernelCall(
        "k_missing", (TensorRef(INPUT, 0), TensorRef(OUTPUT, 0))),), 0)
    with pytest.raises(toolchain.ToolchainError, match="k_missing"):
        cuda_native.build(tmp_path / "m.so", plan, "sm_80")
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temp left behind


def test_missing_nvcc_says_to_install_the_toolkit(tmp_path, monkeypatch):
    from tc.targets import nvrtc

    monkeypatch.setattr(cuda_artifact.shutil, "which", lambda name: None)
    monkeypatch.setattr(cuda_artifact.os, "access", lambda path, mode: False)
    monkeypatch.setattr(nvrtc, "nvrtc_available", lambda: False)  # nor NVRTC
    monkeypatch.delenv("TC_CUDA_COMPILER", raising=False)
    plan, _ = native.sample_plan(np.random.default_rng(0))
    with pytest.raises(toolchain.ToolchainError, match="needs nvcc.*install the CUDA toolkit"):
        write_cuda_artifact(tmp_path / "m.so", cuda_native.sample_source(), plan,
                            Target.parse("cuda -arch=sm_80"))


def test_arch_forms():
    assert parse_arch("sm_80") == (8, 0, "")
    assert parse_arch("sm_86") == (8, 6, "")
    assert parse_arch("sm_90a") == (9, 0, "a")
    assert parse_arch("sm_100f") == (10, 0, "f")
    for bad in ("sm80", "compute_80", "sm_8", "80"):
        with pytest.raises(ValueError, match="not of the form sm_XY"):
            parse_arch(bad)


# ---- on a GPU ----------------------------------------------------------------------

def _device_arch() -> tuple[int, int]:
    out = subprocess.run(["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
                         capture_output=True, text=True, check=True).stdout
    major, minor = out.splitlines()[0].strip().split(".")
    return int(major), int(minor)


@pytest.mark.gpu
def test_sample_plan_matches_numpy_on_gpu(cuda_sample_artifact, rng):
    path, _, consts, arch = cuda_sample_artifact
    if parse_arch(arch)[:2] > _device_arch():
        pytest.skip(f"the device is older than {arch}")
    mod = tc.runtime.load(path)
    for _ in range(3):  # the arena, constants and buffers are set up once, then reused
        x, y = _xy(rng)
        out, x_copy = mod.run([x, y])
        ref_out, ref_copy = native.sample_reference(x, y, consts)
        np.testing.assert_allclose(out, ref_out, rtol=1e-6, atol=1e-6)
        assert (out > 0).any() and (out == 0).any()
        np.testing.assert_array_equal(x_copy, ref_copy)
    steps = mod.profile(_xy(rng), repeat=2, warmup=1)
    assert [s["kernel"] for s in steps] == ["k_add", "k_scale", "k_add", "k_relu", "copy"]
    assert all(s["ms"] >= 0 for s in steps)


@pytest.mark.gpu
def test_launch_failure_names_the_kernel(tmp_path, rng):
    spec = TensorSpec("x", (1000,), "float32")
    plan = ExecutionPlan((spec,), (spec,), (KernelCall(
        "k_bad_launch", (TensorRef(INPUT, 0), TensorRef(OUTPUT, 0))),), 0)
    cuda_native.build(tmp_path / "bad.so", plan, "sm_80")
    mod = tc.runtime.load(tmp_path / "bad.so")
    with pytest.raises(CudaError, match=r"launching k_bad_launch:kernel0: cudaError\w+: "):
        mod.run([rng.standard_normal(1000).astype(np.float32)])


@pytest.mark.gpu
def test_arch_newer_than_the_device_is_named(tmp_path, rng):
    major, minor = _device_arch()
    if major >= 12:
        pytest.skip("no arch newer than this device to build for")
    cuda_native.build_sample(tmp_path / "new.so", "sm_120")
    mod = tc.runtime.load(tmp_path / "new.so")
    with pytest.raises(CudaError, match=rf"CUDA arch mismatch: this artifact was built for "
                                        rf"sm_120, but CUDA device 0 \(.+\) is sm_{major}{minor}; "
                                        rf"rebuild it for target \"cuda -arch=sm_{major}{minor}\""):
        mod.run(_xy(rng))


@pytest.mark.gpu
def test_copies_and_constants_without_kernels(tmp_path, rng):
    table = _build_copies(tmp_path / "copies.so", rng)
    x = rng.integers(-5, 5, (2, 2))
    x_again, got = tc.runtime.load(tmp_path / "copies.so").run([x])
    np.testing.assert_array_equal(x_again, x)
    np.testing.assert_array_equal(got, table)


@pytest.mark.gpu
def test_two_modules_of_one_artifact_keep_their_own_state(cuda_sample_artifact, rng):
    path, _, consts, arch = cuda_sample_artifact
    if parse_arch(arch)[:2] > _device_arch():
        pytest.skip(f"the device is older than {arch}")
    a, b = tc.runtime.load(path), tc.runtime.load(path)
    x, y = _xy(rng)
    ref = native.sample_reference(x, y, consts)[0]
    np.testing.assert_allclose(a.run([x, y])[0], ref, rtol=1e-6, atol=1e-6)
    del a  # unloading one frees its device memory; the other still runs
    np.testing.assert_allclose(b.run([x, y])[0], ref, rtol=1e-6, atol=1e-6)

