/* tc CUDA runtime: the device state of one loaded CUDA artifact and the runs over it.
 *
 * Linked into every CUDA artifact with one device-API layer (tc_cuda_device.h: the CUDA
 * runtime for nvcc builds, the driver API for NVRTC builds); its symbols are local to
 * the artifact, so each loaded artifact has its own state. See tc_cuda_entry.h for the
 * life cycle (set up on the first run, released at unload). Host code only, plain C.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc_cuda_device.h"

#define TC_CUDA_ALIGN ((size_t)256)

typedef struct {
    int ready;
    int device;
    int sync_steps;            /* TC_CUDA_SYNC=1: synchronize after every step */
    int release_registered;
    int loaded;                /* tc_dev_load succeeded */
    void *stream;
    char *memory;              /* the arena, then the constants */
    char *arena;
    char *constants;
    char *io;                  /* device copies of host inputs and outputs */
    void **io_inputs, **io_outputs;
} tc_cuda_state;

static tc_cuda_state state;
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static int run_failed; /* the running run has recorded an error (guarded by run_lock) */
/* A kernel fault left the context unusable (a sticky error): what it was, reported by
   every later run instead of an error blamed on whatever step meets it next. */
static char context_lost[512];

static size_t round_up(size_t n) {
    return (n + TC_CUDA_ALIGN - 1) / TC_CUDA_ALIGN * TC_CUDA_ALIGN;
}

void tc_cuda_failf(tc_dev_error err, const char *fmt, ...) {
    char what[512];
    va_list args;
    if (!run_failed) {
        va_start(args, fmt);
        vsnprintf(what, sizeof what, fmt, args);
        va_end(args);
        tc_set_error("%s: %s: %s", what, tc_dev_error_name(err), tc_dev_error_string(err));
        if (tc_dev_error_is_sticky(err) && context_lost[0] == '\0')
            snprintf(context_lost, sizeof context_lost, "%s: %s", what,
                     tc_dev_error_name(err));
    }
    run_failed = 1;
    tc_dev_clear(); /* a non-sticky error must not resurface at the next launch */
}

void *tc_cuda_current_stream(void) {
    return state.stream;
}

const unsigned char *tc_cuda_constants(void) {
    return (const unsigned char *)state.constants;
}

static void release_state(void) {
    if (state.memory != NULL || state.io != NULL || state.stream != NULL || state.loaded)
        (void)tc_dev_use(state.device);
    tc_dev_unload(); /* also what a failed first run may have taken */
    if (state.stream != NULL)
        tc_dev_stream_destroy(state.stream);
    tc_dev_free(state.memory);
    tc_dev_free(state.io);
    tc_dev_release(); /* the context last: the stream and memory above live in it */
    free(state.io_inputs);
    free(state.io_outputs);
    int registered = state.release_registered;
    memset(&state, 0, sizeof state);
    state.release_registered = registered;
    tc_dev_restore();
    tc_dev_clear();
}

/* Release the device memory before the CUDA runtime tears itself down: registered after
   the runtime's first call, so it runs before the runtime's own exit handler (at exit,
   and at dlclose since atexit in a shared library is tied to it). */
static void release_at_exit(void) {
    release_state();
}

static int no_device(tc_dev_error err) {
    tc_dev_no_device(err);
    run_failed = 1;
    tc_dev_clear();
    return 1;
}

static int check_arch(const tc_cuda_model *m, int device) {
    int major = 0, minor = 0, same_major, ok;
    char name[256] = "";
    tc_dev_error err = tc_dev_capability(device, &major, &minor, name, sizeof name);
    if (err != 0) {
        tc_cuda_failf(err, "querying CUDA device %d", device);
        return 1;
    }
    /* SASS for X.Y runs on X.Z (Z >= Y) and the embedded PTX is compiled by the driver
       for any later device; arch-specific (sm_XYa) code runs on X.Y only, family code
       (sm_XYf) on X.Z. */
    same_major = major == m->arch_major;
    switch (m->arch_match) {
    case TC_CUDA_ARCH_EXACT:
        ok = same_major && minor == m->arch_minor;
        break;
    case TC_CUDA_ARCH_FAMILY:
        ok = same_major && minor >= m->arch_minor;
        break;
    default:
        ok = major > m->arch_major || (same_major && minor >= m->arch_minor);
    }
    if (!ok) {
        tc_set_error("CUDA arch mismatch: this artifact was built for %s, but CUDA device %d "
                     "(%s) is sm_%d%d; rebuild it for target \"cuda -arch=sm_%d%d\"",
                     m->arch, device, name, major, minor, major, minor);
        run_failed = 1;
        return 1;
    }
    return 0;
}

