/* Probes of tc_parallel_for for the thread-pool tests, built into a plain shared
 * library together with the runtime object. */
#include <pthread.h>
#include <stdint.h>

#include "tc_runtime.h"

typedef struct {
    int32_t *hits;    /* per index: times its body ran */
    int64_t *begins;  /* per chunk: begin, end and a thread tag */
    int64_t *ends;
    uint64_t *tags;
    int64_t chunks;   /* atomic counter */
} cover_args;

static void cover_body(int64_t begin, int64_t end, void *closure) {
    cover_args *args = (cover_args *)closure;
    int64_t chunk = __atomic_fetch_add(&args->chunks, 1, __ATOMIC_RELAXED);
    int64_t i;
    args->begins[chunk] = begin;
    args->ends[chunk] = end;
    args->tags[chunk] = (uint64_t)(uintptr_t)&args; /* a stack address: differs per thread */
    for (i = begin; i < end; i++)
        __atomic_fetch_add(&args->hits[i], 1, __ATOMIC_RELAXED);
}

/* One region over [0, n); returns the number of chunks run. The chunk arrays need
 * room for tc_get_num_threads() entries. */
int64_t probe_cover(int64_t n, int32_t *hits, int64_t *begins, int64_t *ends, uint64_t *tags) {
    cover_args args = {hits, begins, ends, tags, 0};
    tc_parallel_for(n, cover_body, &args);
    return args.chunks;
}

typedef struct {
    int64_t inner;
    int32_t *hits;
} nested_args;

typedef struct {
    int32_t *row;
} row_args;

static void inner_body(int64_t begin, int64_t end, void *closure) {
    row_args *args = (row_args *)closure;
    int64_t j;
    for (j = begin; j < end; j++)
        __atomic_fetch_add(&args->row[j], 1, __ATOMIC_RELAXED);
}

static void outer_body(int64_t begin, int64_t end, void *closure) {
    nested_args *args = (nested_args *)closure;
    int64_t i;
    for (i = begin; i < end; i++) {
        row_args row = {args->hits + i * args->inner};
        tc_parallel_for(args->inner, inner_body, &row);
    }
}

/* Regions nested in regions: hits is outer x inner. */
void probe_nested(int64_t outer, int64_t inner, int32_t *hits) {
    nested_args args = {inner, hits};
    tc_parallel_for(outer, outer_body, &args);
}

typedef struct {
    const int64_t *data;
    int64_t total; /* atomic */
} sum_args;

static void sum_body(int64_t begin, int64_t end, void *closure) {
    sum_args *args = (sum_args *)closure;
    int64_t i, s = 0;
    for (i = begin; i < end; i++)
        s += args->data[i];
    __atomic_fetch_add(&args->total, s, __ATOMIC_RELAXED);
}

/* `regions` back-to-back regions each summing data[0:n]; returns how many got a wrong
 * sum. */
int64_t probe_many(int64_t regions, int64_t n, const int64_t *data, int64_t expected) {
    int64_t r, wrong = 0;
    for (r = 0; r < regions; r++) {
        sum_args args = {data, 0};
        tc_parallel_for(n, sum_body, &args);
        wrong += args.total != expected;
    }
    return wrong;
}

void *probe_alloc(size_t nbytes) { return tc_alloc(nbytes); }
void probe_free(void *p) { tc_free(p); }
