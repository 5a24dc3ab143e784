/* A fake CUDA driver (libcuda.so.1) for testing NVRTC-built artifacts without a GPU: the
 * driver-API subset tc_cuda_driver.c uses, over host memory (allocations are malloc,
 * copies memcpy, streams do nothing), one device of compute capability
 * $TC_FAKE_CUDA_ARCH ("80" by default). cuModuleLoadData accepts a cubin (an ELF image);
 * cuLaunchKernel runs the named kernel on the CPU through the first of the CUDA emulator
 * libraries listed in $TC_FAKE_CUDA_KERNELS (':'-separated) that knows its name
 * (tests/targets/cuda_emulator.py: tc_emu_launch_by_name).
 * Every call is counted in fake_calls, for the tests to read through ctypes.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void *CUhandle;

enum { OK = 0, INVALID_VALUE = 1, INVALID_IMAGE = 200, INVALID_CONTEXT = 201,
       UNSUPPORTED_PTX = 222, NOT_FOUND = 500, LAUNCH_FAILED = 719 };

typedef struct { char name[256]; } fake_function;
typedef int (*launch_fn)(const char *, unsigned, unsigned, unsigned, unsigned, unsigned,
                         unsigned, void **);

int fake_calls, fake_launches, fake_modules, fake_allocations;
/* calls on memory or streams after the primary context's last reference was released
   (the real driver has reset the context by then: their handles are stale) */
int fake_stale_calls;
static int primary_refs;
static __thread CUhandle current;
static int primary_context; /* its address is the context handle */
static int stream_object;
enum { MAX_LIBRARIES = 256 };
static launch_fn launchers[MAX_LIBRARIES];
static int num_launchers;

CUresult cuInit(unsigned flags) {
    /* each artifact's first run initializes: the kernels of its own test */
    const char *list = getenv("TC_FAKE_CUDA_KERNELS");
    char path[4096];
    (void)flags;
    fake_calls++;
    num_launchers = 0;
    while (list != NULL && *list != '\0' && num_launchers < MAX_LIBRARIES) {
        const char *end = strchr(list, ':');
        size_t n = end != NULL ? (size_t)(end - list) : strlen(list);
        void *lib;
        snprintf(path, sizeof path, "%.*s", (int)n, list);
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (lib != NULL) {
            *(void **)&launchers[num_launchers] = dlsym(lib, "tc_emu_launch_by_name");
            num_launchers += launchers[num_launchers] != NULL;
        }
        list = end != NULL ? end + 1 : NULL;
    }
    return OK;
}
CUresult cuDriverGetVersion(int *v) {
    const char *version = getenv("TC_FAKE_CUDA_DRIVER_VERSION");
    fake_calls++;
    *v = version != NULL ? atoi(version) : 13000;
    return OK;
}
CUresult cuGetErrorName(CUresult e, const char **s) {
    *s = e == NOT_FOUND ? "CUDA_ERROR_NOT_FOUND" : e == INVALID_IMAGE ? "CUDA_ERROR_INVALID_IMAGE"
       : e == LAUNCH_FAILED ? "CUDA_ERROR_LAUNCH_FAILED"
       : e == UNSUPPORTED_PTX ? "CUDA_ERROR_UNSUPPORTED_PTX_VERSION" : "CUDA_ERROR_FAKE";
    return OK;
}
CUresult cuGetErrorString(CUresult e, const char **s) {
    (void)e;
    *s = "reported by the fake driver";
    return OK;
}
CUresult cuDeviceGetCount(int *n) { fake_calls++; *n = 1; return OK; }
CUresult cuDeviceGet(int *d, int ordinal) { fake_calls++; *d = ordinal; return ordinal == 0 ? OK : INVALID_VALUE; }
CUresult cuDeviceGetAttribute(int *v, int attribute, int d) {
    const char *arch = getenv("TC_FAKE_CUDA_ARCH");
    int cc = atoi(arch != NULL ? arch : "80");
    (void)d;
    fake_calls++;
    *v = attribute == 75 ? cc / 10 : cc % 10;
    return attribute == 75 || attribute == 76 ? OK : INVALID_VALUE;
}
CUresult cuDeviceGetName(char *name, int len, int d) {
    (void)d;
    snprintf(name, (size_t)len, "Fake CUDA device");
    return OK;
}
CUresult cuDevicePrimaryCtxRetain(CUhandle *ctx, int d) {
    (void)d;
    primary_refs++;
    *ctx = &primary_context;
    return OK;
}
CUresult cuDevicePrimaryCtxRelease_v2(int d) { (void)d; primary_refs--; return OK; }
CUresult cuCtxGetCurrent(CUhandle *ctx) { *ctx = current; return OK; }
CUresult cuCtxSetCurrent(CUhandle ctx) { current = ctx; return OK; }
CUresult cuCtxGetDevice(int *d) { *d = 0; return current != NULL ? OK : INVALID_CONTEXT; }
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
    void *mem = NULL;
    fake_calls++;
    if (current == NULL)
        return INVALID_CONTEXT;
    fake_allocations++;
    if (posix_memalign(&mem, 256, n > 0 ? n : 1) != 0)
        return 2; /* CUDA_ERROR_OUT_OF_MEMORY */
    memset(mem, 0x5A, n); /* device memory is not zeroed */
    *p = (CUdeviceptr)(size_t)mem;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    fake_stale_calls += primary_refs <= 0;
    fake_allocations--;
    free((void *)(size_t)p);
    return OK;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) { memcpy((void *)(size_t)d, s, n); return OK; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n, CUhandle st) { (void)st; memcpy((void *)(size_t)d, s, n); return OK; }
CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n, CUhandle st) { (void)st; memcpy(d, (void *)(size_t)s, n); return OK; }
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUhandle st) { (void)st; memmove((void *)(size_t)d, (void *)(size_t)s, n); return OK; }
CUresult cuStreamCreate(CUhandle *s, unsigned flags) { (void)flags; *s = &stream_object; return OK; }
CUresult cuStreamDestroy_v2(CUhandle s) { (void)s; fake_stale_calls += primary_refs <= 0; return OK; }
CUresult cuStreamSynchronize(CUhandle s) { (void)s; return current != NULL ? OK : INVALID_CONTEXT; }
CUresult cuPointerGetAttributes(unsigned n, int *attributes, void **data, CUdeviceptr p) {
    unsigned i;
    (void)p;
    for (i = 0; i < n; i++) { /* host memory the driver does not know */
        if (attributes[i] == 2 || attributes[i] == 8) /* MEMORY_TYPE, IS_MANAGED */
            *(unsigned *)data[i] = 0;
        else if (attributes[i] == 9) /* DEVICE_ORDINAL */
            *(int *)data[i] = -1;
        else
            return INVALID_VALUE;
    }
    return OK;
}
/* $TC_FAKE_CUDA_SASS_ARCH set: the cubin is for another arch (as on a GPU of another
   major version), so the PTX is loaded; $TC_FAKE_CUDA_PTX_ERROR: the JIT refuses it with
   that message in its log. */
CUresult cuModuleLoadDataEx(CUhandle *m, const void *image, unsigned n, int *options,
                            void **values) {
    const char *error = getenv("TC_FAKE_CUDA_PTX_ERROR");
    unsigned i;
    char *log = NULL;
    size_t size = 0;
    for (i = 0; i < n; i++) {
        if (options[i] == 5)
            log = (char *)values[i];
        else if (options[i] == 6)
            size = (size_t)values[i];
    }
    if (strstr((const char *)image, ".target sm_") == NULL)
        return INVALID_IMAGE;
    if (error != NULL) {
        if (log != NULL && size > 0)
            snprintf(log, size, "%s\nsecond line", error);
        return UNSUPPORTED_PTX;
    }
    fake_modules++;
    *m = &fake_modules;
    return OK;
}
CUresult cuModuleLoadData(CUhandle *m, const void *image) {
    if (memcmp(image, "\177ELF", 4) != 0)
        return INVALID_IMAGE;
    if (getenv("TC_FAKE_CUDA_SASS_ARCH") != NULL)
        return 209; /* CUDA_ERROR_NO_BINARY_FOR_GPU */
    fake_modules++;
    *m = &fake_modules;
    return OK;
}
CUresult cuModuleUnload(CUhandle m) { (void)m; fake_modules--; return OK; }
CUresult cuModuleGetFunction(CUhandle *f, CUhandle m, const char *name) {
    fake_function *fn = (fake_function *)calloc(1, sizeof *fn); /* kept: a test's lifetime */
    (void)m;
    if (fn == NULL)
        return INVALID_VALUE;
    snprintf(fn->name, sizeof fn->name, "%s", name);
    *f = fn;
    return OK;
}
CUresult cuLaunchKernel(CUhandle f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                        unsigned by, unsigned bz, unsigned shared, CUhandle stream,
                        void **params, void **extra) {
    int i;
    (void)shared; (void)stream; (void)extra;
    fake_launches++;
    if (num_launchers == 0)
        return LAUNCH_FAILED;
    for (i = 0; i < num_launchers; i++) /* the first library that knows the kernel runs it */
        if (launchers[i](((fake_function *)f)->name, gx, gy, gz, bx, by, bz, params) == 0)
            return OK;
    return NOT_FOUND;
}