/* Pick the device (`device`, or the current one when negative), check it and set up
   the arena, constants, stream and kernels once; afterwards only make the device
   current. */
static int prepare(const tc_cuda_model *m, int device) {
    int count = 0;
    size_t arena = round_up(m->arena_bytes), total = arena + round_up(m->constants_bytes);
    const char *what = "loading the kernels";
    const char *sync;
    tc_dev_error err;
    if (context_lost[0] != '\0') {
        tc_set_error("an earlier kernel fault in this process (%s) left its CUDA context "
                     "unusable: every later CUDA call fails; restart the process (run with "
                     "TC_CUDA_SYNC=1 to name the faulting kernel)", context_lost);
        run_failed = 1;
        return 1;
    }
    if (state.ready) {
        err = tc_dev_use(state.device);
        if (err != 0)
            tc_cuda_failf(err, "selecting CUDA device %d", state.device);
        return err != 0;
    }
    err = tc_dev_count(&count);
    if (err != 0 || count <= 0)
        return no_device(err);
    if (!state.release_registered && atexit(release_at_exit) == 0)
        state.release_registered = 1;
    if (device < 0 && (err = tc_dev_current(&device)) != 0) {
        tc_cuda_failf(err, "querying the current CUDA device");
        return 1;
    }
    if ((err = tc_dev_use(device)) != 0) {
        tc_cuda_failf(err, "selecting CUDA device %d", device);
        return 1;
    }
    if (check_arch(m, device))
        return 1;
    state.device = device;
    if (total > 0 && (err = tc_dev_malloc((void **)&state.memory, total)) != 0) {
        tc_cuda_failf(err, "allocating %zu bytes of device memory (arena %zu, constants %zu) "
                      "on CUDA device %d", total, m->arena_bytes, m->constants_bytes, device);
        release_state();
        return 1;
    }
    state.arena = m->arena_bytes > 0 ? state.memory : NULL;
    state.constants = state.memory + arena;
    if (m->constants_bytes > 0 &&
        (err = tc_dev_upload(state.constants, m->constants, m->constants_bytes)) != 0) {
        tc_cuda_failf(err, "uploading %zu bytes of constants to CUDA device %d",
                      m->constants_bytes, device);
        release_state();
        return 1;
    }
    if ((err = tc_dev_stream_create(&state.stream)) != 0) {
        tc_cuda_failf(err, "creating a CUDA stream on device %d", device);
        release_state();
        return 1;
    }
    if ((err = tc_dev_load(m, &what)) != 0) {
        tc_cuda_failf(err, "%s on CUDA device %d", what, device);
        release_state();
        return 1;
    }
    state.loaded = 1;
    sync = getenv("TC_CUDA_SYNC");
    state.sync_steps = sync != NULL && sync[0] != '\0' && strcmp(sync, "0") != 0;
    state.ready = 1;
    return 0;
}

/* Device buffers for the host inputs and outputs (first host run only). */
static int prepare_io(const tc_cuda_model *m) {
    size_t total = TC_CUDA_ALIGN, at = 0; /* never NULL, even for zero-byte tensors */
    tc_dev_error err;
    int i;
    if (state.io != NULL)
        return 0;
    for (i = 0; i < m->num_inputs; i++)
        total += round_up(m->input_bytes[i]);
    for (i = 0; i < m->num_outputs; i++)
        total += round_up(m->output_bytes[i]);
    free(state.io_inputs); /* from an earlier attempt that could not allocate state.io */
    free(state.io_outputs);
    state.io_inputs = (void **)calloc((size_t)m->num_inputs + 1, sizeof(void *));
    state.io_outputs = (void **)calloc((size_t)m->num_outputs + 1, sizeof(void *));
    if (state.io_inputs == NULL || state.io_outputs == NULL) {
        tc_set_error("out of host memory");
        run_failed = 1;
        return 1;
    }
    if ((err = tc_dev_malloc((void **)&state.io, total)) != 0) {
        tc_cuda_failf(err, "allocating %zu bytes of device memory for the inputs and outputs",
                      total);
        return 1;
    }
    for (i = 0; i < m->num_inputs; i++) {
        state.io_inputs[i] = state.io + at;
        at += round_up(m->input_bytes[i]);
    }
    for (i = 0; i < m->num_outputs; i++) {
        state.io_outputs[i] = state.io + at;
        at += round_up(m->output_bytes[i]);
    }
    return 0;
}

