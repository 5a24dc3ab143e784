"""The cuda target string: ``-arch=sm_XY`` is validated, and without it the arch is the
present GPU's (nvidia-smi) or sm_80; check_cuda_source reports nvcc's errors."""
import subprocess

import pytest

from tc.runtime.toolchain import ToolchainError
from tc.targets import Target
from tc.targets import target as target_module
from tc.targets.cuda import check_cuda_source, find_nvcc


@pytest.mark.parametrize("arch", ["sm_80", "sm_86", "sm_90", "sm_90a", "sm_100", "sm_120f"])
def test_arch_option(arch):
    assert Target.parse(f"cuda -arch={arch}").cuda_arch == arch


@pytest.mark.parametrize("arch", ["sm80", "sm_8", "compute_80", "sm_0x", "SM_80", "sm_80b"])
def test_malformed_arch_is_rejected(arch):
    with pytest.raises(ValueError, match=r"sm_XY .*sm_80, sm_90"):
        Target.parse(f"cuda -arch={arch}")


def test_arch_comes_from_the_device_else_sm_80(monkeypatch):
    monkeypatch.setattr(target_module, "_device_arch", lambda: "sm_89")
    assert Target.parse("cuda").cuda_arch == "sm_89"
    monkeypatch.setattr(target_module, "_device_arch", lambda: None)
    assert Target.parse("cuda").cuda_arch == target_module.DEFAULT_CUDA_ARCH == "sm_80"
    assert Target.parse("llvm").cuda_arch is None


def test_device_arch_reads_nvidia_smi(monkeypatch):
    detect = target_module._device_arch.__wrapped__  # not the cached answer

    def smi(out, rc=0):
        return lambda *a, **k: subprocess.CompletedProcess(a, rc, stdout=out, stderr="")

    monkeypatch.setattr(subprocess, "run", smi("9.0\n8.0\n"))
    assert detect() == "sm_90"
    monkeypatch.setattr(subprocess, "run", smi("12.0\n"))
    assert detect() == "sm_120"
    monkeypatch.setattr(subprocess, "run", smi("", rc=9))  # no driver
    assert detect() is None

    def missing(*a, **k):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(subprocess, "run", missing)
    assert detect() is None


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_check_cuda_source_reports_nvcc_errors():
    # an unused variable: only a warning, which the check makes an error
    src = "__global__ void k(float *p) { int unused = 3; p[0] = 1.0f; }\n"
    with pytest.raises(ToolchainError, match=r"(?s)compiling the generated CUDA for sm_80.*"
                                             r"unused.*kept in .*\.cu"):
        check_cuda_source(src, "sm_80")
