/* tc CUDA runtime, nvcc builds: the device-API layer (tc_cuda_device.h) over the CUDA
 * runtime API, linked statically, and what the generated launchers call (tc_cuda.h).
 * Host code only.
 */
#include <stdio.h>

#include "tc_cuda.h"
#include "tc_cuda_device.h"

static int caller_device = -1; /* the caller's current device, restored after the run */

/* Only the generated launchers call this (TC_CUDA_CHECK_LAUNCH). */
extern "C" void tc_cuda_fail(const char *what, cudaError_t err) {
    tc_cuda_failf(err, "launching %s", what);
}

extern "C" cudaStream_t tc_cuda_stream(void) {
    return (cudaStream_t)tc_cuda_current_stream();
}

extern "C" const char *tc_dev_error_name(tc_dev_error err) {
    return cudaGetErrorName((cudaError_t)err);
}

extern "C" const char *tc_dev_error_string(tc_dev_error err) {
    return cudaGetErrorString((cudaError_t)err);
}

extern "C" void tc_dev_no_device(tc_dev_error code) {
    cudaError_t err = code != 0 ? (cudaError_t)code : cudaErrorNoDevice;
    int driver = 0, runtime = 0;
    if (err == cudaErrorInsufficientDriver && cudaDriverGetVersion(&driver) == cudaSuccess &&
        driver > 0 && cudaRuntimeGetVersion(&runtime) == cudaSuccess)
        tc_set_error("no usable CUDA device (%s: %s): the NVIDIA driver supports CUDA %d.%d, "
                     "older than this artifact's CUDA runtime (%d.%d); update the driver, or "
                     "build for \"llvm\" to run on the CPU", cudaGetErrorName(err),
                     cudaGetErrorString(err), driver / 1000, driver % 1000 / 10,
                     runtime / 1000, runtime % 1000 / 10);
    else
        tc_set_error("no usable CUDA device (%s: %s): this artifact needs an NVIDIA GPU with "
                     "a driver; build for \"llvm\" to run on the CPU",
                     cudaGetErrorName(err), cudaGetErrorString(err));
}

extern "C" tc_dev_error tc_dev_count(int *count) {
    return cudaGetDeviceCount(count);
}

extern "C" tc_dev_error tc_dev_current(int *device) {
    return cudaGetDevice(device);
}

extern "C" tc_dev_error tc_dev_use(int device) {
    int current;
    if (caller_device < 0 && cudaGetDevice(&current) == cudaSuccess && current != device)
        caller_device = current;
    return cudaSetDevice(device);
}

extern "C" void tc_dev_restore(void) {
    if (caller_device >= 0)
        (void)cudaSetDevice(caller_device);
    caller_device = -1;
}

extern "C" tc_dev_error tc_dev_capability(int device, int *major, int *minor, char *name,
                                          size_t name_size) {
    cudaDeviceProp prop;
    cudaError_t err = cudaDeviceGetAttribute(major, cudaDevAttrComputeCapabilityMajor, device);
    if (err == cudaSuccess)
        err = cudaDeviceGetAttribute(minor, cudaDevAttrComputeCapabilityMinor, device);
    if (err == cudaSuccess)
        err = cudaGetDeviceProperties(&prop, device);
    if (err == cudaSuccess)
        snprintf(name, name_size, "%s", prop.name);
    return err;
}

extern "C" tc_dev_error tc_dev_malloc(void **ptr, size_t nbytes) {
    return cudaMalloc(ptr, nbytes);
}

extern "C" void tc_dev_free(void *ptr) {
    (void)cudaFree(ptr); /* cudaFree(NULL) is a no-op */
}

extern "C" tc_dev_error tc_dev_upload(void *dst, const void *src, size_t nbytes) {
    return cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice);
}

extern "C" tc_dev_error tc_dev_copy_async(void *dst, const void *src, size_t nbytes,
                                          int direction, void *stream) {
    cudaMemcpyKind kind = direction == TC_DEV_HOST_TO_DEVICE ? cudaMemcpyHostToDevice
                        : direction == TC_DEV_DEVICE_TO_HOST ? cudaMemcpyDeviceToHost
                        : cudaMemcpyDeviceToDevice;
    return cudaMemcpyAsync(dst, src, nbytes, kind, (cudaStream_t)stream);
}

extern "C" tc_dev_error tc_dev_stream_create(void **stream) {
    return cudaStreamCreate((cudaStream_t *)stream);
}

extern "C" void tc_dev_stream_destroy(void *stream) {
    (void)cudaStreamDestroy((cudaStream_t)stream);
}

extern "C" tc_dev_error tc_dev_stream_sync(void *stream) {
    return cudaStreamSynchronize((cudaStream_t)stream);
}

extern "C" tc_dev_error tc_dev_pointer(const void *ptr, int *memory, int *device) {
    cudaPointerAttributes attr;
    cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
    if (err != cudaSuccess)
        return err;
    *memory = attr.type == cudaMemoryTypeUnregistered ? TC_MEM_UNREGISTERED
            : attr.type == cudaMemoryTypeHost ? TC_MEM_HOST
            : attr.type == cudaMemoryTypeDevice ? TC_MEM_DEVICE : TC_MEM_MANAGED;
    *device = attr.device;
    return 0;
}

extern "C" void tc_dev_clear(void) {
    (void)cudaGetLastError();
}

/* The kernels are linked into the artifact: the CUDA runtime loads them itself. */
extern "C" tc_dev_error tc_dev_load(const tc_cuda_model *model, const char **what) {
    (void)model;
    (void)what;
    return 0;
}

extern "C" void tc_dev_unload(void) {
}

/* The CUDA runtime holds the primary context itself. */
extern "C" void tc_dev_release(void) {
}