static int check_pointers(const char *who, const char *kind, int n, void *const *ptrs,
                          const char *const *names) {
    int i;
    if (n > 0 && ptrs == NULL) {
        tc_set_error("%s: the %ss array is NULL", who, kind);
        return 1;
    }
    for (i = 0; i < n; i++) {
        if (ptrs[i] == NULL) {
            tc_set_error("%s: %s %d ('%s') is NULL", who, kind, i, names[i]);
            return 1;
        }
    }
    return 0;
}

static int check_args(const tc_cuda_model *m, const char *who, void *const *inputs,
                      void *const *outputs) {
    return check_pointers(who, "input", m->num_inputs, inputs, m->input_names) ||
           check_pointers(who, "output", m->num_outputs, outputs, m->output_names);
}

/* Device pointers must be CUDA memory the model's device can use. */
static int check_device_memory(const char *who, const char *kind, int n, void *const *ptrs,
                               const size_t *bytes, const char *const *names) {
    int i;
    for (i = 0; i < n; i++) {
        int memory = TC_MEM_UNREGISTERED, device = -1;
        tc_dev_error err;
        if (bytes[i] == 0)
            continue; /* never dereferenced */
        if ((err = tc_dev_pointer(ptrs[i], &memory, &device)) != 0) {
            tc_cuda_failf(err, "%s: inspecting %s %d ('%s')", who, kind, i, names[i]);
            return 1;
        }
        if (memory == TC_MEM_UNREGISTERED) {
            tc_set_error("%s: %s %d ('%s') is not CUDA memory (a host pointer?): pass device "
                         "pointers here, host arrays to tc_model_run", who, kind, i, names[i]);
            return 1;
        }
        if (memory == TC_MEM_DEVICE && device != state.device) {
            tc_set_error("%s: %s %d ('%s') is on CUDA device %d, but this model runs on "
                         "device %d (chosen at its first run)", who, kind, i, names[i],
                         device, state.device);
            return 1;
        }
    }
    return 0;
}

/* The device a pointer lives on, or -1 if the runtime cannot tell (then prepare uses
   the current device, or reports why CUDA is unusable). */
static int device_of(const void *ptr) {
    int memory = TC_MEM_UNREGISTERED, device = -1;
    if (tc_dev_pointer(ptr, &memory, &device) != 0) {
        tc_dev_clear();
        return -1;
    }
    return memory == TC_MEM_DEVICE ? device : -1;
}

/* Wait for the stream; 1 (with the error recorded against `what`) if its work failed. */
static int wait_for(const char *what) {
    tc_dev_error err = tc_dev_stream_sync(state.stream);
    if (err != 0) {
        tc_cuda_failf(err, "%s", what);
        return 1;
    }
    return 0;
}

/* Wait for the run's work; a failure the launches could not see is reported here. */
static int finish(int status) {
    if (state.ready) {
        tc_dev_error err = tc_dev_stream_sync(state.stream);
        if (status == 0 && err != 0) {
            tc_cuda_failf(err, "%s", state.sync_steps ? "synchronizing after the last step"
                          : "running the model's kernels (an asynchronous error; run with "
                            "TC_CUDA_SYNC=1 to name the kernel)");
            status = 1;
        }
    }
    tc_dev_restore();
    return status;
}

static int copy_in(const tc_cuda_model *m, void *const *inputs) {
    int i;
    for (i = 0; i < m->num_inputs; i++) {
        tc_dev_error err = tc_dev_copy_async(state.io_inputs[i], inputs[i], m->input_bytes[i],
                                             TC_DEV_HOST_TO_DEVICE, state.stream);
        if (err != 0) {
            tc_cuda_failf(err, "copying input %d ('%s') to the device", i, m->input_names[i]);
            return 1;
        }
    }
    return 0;
}

static int copy_out(const tc_cuda_model *m, void *const *outputs) {
    int i;
    for (i = 0; i < m->num_outputs; i++) {
        tc_dev_error err = tc_dev_copy_async(outputs[i], state.io_outputs[i],
                                             m->output_bytes[i], TC_DEV_DEVICE_TO_HOST,
                                             state.stream);
        if (err != 0) {
            tc_cuda_failf(err, "copying output %d ('%s') from the device", i,
                          m->output_names[i]);
            return 1;
        }
    }
    return 0;
}

