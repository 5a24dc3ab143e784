/* tc CUDA runtime: the thin device-API layer under the life cycle (tc_cuda_runtime.c).
 *
 * The life cycle (first-run setup, arena/constants/io buffers, error recording, runs) is
 * one piece of C; each build of a CUDA artifact links it with one implementation of the
 * functions below:
 *   tc_cuda_cudart.cu  the CUDA runtime API (nvcc builds; cudart linked statically);
 *   tc_cuda_driver.c   the driver API through dlopen("libcuda.so.1") at the first run
 *                      (NVRTC builds: no CUDA headers, no driver needed to build or load),
 *                      which also loads the embedded kernel image and launches from it.
 * Errors are the API's own codes (cudaError_t or CUresult), 0 meaning success. Plain C.
 */
#ifndef TC_CUDA_DEVICE_H
#define TC_CUDA_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "tc_cuda_entry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef int tc_dev_error;

enum { TC_DEV_HOST_TO_DEVICE, TC_DEV_DEVICE_TO_HOST, TC_DEV_DEVICE_TO_DEVICE };
/* What memory a pointer is (the life cycle checks a device run's pointers). */
enum { TC_MEM_UNREGISTERED, TC_MEM_HOST, TC_MEM_DEVICE, TC_MEM_MANAGED };

const char *tc_dev_error_name(tc_dev_error err);
const char *tc_dev_error_string(tc_dev_error err);
/* Record why no device can run the model (err from tc_dev_count, or the API's "no
   device" error when the count is 0), naming what to do. */
void tc_dev_no_device(tc_dev_error err);
tc_dev_error tc_dev_count(int *count);
tc_dev_error tc_dev_current(int *device);
/* Make `device` current for the run; tc_dev_restore gives the caller back its own. */
tc_dev_error tc_dev_use(int device);
void tc_dev_restore(void);
tc_dev_error tc_dev_capability(int device, int *major, int *minor, char *name,
                               size_t name_size);
tc_dev_error tc_dev_malloc(void **ptr, size_t nbytes);
void tc_dev_free(void *ptr); /* NULL: nothing */
tc_dev_error tc_dev_upload(void *dst, const void *src, size_t nbytes);
tc_dev_error tc_dev_copy_async(void *dst, const void *src, size_t nbytes, int direction,
                               void *stream);
tc_dev_error tc_dev_stream_create(void **stream);
void tc_dev_stream_destroy(void *stream);
/* Wait for `stream`; (void *)1 and (void *)2 are the legacy and per-thread default
   streams (as both APIs and the __cuda_array_interface__ number them). */
tc_dev_error tc_dev_stream_sync(void *stream);
tc_dev_error tc_dev_pointer(const void *ptr, int *memory, int *device);
/* Forget a non-sticky error so that it does not resurface at the next call. */
void tc_dev_clear(void);
/* Make the model's kernels launchable on the current device (after the stream is made);
   `what` is set to what failed. tc_dev_unload undoes it (it may run when nothing was
   loaded); tc_dev_release then lets go of the device itself (the driver layer's primary
   context reference), after the stream and memory made in it are freed. */
tc_dev_error tc_dev_load(const tc_cuda_model *model, const char **what);
void tc_dev_unload(void);
void tc_dev_release(void);

/* From the life cycle, for the layers: */
/* Record "<what>: <error name>: <error string>" unless the run already failed. */
void tc_cuda_failf(tc_dev_error err, const char *fmt, ...) TC_PRINTF_LIKE(2, 3);
/* The running model's stream. */
void *tc_cuda_current_stream(void);
/* Whether `err` leaves the context unusable (a fault in a kernel: every later call of
   the process fails with it). The codes are the same in both APIs. */
int tc_dev_error_is_sticky(tc_dev_error err);

#ifdef __cplusplus
}
#endif

#endif /* TC_CUDA_DEVICE_H */
