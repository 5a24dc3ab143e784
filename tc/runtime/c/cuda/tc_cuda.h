#ifndef TC_CUDA_H
#define TC_CUDA_H
#include <cuda_runtime.h>
#ifdef __cplusplus
extern "C" {
#endif
/* Record that `what` failed with `err`; the AOT entry stops and reports it. */
void tc_cuda_fail(const char *what, cudaError_t err);
/* The stream every kernel of the running model is launched on. */
cudaStream_t tc_cuda_stream(void);
#ifdef __cplusplus
}
#endif
#define TC_CUDA_CHECK_LAUNCH(what) do { cudaError_t e_ = cudaGetLastError(); \
    if (e_ != cudaSuccess) tc_cuda_fail((what), e_); } while (0)
#endif
