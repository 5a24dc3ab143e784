"""tc on the GPU against the GPU's measured limits, without torch.

    python benchmarks/cuda_peak.py [--gemm 1024,2048,4096,8192] [--models bert_layer]
                                   [--arch sm_90] [--tuning-log tune.jsonl]

The limits are measured by two kernels built here with nvcc: fp32 FMA throughput (eight
independent FMA chains per thread, every SM busy) and device-memory bandwidth (a float4
copy of 256 MiB, read + write).  tc's kernels are timed on the device copies of one
checked host run (``tc_cuda_rerun``: the kernels again, no host copies, a wait at the
end), as ``tc-tune`` times candidates; medians of ``--repeat`` runs of at least 50 ms.
GEMMs are ``C = A @ B`` on n x n float32 matrices (checked against numpy up to n =
2048), reported as TFLOP/s and as a share of the FMA peak; models as milliseconds.
With ``--tuning-log`` each is also built with the log and timed in turn (tuned / tc).

``cuda_vs_torch.py`` compares with cuBLAS/cuDNN through torch instead, where a CUDA build
of torch is installed; this one needs only nvcc, the driver and tc.  Without a GPU it
says so and measures nothing.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from cuda_vs_torch import TUNED_HEADER, tuned_columns  # noqa: E402

_PEAK_CU = r"""
#include <cuda_runtime.h>
#include <stdio.h>

