/* 64-byte aligned allocation for kernels' large temporaries. */
#define _POSIX_C_SOURCE 200809L
#include "tc_runtime.h"

#include <stdlib.h>

#define TC_ALIGNMENT 64

void *tc_alloc(size_t nbytes) {
    void *ptr = NULL;
    /* Round up so that tc_alloc(0) still returns a unique, freeable pointer. */
    size_t size = nbytes == 0 ? TC_ALIGNMENT : nbytes;
    if (posix_memalign(&ptr, TC_ALIGNMENT, size) != 0) {
        tc_set_error("tc_alloc: out of memory allocating %zu bytes", nbytes);
        return NULL;
    }
    return ptr;
}

void tc_free(void *ptr) {
    free(ptr);
}
