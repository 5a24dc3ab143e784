/* tc CUDA runtime, NVRTC builds: the device-API layer (tc_cuda_device.h) over the CUDA
 * driver API, and the launches of the generated C launchers (tc_cuda_launch).
 *
 * No CUDA header is needed: the few driver types and functions are declared here,
 * ABI-compatible with cuda.h (the symbol names are those cuda.h maps its names to, e.g.
 * cuMemAlloc_v2). The driver library, libcuda.so.1 (or $TC_CUDA_DRIVER_LIBRARY), is
 * opened with dlopen at the first run, so building and loading the artifact need no
 * driver. The model's kernels are loaded from the embedded image (SASS, else its PTX)
 * into the device's primary context, the one the CUDA runtime (torch, cupy) uses too.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc_cuda_device.h"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;

enum {
    CUDA_SUCCESS = 0,
    CUDA_ERROR_NO_DEVICE = 100,
    CUDA_ERROR_INVALID_IMAGE = 200,
    CUDA_ERROR_INVALID_CONTEXT = 201,
    CUDA_ERROR_NO_BINARY_FOR_GPU = 209,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
    CUDA_ERROR_UNSUPPORTED_PTX_VERSION = 222,
    CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2,
    CU_POINTER_ATTRIBUTE_IS_MANAGED = 8,
    CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9,
    CU_JIT_ERROR_LOG_BUFFER = 5,
    CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
    CU_MEMORYTYPE_HOST = 1,
    CU_MEMORYTYPE_DEVICE = 2,
    CU_STREAM_DEFAULT = 0
};

/* Failing to open the driver (or to find a function in it): not a CUresult. */
#define TC_NO_DRIVER (-1)

static struct {
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDriverGetVersion)(int *);
    CUresult (*cuGetErrorName)(CUresult, const char **);
    CUresult (*cuGetErrorString)(CUresult, const char **);
    CUresult (*cuDeviceGetCount)(int *);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDeviceGetName)(char *, int, CUdevice);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
    CUresult (*cuCtxGetCurrent)(CUcontext *);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxGetDevice)(CUdevice *);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void *, size_t, CUstream);
    CUresult (*cuMemcpyDtoHAsync)(void *, CUdeviceptr, size_t, CUstream);
    CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
    CUresult (*cuStreamCreate)(CUstream *, unsigned);
    CUresult (*cuStreamDestroy)(CUstream);
    CUresult (*cuStreamSynchronize)(CUstream);
    CUresult (*cuPointerGetAttributes)(unsigned, int *, void **, CUdeviceptr);
    CUresult (*cuModuleLoadData)(CUmodule *, const void *);
    CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned, int *, void **);
    CUresult (*cuModuleUnload)(CUmodule);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
                               unsigned, unsigned, CUstream, void **, void **);
} api;

