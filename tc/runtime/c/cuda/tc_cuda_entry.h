/* tc CUDA runtime: what the generated AOT entry of a CUDA artifact calls (plain C, no
 * CUDA headers: the entry is compiled as C by the host compiler).
 *
 * A CUDA artifact exports the model ABI of tc_runtime.h with inputs and outputs in HOST
 * memory, plus a device entry:
 *
 *   int tc_model_run(inputs, outputs, workspace)   host pointers; copies in, runs, copies
 *                                                  out, synchronizes. `workspace` is
 *                                                  unused: tc_model_workspace_bytes() is 0,
 *                                                  the device arena is the module's own.
 *   int tc_model_profile(..., step_seconds)         as tc_model_run, synchronizing after
 *                                                  each step to time it.
 *   int tc_model_run_device(inputs, outputs)       DEVICE pointers (on the module's
 *                                                  device), no copies; returns once the
 *                                                  outputs are written. The inputs must be
 *                                                  complete: the module's stream is
 *                                                  ordered after the legacy default stream
 *                                                  only (see tc_cuda_sync_stream).
 *   int tc_cuda_sync_stream(uintptr_t stream)      wait for a producer's stream (the
 *                                                  __cuda_array_interface__ convention:
 *                                                  1 legacy default, 2 per-thread default,
 *                                                  else a cudaStream_t).
 *   int tc_cuda_rerun(int times)                   run the kernels `times` more times on
 *                                                  the device copies of the last
 *                                                  tc_model_run's inputs and outputs,
 *                                                  then wait (for timing: tc-tune).
 *
 * Device state, per loaded artifact, set up on the FIRST run (so that loading needs no
 * GPU and no driver): the device is the one the first device input lives on, else the
 * calling thread's current device (device 0 unless the caller chose another); its
 * compute capability must suit the artifact's -arch (TC_CUDA_ARCH_* below); the
 * arena (the plan's workspace bytes) and the constants are allocated and uploaded once;
 * device buffers for host inputs and outputs are allocated on the first host run. A
 * first run that fails (no GPU, no driver, an arch mismatch) leaves nothing behind, and
 * the next run tries again. Kernels run in the device's primary context (the one the
 * CUDA runtime, torch and cupy use); device arrays allocated in another context (made
 * with cuCtxCreate) are not supported. After a kernel fault (a sticky error: the context
 * is lost) every later run fails naming that fault. Runs are serialized by a mutex.
 * Setting TC_CUDA_SYNC=1 in the environment synchronizes after every step, so that an
 * asynchronous kernel fault names its kernel. Everything is released when the library
 * is unloaded.
 */
#ifndef TC_CUDA_ENTRY_H
#define TC_CUDA_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "tc_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The plan's steps on device pointers: the generated entry's run_steps. */
typedef int (*tc_cuda_steps_fn)(const char *who, void *const *inputs, void *const *outputs,
                                void *workspace, double *seconds);

/* Which devices code built for compute capability X.Y runs on. */
enum {
    TC_CUDA_ARCH_OR_LATER = 0, /* sm_XY: X.Y or later (the driver compiles the PTX) */
    TC_CUDA_ARCH_EXACT = 1,    /* sm_XYa: exactly X.Y */
    TC_CUDA_ARCH_FAMILY = 2    /* sm_XYf: X.Z with Z >= Y */
};

/* An NVRTC build's kernels, embedded in the artifact and loaded through the driver API
   at the first run: SASS for the arch, and its PTX, which the driver compiles for a
   device the SASS cannot run on (as the PTX nvcc embeds beside the SASS). */
typedef struct tc_cuda_image {
    const unsigned char *cubin;
    size_t cubin_bytes;
    const char *ptx;                 /* NUL-terminated */
    int num_kernels;
    const char *const *kernel_names; /* tc_cuda_launch's `kernel` indexes these */
    int cuda_version;                /* of the NVRTC that built it: 1000 * major + 10 * minor */
} tc_cuda_image;

/* Everything the runtime needs to know about the model (a constant in the entry). */
typedef struct tc_cuda_model {
    const char *arch;             /* the -arch the kernels were built for, e.g. "sm_80" */
    int arch_major, arch_minor;   /* its compute capability */
    int arch_match;               /* TC_CUDA_ARCH_* */
    const void *constants;        /* host copy of the constants blob (NULL when none) */
    size_t constants_bytes;
    size_t arena_bytes;           /* the plan's workspace bytes */
    int num_inputs, num_outputs;
    const size_t *input_bytes, *output_bytes;
    const char *const *input_names, *const *output_names;
    tc_cuda_steps_fn run_steps;
    const tc_cuda_image *image;   /* NVRTC builds; NULL when nvcc linked the kernels in */
} tc_cuda_model;

/* Run with host inputs/outputs (step_seconds may be NULL). 0 on success, else 1 with
   tc_last_error set. */
int tc_cuda_run_host(const tc_cuda_model *model, const char *who, void *const *inputs,
                     void *const *outputs, double *step_seconds);
/* Run with device inputs/outputs. */
int tc_cuda_run_device(const tc_cuda_model *model, const char *who, void *const *inputs,
                       void *const *outputs);

/* Run the steps `times` more times on the device copies of the last host run's inputs and
   outputs, without copying, then wait (what tuning measures: the kernels' own time on
   the device, launches included). Fails when no host run came first. */
int tc_cuda_run_again(const tc_cuda_model *model, const char *who, int times);

/* For run_steps: the device address of the constants. */
const unsigned char *tc_cuda_constants(void);
/* For run_steps: device-to-device copy on the model's stream (a Copy step). */
void tc_cuda_copy(void *dst, const void *src, size_t nbytes);
/* For run_steps, after each step: 1 if the run failed (tc_last_error says why); with
   `synchronize` (profiling, or TC_CUDA_SYNC=1), waits for the step first. */
int tc_cuda_step_failed(const char *what, int synchronize);

/* For the C launchers of an NVRTC build: launch the image's kernel number `kernel` on the
   model's stream (no dynamic shared memory) with `args` (pointers to each argument, as
   cuLaunchKernel takes them); a failure is recorded against `what` ("FUNC:KERNEL"). */
void tc_cuda_launch(int kernel, const char *what, unsigned grid_x, unsigned grid_y,
                    unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                    void **args);

TC_EXPORT int tc_model_run_device(void *const *inputs, void *const *outputs);
TC_EXPORT int tc_cuda_sync_stream(uintptr_t stream);
TC_EXPORT int tc_cuda_rerun(int times);

#ifdef __cplusplus
}
#endif

#endif /* TC_CUDA_ENTRY_H */