#define CHAINS(s) s(0) s(1) s(2) s(3) s(4) s(5) s(6) s(7)
__global__ void fma_kernel(float *out, int iters, float x, float y) {
#define INIT(i) float a##i = threadIdx.x + i;
#define STEP(i) a##i = fmaf(a##i, x, y);
#define SUM(i) + a##i
    CHAINS(INIT)
    for (int k = 0; k < iters; ++k) {
        CHAINS(STEP)
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = 0.0f CHAINS(SUM);
}

__global__ void copy_kernel(float4 *dst, const float4 *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

/* best-of-`runs` milliseconds of `launch` */
#define TIMED(runs, launch, best)                                           \
    do {                                                                    \
        for (int r = 0; r < (runs); ++r) {                                  \
            float ms = 0.0f;                                                \
            cudaEventRecord(t0);                                            \
            launch;                                                         \
            cudaEventRecord(t1);                                            \
            cudaEventSynchronize(t1);                                       \
            cudaEventElapsedTime(&ms, t0, t1);                              \
            if (r == 0 || ms < (best)) (best) = ms;                         \
        }                                                                   \
    } while (0)

extern "C" int tc_peak(int device, double *fma_tflops, double *copy_gbps, char *name,
                       int name_size, char *error, int error_size) {
    cudaDeviceProp prop;
    cudaError_t err = cudaSetDevice(device);
    if (err == cudaSuccess) err = cudaGetDeviceProperties(&prop, device);
    if (err != cudaSuccess) {
        snprintf(error, error_size, "%s: %s", cudaGetErrorName(err), cudaGetErrorString(err));
        return 1;
    }
    snprintf(name, name_size, "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
             prop.multiProcessorCount);
    const int threads = 256, blocks = prop.multiProcessorCount * 16, iters = 8192;
    const size_t n4 = (256u << 20) / sizeof(float4);
    float *out = NULL, best_fma = 0.0f, best_copy = 0.0f;
    float4 *a = NULL, *b = NULL;
    cudaEvent_t t0, t1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    cudaMalloc(&out, (size_t)blocks * threads * sizeof(float));
    cudaMalloc(&a, n4 * sizeof(float4));
    cudaMalloc(&b, n4 * sizeof(float4));
    cudaMemset(a, 0, n4 * sizeof(float4));
    TIMED(5, (fma_kernel<<<blocks, threads>>>(out, iters, 0.999999f, 1e-7f)), best_fma);
    TIMED(10, (copy_kernel<<<prop.multiProcessorCount * 8, 512>>>(b, a, n4)), best_copy);
    err = cudaDeviceSynchronize();
    cudaFree(out);
    cudaFree(a);
    cudaFree(b);
    if (err != cudaSuccess) {
        snprintf(error, error_size, "%s: %s", cudaGetErrorName(err), cudaGetErrorString(err));
        return 1;
    }
    *fma_tflops = 2.0 * 8 * iters * (double)blocks * threads / (best_fma * 1e-3) / 1e12;
    *copy_gbps = 2.0 * n4 * sizeof(float4) / (best_copy * 1e-3) / 1e9;
    return 0;
}
"""


def measured_peak(arch: str | None) -> tuple[str, float, float]:
    """(device description, fp32 FMA TFLOP/s, copy GB/s) of CUDA device 0; exits saying
    why when nvcc or a usable GPU is missing."""
    from tc.compiler.cuda_artifact import find_nvcc
    from tc.runtime.toolchain import ToolchainError
    from tc.targets.target import Target

    try:
        nvcc = find_nvcc()
    except ToolchainError as e:
        sys.exit(f"cuda_peak: {e}; nothing measured")
    with tempfile.TemporaryDirectory() as tmp:
        cu, so = os.path.join(tmp, "peak.cu"), os.path.join(tmp, "peak.so")
        with open(cu, "w") as f:
            f.write(_PEAK_CU)
        subprocess.run([nvcc, "-O3", "-shared", "-Xcompiler", "-fPIC", "-cudart", "static",
                        f"-arch={arch or Target.parse('cuda').cuda_arch}", cu, "-o", so],
                       check=True)
        lib = ctypes.CDLL(so)
        fma, copy = ctypes.c_double(), ctypes.c_double()
        name, error = ctypes.create_string_buffer(256), ctypes.create_string_buffer(256)
        if lib.tc_peak(0, ctypes.byref(fma), ctypes.byref(copy), name, 256, error, 256):
            sys.exit(f"cuda_peak: no usable CUDA device ({error.value.decode()}); "
                     "nothing measured")
        return name.value.decode(), fma.value, copy.value


class DeviceTimer:
    """Times a CUDA module's kernels on the device copies of its last host run."""

    def __init__(self, module):
        self.lib = ctypes.CDLL(str(module.path))  # the module's own loaded library
        self.lib.tc_cuda_rerun.argtypes = [ctypes.c_int]
        self.lib.tc_last_error.restype = ctypes.c_char_p

    def run(self, times: int) -> float:
        t0 = time.perf_counter()
        if self.lib.tc_cuda_rerun(times) != 0:
            raise RuntimeError(self.lib.tc_last_error().decode())
        return time.perf_counter() - t0

    def calibrate(self, min_seconds: float = 0.05) -> int:
        """Calls per timed run so that one lasts ``min_seconds``."""
        self.run(1)
        once = min(self.run(1) for _ in range(3))
        return max(1, int(min_seconds / max(once, 1e-6)) + 1)


def interleaved_device_medians(timers: dict, repeat: int) -> dict[str, float]:
    """Median seconds per call of each DeviceTimer, taking turns run by run."""
    numbers = {k: t.calibrate() for k, t in timers.items()}
    costs: dict[str, list[float]] = {k: [] for k in timers}
    for r in range(repeat):
        for name in (list(timers) if r % 2 == 0 else list(timers)[::-1]):
            costs[name].append(timers[name].run(numbers[name]) / numbers[name])
    return {k: statistics.median(v) for k, v in costs.items()}


def _matmul_model(n: int):
    from onnx import TensorProto, helper

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "gemm",
                              [a, b], [c])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _modules(model, target: str, tuning_log: str | None) -> dict:
    import tc

    built = {"tc": tc.compile(model, target=target)}
    if tuning_log:
        built["tuned"] = tc.compile(model, target=target, tuning_log=tuning_log)
    return built


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gemm", default="1024,2048,4096,8192")
    ap.add_argument("--models", default="bert_layer", help="synthetic_models.py names")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--arch", default=None, help="e.g. sm_90 (default: the device's)")
    ap.add_argument("--tuning-log", default=None)
    args = ap.parse_args()
    device, fma_peak, copy_peak = measured_peak(args.arch)
    target = "cuda" + (f" -arch={args.arch}" if args.arch else "")
    print(f"device: {device}; measured fp32 FMA peak {fma_peak:.1f} TFLOP/s, copy "
          f"{copy_peak:.0f} GB/s; target {target!r}")
    rng = np.random.default_rng(0)

    tuned = TUNED_HEADER if args.tuning_log else ""
    print(f"\n{'GEMM n':>8} {'tc ms':>9} {'TFLOP/s':>8} {'of peak':>8} {'max rel diff':>12}"
          f"{tuned}")
    for n in [int(v) for v in args.gemm.split(",") if v]:
        a, b = (rng.uniform(-1, 1, (n, n)).astype(np.float32) for _ in range(2))
        modules = _modules(_matmul_model(n), target, args.tuning_log)
        diff = float("nan")
        for mod in modules.values():
            c = mod.run([a, b])[0]  # the host run whose device copies the timing reuses
            if n <= 2048:
                want = a.astype(np.float64) @ b.astype(np.float64)
                diff = max(0.0 if diff != diff else diff,
                           float(np.abs(c - want).max() / np.abs(want).max()))
        t = interleaved_device_medians({k: DeviceTimer(m) for k, m in modules.items()},
                                       args.repeat)
        tflops = 2.0 * n ** 3 / t["tc"] / 1e12
        print(f"{n:>8} {t['tc'] * 1e3:>9.3f} {tflops:>8.2f} {tflops / fma_peak:>8.1%} "
              f"{diff:>12.1e}{tuned_columns(t)}")

    from synthetic_models import SYNTHETIC_MODELS

    print(f"\n{'model':>12} {'tc ms':>9}{tuned}")
    for name in [m for m in args.models.split(",") if m]:
        model = SYNTHETIC_MODELS[name]()
        modules = _modules(model, target, args.tuning_log)
        inputs = [rng.standard_normal([d.dim_value for d in i.type.tensor_type.shape.dim])
                  .astype(np.float32) for i in model.graph.input]
        for mod in modules.values():
            mod.run(inputs)
        t = interleaved_device_medians({k: DeviceTimer(m) for k, m in modules.items()},
                                       args.repeat)
        print(f"{name:>12} {t['tc'] * 1e3:>9.3f}{tuned_columns(t)}")


if __name__ == "__main__":
    main()
