"""The CUDA generator's device code compiled by NVRTC, the CUDA runtime compiler, through
the ``cuda-python`` bindings (``cuda.bindings.nvrtc``): CUDA artifacts without nvcc.

    image = compile_cuda(src.source, "sm_80")   # CudaImage: cubin (SASS) + PTX
    check_nvrtc_source(src.source, ["sm_80", "sm_90"])   # warnings are errors (tests)

One compilation for ``sm_XY`` gives both the SASS (cubin) for that arch and the PTX it
came from. The artifact embeds both, as nvcc's fatbinary does: the driver loads the SASS
on a device it runs on (X.Y, or X.Z with Z >= Y) and compiles the PTX for a newer one.
The PTX is written by this NVRTC release, and a driver only accepts PTX from releases no
newer than itself: hence the pinned ``nvidia-cuda-nvrtc`` of the ``nvrtc`` extra (13.0,
the release of nvcc and ptxas here).

The generated source hides its includes and host launchers from NVRTC
(``__CUDACC_RTC__``); PRELUDE supplies what the includes would (<stdint.h>'s types,
<math.h>'s INFINITY and NAN), pre-included as an in-memory header.
"""
from __future__ import annotations

import functools
import re
import tempfile
from dataclasses import dataclass

from ..compiler.cuda_artifact import parse_arch
from ..runtime.toolchain import ToolchainError

__all__ = ["CudaImage", "MISSING_PACKAGES", "check_nvrtc_source", "compile_cuda",
           "nvrtc_available", "nvrtc_version"]

#: what to install for the NVRTC path (the extra pins versions that work together)
MISSING_PACKAGES = ('building for a CUDA target without nvcc needs NVRTC through the '
                    '"cuda-bindings" and "nvidia-cuda-nvrtc" packages, which are not installed: '
                    'pip install "tc[nvrtc]" (or install the CUDA toolkit, whose nvcc tc uses '
                    'when it is on PATH)')

PRELUDE_NAME = "tc_nvrtc_prelude.h"
PRELUDE = """\
/* What the generated CUDA takes from <stdint.h> and <math.h> under nvcc. */
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long long int64_t;
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long long uint64_t;
typedef long long intptr_t;
typedef unsigned long long uintptr_t;
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fffffff)
"""

_WARNING = re.compile(r"\bwarning\b", re.I)


@dataclass(frozen=True)
class CudaImage:
    """NVRTC's output for one arch: ``cubin`` (SASS for ``arch``), ``ptx`` (text) and the
    compilation log (empty when it had nothing to say)."""

    arch: str
    cubin: bytes
    ptx: bytes
    log: str


def _import_nvrtc():
    """``cuda.bindings.nvrtc``; ToolchainError saying what to install when it is missing
    or cannot find the NVRTC library."""
    try:
        from cuda.bindings import nvrtc
    except ImportError:
        raise ToolchainError(MISSING_PACKAGES) from None
    return nvrtc


@functools.lru_cache(maxsize=None)
def nvrtc_version() -> tuple[int, int]:
    """The NVRTC release the bindings load, e.g. (13, 0); ToolchainError when the
    packages are missing or the library cannot be loaded."""
    nvrtc = _import_nvrtc()
    try:
        err, major, minor = nvrtc.nvrtcVersion()
    except Exception as exc:  # the bindings load libnvrtc lazily: a missing library shows here
        raise ToolchainError(f"{MISSING_PACKAGES}\n(loading NVRTC failed: {exc})") from None
    _check(nvrtc, err, "querying the NVRTC version", None)
    return int(major), int(minor)


def nvrtc_available() -> bool:
    """Whether NVRTC can be used (the bindings import and find the library)."""
    try:
        nvrtc_version()
    except ToolchainError:
        return False
    return True


def _check(nvrtc, err, what: str, log: str | None) -> None:
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        _, text = nvrtc.nvrtcGetErrorString(err)
        detail = f":\n{log}" if log else ""
        raise ToolchainError(f"{what} failed ({text.decode()}){detail}")


def _log(nvrtc, prog) -> str:
    err, size = nvrtc.nvrtcGetProgramLogSize(prog)
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS or size <= 1:
        return ""
    buf = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, buf)
    return buf.rstrip(b"\0").decode(errors="replace").strip()


def _result(nvrtc, prog, size_fn, get_fn, what: str) -> bytes:
    err, size = size_fn(prog)
    _check(nvrtc, err, what, None)
    buf = b" " * size
    (err,) = get_fn(prog, buf)
    _check(nvrtc, err, what, None)
    return buf


def nvrtc_options(arch: str, werror: bool = False) -> list[str]:
    """The NVRTC options compiling for ``arch``. NVRTC has no option making every
    front-end warning an error (only ``--diag-error=N`` per number): with ``werror``
    ptxas's warnings are errors here and :func:`compile_cuda` fails on a logged warning."""
    parse_arch(arch)
    return [f"--gpu-architecture={arch}", f"--pre-include={PRELUDE_NAME}",
            *(["--ptxas-options=--warning-as-error"] if werror else [])]


def compile_cuda(source: str, arch: str, werror: bool = False,
                 name: str = "kernels.cu") -> CudaImage:
    """Compile ``source`` (the generated .cu) for ``arch`` with NVRTC: SASS and PTX.
    Raises ToolchainError with NVRTC's log when it fails (with ``werror``, also when it
    warns), and the message of MISSING_PACKAGES when NVRTC is not installed."""
    nvrtc = _import_nvrtc()
    nvrtc_version()
    options = [o.encode() for o in nvrtc_options(arch, werror)]
    err, prog = nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 1,
                                         [PRELUDE.encode()], [PRELUDE_NAME.encode()])
    _check(nvrtc, err, "creating the NVRTC program", None)
    try:
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(options), options)
        log = _log(nvrtc, prog)
        what = f"compiling the generated CUDA for {arch} with NVRTC"
        _check(nvrtc, err, what, log)
        if werror and _WARNING.search(log):
            raise ToolchainError(f"{what} warned (warnings are errors):\n{log}")
        cubin = _result(nvrtc, prog, nvrtc.nvrtcGetCUBINSize, nvrtc.nvrtcGetCUBIN,
                        "reading NVRTC's cubin")
        ptx = _result(nvrtc, prog, nvrtc.nvrtcGetPTXSize, nvrtc.nvrtcGetPTX,
                      "reading NVRTC's PTX").rstrip(b"\0")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return CudaImage(arch, cubin, ptx, log)


def check_nvrtc_source(source: str, arch) -> None:
    """Compile ``source`` with NVRTC for ``arch`` ("sm_80" or a list), every warning an
    error (as ``check_cuda_source`` does with nvcc); the source is kept in a file named in
    the ToolchainError when it fails."""
    for a in [arch] if isinstance(arch, str) else list(arch):
        try:
            compile_cuda(source, a, werror=True)
        except ToolchainError as e:
            if MISSING_PACKAGES in str(e):
                raise
            with tempfile.NamedTemporaryFile("w", prefix="tc-kernels-", suffix=".cu",
                                             delete=False) as keep:
                keep.write(source)
            raise ToolchainError(f"{e}\n(the generated CUDA is kept in {keep.name})") from None