int tc_cuda_run_host(const tc_cuda_model *m, const char *who, void *const *inputs,
                     void *const *outputs, double *step_seconds) {
    int status;
    pthread_mutex_lock(&run_lock);
    tc_clear_error();
    run_failed = 0;
    status = check_args(m, who, inputs, outputs) || prepare(m, -1) || prepare_io(m) ||
             copy_in(m, inputs);
    if (status == 0 && step_seconds != NULL) /* the first step's time is its own */
        status = wait_for("copying the inputs to the device");
    if (status == 0)
        status = m->run_steps(who, state.io_inputs, state.io_outputs, state.arena, step_seconds);
    if (status == 0)
        status = copy_out(m, outputs);
    status = finish(status);
    pthread_mutex_unlock(&run_lock);
    return status;
}

int tc_cuda_run_device(const tc_cuda_model *m, const char *who, void *const *inputs,
                       void *const *outputs) {
    int status;
    pthread_mutex_lock(&run_lock);
    tc_clear_error();
    run_failed = 0;
    status = check_args(m, who, inputs, outputs);
    if (status == 0)
        status = prepare(m, state.ready || m->num_inputs == 0 ? -1 : device_of(inputs[0]));
    if (status == 0)
        status = check_device_memory(who, "input", m->num_inputs, inputs, m->input_bytes,
                                     m->input_names) ||
                 check_device_memory(who, "output", m->num_outputs, outputs, m->output_bytes,
                                     m->output_names);
    if (status == 0)
        status = m->run_steps(who, inputs, outputs, state.arena, NULL);
    status = finish(status);
    pthread_mutex_unlock(&run_lock);
    return status;
}

int tc_cuda_run_again(const tc_cuda_model *m, const char *who, int times) {
    int status, i;
    pthread_mutex_lock(&run_lock);
    tc_clear_error();
    run_failed = 0;
    if (!state.ready || state.io == NULL) {
        tc_set_error("%s: no host run came first: it runs on the device copies of the last "
                     "tc_model_run's inputs (call tc_model_run once)", who);
        status = 1;
    } else if (times < 0) {
        tc_set_error("%s: times is %d, not a count", who, times);
        status = 1;
    } else {
        status = prepare(m, -1);
    }
    for (i = 0; status == 0 && i < times; i++)
        status = m->run_steps(who, state.io_inputs, state.io_outputs, state.arena, NULL);
    status = finish(status);
    pthread_mutex_unlock(&run_lock);
    return status;
}

void tc_cuda_copy(void *dst, const void *src, size_t nbytes) {
    tc_dev_error err;
    if (nbytes == 0)
        return;
    err = tc_dev_copy_async(dst, src, nbytes, TC_DEV_DEVICE_TO_DEVICE, state.stream);
    if (err != 0)
        tc_cuda_failf(err, "copying %zu bytes on the device", nbytes);
}

int tc_cuda_step_failed(const char *what, int synchronize) {
    char running[256];
    if (run_failed)
        return 1;
    if (!synchronize && !state.sync_steps)
        return 0;
    snprintf(running, sizeof running, "running %s", what);
    return wait_for(running);
}

int tc_cuda_sync_stream(uintptr_t stream) {
    /* the numbers are those of cudaStreamLegacy/CU_STREAM_LEGACY and the per-thread
       default stream's handles, which name a stream of the CURRENT context: the model's
       device (or the caller's current one before the first run) is made current first */
    int device, count = 0;
    tc_dev_error err = 0;
    pthread_mutex_lock(&run_lock);
    tc_clear_error();
    device = state.device;
    /* the count first: it opens and initializes the driver */
    if (!state.ready && (err = tc_dev_count(&count)) == 0)
        err = tc_dev_current(&device);
    if (err == 0)
        err = tc_dev_use(device);
    if (err == 0)
        err = tc_dev_stream_sync((void *)stream);
    if (err != 0) {
        tc_set_error("waiting for the inputs' CUDA stream: %s: %s", tc_dev_error_name(err),
                     tc_dev_error_string(err));
        tc_dev_clear();
    }
    tc_dev_restore();
    pthread_mutex_unlock(&run_lock);
    return err != 0;
}

int tc_dev_error_is_sticky(tc_dev_error err) {
    /* illegal address, launch timeout, hardware stack error, illegal instruction,
       misaligned address, invalid address space, invalid PC, launch failure (a fault
       in a kernel), in cudaError_t and CUresult alike */
    return err == 700 || err == 702 || (err >= 714 && err <= 719);
}
