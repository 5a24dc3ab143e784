"""The NVRTC path of the CUDA target (tc/targets/nvrtc.py): the generated CUDA of a
representative set of models (GEMM, conv, softmax/layernorm, a light CNN) compiles with
NVRTC for sm_80 and sm_90 with warnings as errors (the nvcc check,
test_cuda_models_compile.py, covers every model), a warning fails the check, and a
missing package is a ToolchainError saying what to install."""
import sys

import pytest

from tc.compiler import cuda_artifact
from tc.runtime.toolchain import ToolchainError
from tc.targets import nvrtc
from tc.targets.nvrtc import MISSING_PACKAGES, check_nvrtc_source, compile_cuda
from tc.targets.target import Target

from .test_cuda_models_compile import MODELS, _cuda_source

needs_nvrtc = pytest.mark.skipif(not nvrtc.nvrtc_available(),
                                 reason="NVRTC is not installed (packages cuda-bindings and "
                                        "nvidia-cuda-nvrtc: pip install \"tc[nvrtc]\")")
ARCHS = ["sm_80", "sm_90"]
WARNS = 'extern "C" __global__ void k(float *x) { float f = 1e300; x[threadIdx.x] = f; }\n'


@needs_nvrtc
@pytest.mark.parametrize("name", ["c_mlp", "c_small_cnn", "c_bert_like_encoder_layer",
                                  "light_squeezenet"])
def test_model_compiles_with_nvrtc_for_sm80_and_sm90_without_warnings(name, monkeypatch):
    source, _ = _cuda_source(MODELS[name](), monkeypatch)
    check_nvrtc_source(source.source, ARCHS)


@needs_nvrtc
def test_image_holds_sass_for_the_arch_and_its_ptx():
    image = compile_cuda('extern "C" __global__ void k(float *x) { x[threadIdx.x] += 1.0f; }',
                         "sm_90")
    assert image.cubin.startswith(b"\x7fELF") and image.arch == "sm_90"
    assert b".target sm_90" in image.ptx and b".entry k(" in image.ptx
    assert not image.log


@needs_nvrtc
def test_a_warning_is_an_error_when_checking():
    compile_cuda(WARNS, "sm_80")  # building tolerates it
    with pytest.raises(ToolchainError, match=r"warned \(warnings are errors\):\n.*warning "
                                             r"#221-D: floating-point value does not fit"):
        compile_cuda(WARNS, "sm_80", werror=True)
    with pytest.raises(ToolchainError, match=r"generated CUDA is kept in .*\.cu"):
        check_nvrtc_source(WARNS, "sm_80")


@needs_nvrtc
def test_an_error_carries_nvrtc_s_log():
    with pytest.raises(ToolchainError, match=r"NVRTC_ERROR_COMPILATION\):\n.*identifier "
                                             r"\"undefined_thing\" is undefined"):
        compile_cuda('extern "C" __global__ void k(float *x) { x[0] = undefined_thing; }',
                     "sm_80")


def test_missing_packages_say_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # import fails
    nvrtc.nvrtc_version.cache_clear()
    try:
        with pytest.raises(ToolchainError) as info:
            compile_cuda(WARNS, "sm_80")
        assert str(info.value) == MISSING_PACKAGES
        assert 'pip install "tc[nvrtc]"' in MISSING_PACKAGES and "CUDA toolkit" in MISSING_PACKAGES
        assert not nvrtc.nvrtc_available()
    finally:
        nvrtc.nvrtc_version.cache_clear()


def test_neither_compiler_names_both(monkeypatch):
    monkeypatch.delenv("TC_CUDA_COMPILER", raising=False)
    monkeypatch.setattr(cuda_artifact.shutil, "which", lambda name: None)
    monkeypatch.setattr(cuda_artifact.os, "access", lambda path, mode: False)
    monkeypatch.setattr(nvrtc, "nvrtc_available", lambda: False)
    with pytest.raises(ToolchainError, match=r"needs nvcc, the CUDA toolkit's compiler, or "
                                             r"NVRTC.*install the CUDA toolkit, or pip install "
                                             r"\"tc\[nvrtc\]\""):
        cuda_artifact.cuda_compiler(Target.parse("cuda"))


def test_compiler_choice(monkeypatch):
    monkeypatch.delenv("TC_CUDA_COMPILER", raising=False)
    choose = cuda_artifact.cuda_compiler
    assert choose(Target.parse("cuda -compiler=nvrtc")) == "nvrtc"
    monkeypatch.setenv("TC_CUDA_COMPILER", "nvrtc")
    assert choose(Target.parse("cuda")) == "nvrtc"
    assert choose(Target.parse("cuda -compiler=nvcc")) == "nvcc"  # the target wins
    monkeypatch.setenv("TC_CUDA_COMPILER", "clang")
    with pytest.raises(ValueError, match=r"TC_CUDA_COMPILER='clang': the CUDA compiler is one "
                                         r"of nvcc, nvrtc"):
        choose(Target.parse("cuda"))
    monkeypatch.delenv("TC_CUDA_COMPILER")
    monkeypatch.setattr(nvrtc, "nvrtc_available", lambda: True)
    monkeypatch.setattr(cuda_artifact.shutil, "which", lambda name: None)
    monkeypatch.setattr(cuda_artifact.os, "access", lambda path, mode: False)
    assert choose(Target.parse("cuda")) == "nvrtc"  # no nvcc: NVRTC
