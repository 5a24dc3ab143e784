/* Hand-written CUDA kernels standing in for tc/targets/cuda.py's output in the CUDA
 * artifact tests: host launchers with the CPU kernels' C signature taking DEVICE
 * pointers, launching on tc_cuda_stream() and checking each launch (the contract of
 * tc_cuda.h). The same kernels as sample_kernels.c (k_add, k_scale, k_relu over N
 * floats); k_bad_launch asks for more threads per block than any GPU has. */
#include "tc_cuda.h"

#ifndef N
#define N 1000
#endif

__global__ void __launch_bounds__(256) k_add_kernel0(const float *a, const float *b,
                                                      float *out) {
    int i = blockIdx.x * 256 + threadIdx.x;
    if (i < N)
        out[i] = a[i] + b[i];
}

__global__ void __launch_bounds__(256) k_scale_kernel0(const float *x, const float *w,
                                                        float *out) {
    int i = blockIdx.x * 256 + threadIdx.x;
    if (i < N)
        out[i] = x[i] * w[i];
}

__global__ void __launch_bounds__(256) k_relu_kernel0(const float *x, float *out) {
    int i = blockIdx.x * 256 + threadIdx.x;
    if (i < N)
        out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

extern "C" void k_add(void *p0, void *p1, void *p2) {
    k_add_kernel0<<<(N + 255) / 256, 256, 0, tc_cuda_stream()>>>(
        (const float *)p0, (const float *)p1, (float *)p2);
    TC_CUDA_CHECK_LAUNCH("k_add:kernel0");
}

extern "C" void k_scale(void *p0, void *p1, void *p2) {
    k_scale_kernel0<<<(N + 255) / 256, 256, 0, tc_cuda_stream()>>>(
        (const float *)p0, (const float *)p1, (float *)p2);
    TC_CUDA_CHECK_LAUNCH("k_scale:kernel0");
}

extern "C" void k_relu(void *p0, void *p1) {
    k_relu_kernel0<<<(N + 255) / 256, 256, 0, tc_cuda_stream()>>>((const float *)p0,
                                                                    (float *)p1);
    TC_CUDA_CHECK_LAUNCH("k_relu:kernel0");
}

extern "C" void k_bad_launch(void *p0, void *p1) {
    k_relu_kernel0<<<1, 4096, 0, tc_cuda_stream()>>>((const float *)p0, (float *)p1);
    TC_CUDA_CHECK_LAUNCH("k_bad_launch:kernel0");
}
