/* Hand-written kernels standing in for generated code in the runtime tests.
 * Kernels take only pointers (the tc kernel ABI); sizes are compile-time constants. */
#include <string.h>

#include "tc_runtime.h"

#ifndef N
#define N 1000
#endif
#ifndef BIG_N
#define BIG_N 16
#endif

typedef struct {
    const float *a, *b;
    float *out;
} binary_args;

static void add_body(int64_t begin, int64_t end, void *closure) {
    binary_args *args = (binary_args *)closure;
    int64_t i;
    for (i = begin; i < end; i++)
        args->out[i] = args->a[i] + args->b[i];
}

static void mul_body(int64_t begin, int64_t end, void *closure) {
    binary_args *args = (binary_args *)closure;
    int64_t i;
    for (i = begin; i < end; i++)
        args->out[i] = args->a[i] * args->b[i];
}

/* out = a + b, parallel over the N elements */
void k_add(void *a, void *b, void *out) {
    binary_args args = {(const float *)a, (const float *)b, (float *)out};
    tc_parallel_for(N, add_body, &args);
}

/* out = x * w (w usually from the constants blob), parallel */
void k_scale(void *x, void *w, void *out) {
    binary_args args = {(const float *)x, (const float *)w, (float *)out};
    tc_parallel_for(N, mul_body, &args);
}

/* out = max(x, 0), serial, through a tc_alloc'd temporary */
void k_relu(void *x, void *out) {
    float *tmp = (float *)tc_alloc(N * sizeof(float));
    int64_t i;
    for (i = 0; i < N; i++)
        tmp[i] = ((const float *)x)[i] > 0 ? ((const float *)x)[i] : 0;
    memcpy(out, tmp, N * sizeof(float));
    tc_free(tmp);
}

typedef struct {
    const char *src;
    char *dst;
} copy_args;

static void copy_body(int64_t begin, int64_t end, void *closure) {
    copy_args *args = (copy_args *)closure;
    memcpy(args->dst + begin * 4096, args->src + begin * 4096, (size_t)(end - begin) * 4096);
}

/* dst = src for BIG_N floats (BIG_N * 4 a multiple of 4096), parallel by pages */
void k_copy_big(void *src, void *dst) {
    copy_args args = {(const char *)src, (char *)dst};
    tc_parallel_for((int64_t)BIG_N * 4 / 4096, copy_body, &args);
}