#define TC_API(field, symbol) {symbol, (void *)&api.field}
static const struct {
    const char *symbol;
    void *slot;
} api_symbols[] = {
    TC_API(cuInit, "cuInit"),
    TC_API(cuDriverGetVersion, "cuDriverGetVersion"),
    TC_API(cuGetErrorName, "cuGetErrorName"),
    TC_API(cuGetErrorString, "cuGetErrorString"),
    TC_API(cuDeviceGetCount, "cuDeviceGetCount"),
    TC_API(cuDeviceGet, "cuDeviceGet"),
    TC_API(cuDeviceGetAttribute, "cuDeviceGetAttribute"),
    TC_API(cuDeviceGetName, "cuDeviceGetName"),
    TC_API(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    TC_API(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    TC_API(cuCtxGetCurrent, "cuCtxGetCurrent"),
    TC_API(cuCtxSetCurrent, "cuCtxSetCurrent"),
    TC_API(cuCtxGetDevice, "cuCtxGetDevice"),
    TC_API(cuMemAlloc, "cuMemAlloc_v2"),
    TC_API(cuMemFree, "cuMemFree_v2"),
    TC_API(cuMemcpyHtoD, "cuMemcpyHtoD_v2"),
    TC_API(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    TC_API(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    TC_API(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    TC_API(cuStreamCreate, "cuStreamCreate"),
    TC_API(cuStreamDestroy, "cuStreamDestroy_v2"),
    TC_API(cuStreamSynchronize, "cuStreamSynchronize"),
    TC_API(cuPointerGetAttributes, "cuPointerGetAttributes"),
    TC_API(cuModuleLoadData, "cuModuleLoadData"),
    TC_API(cuModuleLoadDataEx, "cuModuleLoadDataEx"),
    TC_API(cuModuleUnload, "cuModuleUnload"),
    TC_API(cuModuleGetFunction, "cuModuleGetFunction"),
    TC_API(cuLaunchKernel, "cuLaunchKernel"),
};

static pthread_once_t driver_once = PTHREAD_ONCE_INIT;
static CUresult driver_status = TC_NO_DRIVER; /* of opening the driver and cuInit */
static char driver_problem[512];              /* why it could not be opened */

static CUcontext caller_context; /* the caller's current context, restored after the run */
static int caller_saved;
static CUcontext primary;        /* the model's device's primary context, when retained */
static CUdevice primary_device;
static int primary_ordinal = -1;
static CUmodule module;
static CUfunction *functions;

static const char *driver_library(void) {
    const char *path = getenv("TC_CUDA_DRIVER_LIBRARY");
    return path != NULL && path[0] != '\0' ? path : "libcuda.so.1";
}

static void open_driver(void) {
    size_t i;
    const char *path = driver_library();
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *why = dlerror();
        snprintf(driver_problem, sizeof driver_problem, "%s", why != NULL ? why : path);
        return;
    }
    for (i = 0; i < sizeof api_symbols / sizeof api_symbols[0]; i++) {
        void *fn = dlsym(lib, api_symbols[i].symbol);
        if (fn == NULL) {
            snprintf(driver_problem, sizeof driver_problem, "%s has no %s (a driver older "
                     "than CUDA 11?)", path, api_symbols[i].symbol);
            return; /* the library stays open: dlclose of a driver is not safe */
        }
        memcpy(api_symbols[i].slot, &fn, sizeof fn);
    }
    driver_status = api.cuInit(0);
}

/* Open the driver and initialize it, once; its status afterwards. */
static CUresult driver(void) {
    pthread_once(&driver_once, open_driver);
    return driver_status;
}

const char *tc_dev_error_name(tc_dev_error err) {
    const char *name = NULL;
    if (err == TC_NO_DRIVER)
        return "no CUDA driver";
    if (api.cuGetErrorName == NULL || api.cuGetErrorName(err, &name) != CUDA_SUCCESS ||
        name == NULL)
        return "CUDA_ERROR_UNKNOWN_CODE";
    return name;
}

const char *tc_dev_error_string(tc_dev_error err) {
    const char *text = NULL;
    if (err == TC_NO_DRIVER)
        return driver_problem;
    if (api.cuGetErrorString == NULL || api.cuGetErrorString(err, &text) != CUDA_SUCCESS ||
        text == NULL)
        return "an error code this driver does not know";
    return text;
}

void tc_dev_no_device(tc_dev_error err) {
    int version = 0;
    if (err == 0)
        err = CUDA_ERROR_NO_DEVICE;
    if (err == TC_NO_DRIVER)
        tc_set_error("no usable CUDA device (no CUDA driver: %s): this artifact (built by "
                     "NVRTC) runs through the NVIDIA driver's library %s; install the NVIDIA "
                     "driver on a machine with an NVIDIA GPU (or point $TC_CUDA_DRIVER_LIBRARY "
                     "at libcuda.so.1), or build for \"llvm\" to run on the CPU",
                     driver_problem, driver_library());
    else if (api.cuDriverGetVersion != NULL && api.cuDriverGetVersion(&version) == 0)
        tc_set_error("no usable CUDA device (%s: %s): this artifact needs an NVIDIA GPU with "
                     "a driver (the driver found supports CUDA %d.%d); build for \"llvm\" to "
                     "run on the CPU", tc_dev_error_name(err), tc_dev_error_string(err),
                     version / 1000, version % 1000 / 10);
    else
        tc_set_error("no usable CUDA device (%s: %s): this artifact needs an NVIDIA GPU with "
                     "a driver; build for \"llvm\" to run on the CPU", tc_dev_error_name(err),
                     tc_dev_error_string(err));
}

tc_dev_error tc_dev_count(int *count) {
    CUresult err = driver();
    return err != CUDA_SUCCESS ? err : api.cuDeviceGetCount(count);
}

/* The device of the caller's current context; device 0 when it has none (as the CUDA
   runtime's current device). */
tc_dev_error tc_dev_current(int *device) {
    CUdevice dev;
    CUresult err = api.cuCtxGetDevice(&dev);
    if (err == CUDA_ERROR_INVALID_CONTEXT) {
        *device = 0;
        return CUDA_SUCCESS;
    }
    if (err == CUDA_SUCCESS)
        *device = dev; /* a CUdevice is its ordinal */
    return err;
}

tc_dev_error tc_dev_use(int device) {
    CUresult err = driver();
    if (err != CUDA_SUCCESS)
        return err;
    if (!caller_saved && api.cuCtxGetCurrent(&caller_context) == CUDA_SUCCESS)
        caller_saved = 1;
    if (primary_ordinal != device) {
        CUdevice dev;
        CUcontext ctx;
        if ((err = api.cuDeviceGet(&dev, device)) != CUDA_SUCCESS ||
            (err = api.cuDevicePrimaryCtxRetain(&ctx, dev)) != CUDA_SUCCESS)
            return err;
        if (primary != NULL)
            (void)api.cuDevicePrimaryCtxRelease(primary_device);
        primary_ordinal = device;
        primary = ctx;
        primary_device = dev;
    }
    return api.cuCtxSetCurrent(primary);
}

void tc_dev_restore(void) {
    if (caller_saved)
        (void)api.cuCtxSetCurrent(caller_context);
    caller_saved = 0;
}

tc_dev_error tc_dev_capability(int device, int *major, int *minor, char *name,
                               size_t name_size) {
    CUdevice dev;
    CUresult err = api.cuDeviceGet(&dev, device);
    if (err == CUDA_SUCCESS)
        err = api.cuDeviceGetAttribute(major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
    if (err == CUDA_SUCCESS)
        err = api.cuDeviceGetAttribute(minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
    if (err == CUDA_SUCCESS)
        err = api.cuDeviceGetName(name, (int)name_size, dev);
    return err;
}

tc_dev_error tc_dev_malloc(void **ptr, size_t nbytes) {
    CUdeviceptr p = 0;
    CUresult err = api.cuMemAlloc(&p, nbytes);
    *ptr = (void *)(uintptr_t)p;
    return err;
}

void tc_dev_free(void *ptr) {
    if (ptr != NULL)
        (void)api.cuMemFree((CUdeviceptr)(uintptr_t)ptr);
}

tc_dev_error tc_dev_upload(void *dst, const void *src, size_t nbytes) {
    return api.cuMemcpyHtoD((CUdeviceptr)(uintptr_t)dst, src, nbytes);
}

tc_dev_error tc_dev_copy_async(void *dst, const void *src, size_t nbytes, int direction,
                               void *stream) {
    CUstream s = (CUstream)stream;
    if (direction == TC_DEV_HOST_TO_DEVICE)
        return api.cuMemcpyHtoDAsync((CUdeviceptr)(uintptr_t)dst, src, nbytes, s);
    if (direction == TC_DEV_DEVICE_TO_HOST)
        return api.cuMemcpyDtoHAsync(dst, (CUdeviceptr)(uintptr_t)src, nbytes, s);
    return api.cuMemcpyDtoDAsync((CUdeviceptr)(uintptr_t)dst, (CUdeviceptr)(uintptr_t)src,
                                 nbytes, s);
}

tc_dev_error tc_dev_stream_create(void **stream) {
    CUstream s = NULL;
    /* CU_STREAM_DEFAULT: ordered after the legacy default stream, as cudaStreamCreate's */
    CUresult err = api.cuStreamCreate(&s, CU_STREAM_DEFAULT);
    *stream = s;
    return err;
}

void tc_dev_stream_destroy(void *stream) {
    (void)api.cuStreamDestroy((CUstream)stream);
}

tc_dev_error tc_dev_stream_sync(void *stream) {
    CUresult err = driver();
    return err != CUDA_SUCCESS ? err : api.cuStreamSynchronize((CUstream)stream);
}

tc_dev_error tc_dev_pointer(const void *ptr, int *memory, int *device) {
    int attributes[3] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                         CU_POINTER_ATTRIBUTE_IS_MANAGED};
    unsigned type = 0;
    int ordinal = -1, managed = 0;
    void *data[3] = {&type, &ordinal, &managed};
    CUresult err = driver();
    if (err == CUDA_SUCCESS) /* memory the driver does not know reads as type 0 */
        err = api.cuPointerGetAttributes(3, attributes, data, (CUdeviceptr)(uintptr_t)ptr);
    if (err != CUDA_SUCCESS)
        return err;
    /* managed memory reads as DEVICE or HOST: only IS_MANAGED tells it apart */
    *memory = managed ? TC_MEM_MANAGED
            : type == CU_MEMORYTYPE_DEVICE ? TC_MEM_DEVICE
            : type == CU_MEMORYTYPE_HOST ? TC_MEM_HOST
            : type == 0 ? TC_MEM_UNREGISTERED : TC_MEM_MANAGED;
    *device = ordinal;
    return CUDA_SUCCESS;
}

void tc_dev_clear(void) {
    /* the driver API returns each error from the call that met it: nothing lingers */
}

/* Append "; the driver's JIT: " and the first line of its error `log` to `what` (nothing
   when the log is empty). */
static void append_log(char *what, size_t size, const char *log) {
    size_t used = strlen(what), n = strcspn(log, "\n");
    if (n > 0 && used + 1 < size)
        snprintf(what + used, size - used, "; the driver's JIT: %.*s", (int)n, log);
}

/* Load the image's PTX (the driver compiles it for the current device), its JIT error
   log kept in `log`. */
static CUresult load_ptx(const char *ptx, char *log, size_t log_size) {
    int options[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void *values[2] = {log, (void *)(uintptr_t)log_size};
    log[0] = '\0';
    return api.cuModuleLoadDataEx(&module, ptx, 2, options, values);
}

tc_dev_error tc_dev_load(const tc_cuda_model *model, const char **what) {
    static char failed[1024];
    char log[512];
    const tc_cuda_image *image = model->image;
    CUresult err = CUDA_ERROR_NO_BINARY_FOR_GPU;
    int k, version = 0;
    if (image == NULL || image->num_kernels == 0)
        return CUDA_SUCCESS; /* a plan of copies only */
    (void)api.cuDriverGetVersion(&version);
    if (image->cuda_version > 0 && version > 0 && version / 1000 < image->cuda_version / 1000) {
        /* CUDA minor-version compatibility: a driver of the same major version runs it */
        snprintf(failed, sizeof failed, "loading the kernels (built by NVRTC %d.%d: the "
                 "driver found supports CUDA %d.%d only; install an NVIDIA driver for CUDA "
                 "%d, or build with an NVRTC of the driver's CUDA version)",
                 image->cuda_version / 1000, image->cuda_version % 1000 / 10, version / 1000,
                 version % 1000 / 10, image->cuda_version / 1000);
        *what = failed;
        return CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
    }
    if (image->cubin_bytes > 0)
        err = api.cuModuleLoadData(&module, image->cubin);
    if ((err == CUDA_ERROR_NO_BINARY_FOR_GPU || err == CUDA_ERROR_INVALID_IMAGE) &&
        image->ptx != NULL) {
        /* a device the SASS cannot run on (another major version than the artifact's
           arch): the driver compiles the PTX */
        err = load_ptx(image->ptx, log, sizeof log);
        snprintf(failed, sizeof failed, "loading the kernels' PTX for this device (the "
                 "artifact's SASS is for %s; a driver older than the CUDA %d.%d of the NVRTC "
                 "that wrote the PTX refuses it: update the driver, or rebuild for this "
                 "device's arch)", model->arch, image->cuda_version / 1000,
                 image->cuda_version % 1000 / 10);
        append_log(failed, sizeof failed, log);
        *what = failed;
    }
    if (err != CUDA_SUCCESS) {
        module = NULL;
        return err;
    }
    functions = (CUfunction *)calloc((size_t)image->num_kernels, sizeof(CUfunction));
    if (functions == NULL) {
        *what = "allocating the kernel table (out of host memory)";
        return CUDA_ERROR_INVALID_IMAGE;
    }
    for (k = 0; k < image->num_kernels; k++) {
        err = api.cuModuleGetFunction(&functions[k], module, image->kernel_names[k]);
        if (err != CUDA_SUCCESS) {
            snprintf(failed, sizeof failed, "finding kernel %s in the loaded image",
                     image->kernel_names[k]);
            *what = failed;
            return err;
        }
    }
    return CUDA_SUCCESS;
}

void tc_dev_unload(void) {
    if (module != NULL)
        (void)api.cuModuleUnload(module);
    module = NULL;
    free(functions);
    functions = NULL;
}

/* Last: releasing the last reference resets the context, freeing what is in it. */
void tc_dev_release(void) {
    if (primary != NULL)
        (void)api.cuDevicePrimaryCtxRelease(primary_device);
    primary = NULL;
    primary_ordinal = -1;
}

void tc_cuda_launch(int kernel, const char *what, unsigned grid_x, unsigned grid_y,
                    unsigned grid_z, unsigned block_x, unsigned block_y, unsigned block_z,
                    void **args) {
    CUresult err = api.cuLaunchKernel(functions[kernel], grid_x, grid_y, grid_z, block_x,
                                      block_y, block_z, 0, (CUstream)tc_cuda_current_stream(),
                                      args, NULL);
    if (err != CUDA_SUCCESS)
        tc_cuda_failf(err, "launching %s", what);
}
