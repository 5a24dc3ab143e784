/* The persistent fork/join thread pool behind tc_parallel_for.
 *
 * Protocol: the caller (the thread that enters tc_parallel_for) holds `region`, writes
 * the job, sets `pending` to the number of workers and publishes the job by bumping
 * `generation`. Every worker acknowledges every generation (runs its chunk if it has
 * one, then decrements `pending`), so no worker can lag behind into the next job. Idle
 * threads spin for a short while (regions come back to back while a model runs) and
 * then sleep on a condition variable, so an idle pool costs no CPU.
 *
 * Threads start on the first parallel region, never at load time: tools fork after
 * loading. A forked child starts with an empty pool. The pool is stopped when the
 * library is unloaded (or the process exits), since its threads run code of this
 * library.
 */
#define _GNU_SOURCE
#include "tc_runtime.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sched.h>
#endif

#define TC_MAX_THREADS 256
#define TC_SPIN_NS 500000 /* how long an idle thread spins before it sleeps */

typedef void (*tc_body_fn)(int64_t begin, int64_t end, void *closure);

static struct {
    pthread_mutex_t region; /* held by the thread running a parallel region */
    pthread_mutex_t lock;   /* pairs with the condition variables */
    pthread_cond_t wake;    /* idle workers wait here for a new generation */
    pthread_cond_t done;    /* the caller waits here for the last worker */
    int num_threads;        /* atomic; configured count including the caller, 0 = unset */
    int num_workers;        /* running workers (the caller is not one of them) */
    int atfork_registered;
    pthread_t workers[TC_MAX_THREADS];
    uint64_t start_generation; /* generation when the workers were started */
    /* The job, written by the caller before it bumps `generation`. */
    tc_body_fn body;
    void *closure;
    int64_t n;
    int64_t nchunks;
    int shutdown;
    uint64_t generation; /* atomic */
    uint64_t pending;    /* atomic: workers yet to acknowledge the current generation */
} pool = {.region = PTHREAD_MUTEX_INITIALIZER,
          .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Set on workers for good, and on a caller while it runs its chunk: nested regions
 * run serially instead of deadlocking on the pool. */
static __thread int in_region;

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin until (*word == value) == until_equal, for at most TC_SPIN_NS. Returns 1 when
 * the condition holds, 0 when the budget ran out. */
static int spin_wait(const uint64_t *word, uint64_t value, int until_equal) {
    int64_t deadline = 0;
    unsigned i;
    for (i = 1;; i++) {
        if ((__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) == until_equal)
            return 1;
        cpu_relax();
        if ((i & 255) == 0) {
            int64_t t = now_ns();
            if (deadline == 0)
                deadline = t + TC_SPIN_NS;
            else if (t > deadline)
                return 0;
            sched_yield(); /* lets an oversubscribed machine make progress */
        }
    }
}

static void run_chunk(int64_t index) {
    int64_t base = pool.n / pool.nchunks, extra = pool.n % pool.nchunks;
    int64_t begin = index * base + (index < extra ? index : extra);
    int64_t end = begin + base + (index < extra ? 1 : 0);
    pool.body(begin, end, pool.closure);
}

static void *worker_main(void *arg) {
    int64_t index = (int64_t)(intptr_t)arg;
    uint64_t seen = pool.start_generation;
    in_region = 1;
    for (;;) {
        if (!spin_wait(&pool.generation, seen, 0)) {
            pthread_mutex_lock(&pool.lock);
            while (__atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE) == seen)
                pthread_cond_wait(&pool.wake, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
        if (pool.shutdown)
            return NULL;
        if (index < pool.nchunks)
            run_chunk(index);
        if (__atomic_sub_fetch(&pool.pending, 1, __ATOMIC_ACQ_REL) == 0) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
}

/* Publish the job written into `pool` (or the shutdown flag) to every worker. */
static void publish(void) {
    pthread_mutex_lock(&pool.lock);
    __atomic_store_n(&pool.generation, pool.generation + 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
}

/* Caller holds `region`. */
static void stop_workers(void) {
    int i;
    if (pool.num_workers == 0)
        return;
    pool.shutdown = 1;
    publish();
    for (i = 0; i < pool.num_workers; i++)
        pthread_join(pool.workers[i], NULL);
    pool.num_workers = 0;
    pool.shutdown = 0;
}

static void reset_after_fork(void) {
    /* The child has only the forking thread: the workers are gone. */
    pthread_mutex_init(&pool.region, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.num_workers = 0;
    pool.shutdown = 0;
}

/* Caller holds `region`. Starts count workers; on failure keeps those it started. */
static void start_workers(int count) {
    sigset_t all, old;
    int i;
    if (!pool.atfork_registered) {
        pthread_atfork(NULL, NULL, reset_after_fork);
        pool.atfork_registered = 1;
    }
    /* Workers block signals: they belong to the application's own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pool.start_generation = pool.generation;
    for (i = 0; i < count; i++) {
        if (pthread_create(&pool.workers[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            break;
        pool.num_workers = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pool.num_workers < count) /* run with what we have rather than retry each time */
        __atomic_store_n(&pool.num_threads, pool.num_workers + 1, __ATOMIC_RELAXED);
}

#if defined(__GNUC__)
__attribute__((destructor)) static void stop_pool_at_unload(void) {
    /* A region still running on another thread at exit keeps its workers. */
    if (pthread_mutex_trylock(&pool.region) != 0)
        return;
    stop_workers();
    pthread_mutex_unlock(&pool.region);
}
#endif

static long read_topology(int cpu, const char *field) {
    char path[128];
    long value = -1;
    FILE *f;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, field);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld", &value) != 1)
        value = -1;
    fclose(f);
    return value;
}

/* Physical cores among the CPUs this process may run on; 0 when unknown. */
static int physical_cores(void) {
#if defined(__linux__)
    long keys[CPU_SETSIZE];
    cpu_set_t allowed;
    int cpu, count = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return 0;
    for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        long package, core, key;
        int j, seen = 0;
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        package = read_topology(cpu, "physical_package_id");
        core = read_topology(cpu, "core_id");
        key = (package < 0 || core < 0) ? -1 - (long)cpu : package * 1000000 + core;
        for (j = 0; j < count && !seen; j++)
            seen = keys[j] == key;
        if (!seen)
            keys[count++] = key;
    }
    return count;
#else
    return 0;
#endif
}

static int clamp_threads(long n) {
    return n < 1 ? 1 : n > TC_MAX_THREADS ? TC_MAX_THREADS : (int)n;
}

static int default_num_threads(void) {
    const char *env = getenv("TC_NUM_THREADS");
    long n;
    if (env != NULL && *env != '\0') {
        char *end;
        n = strtol(env, &end, 10);
        if (*end == '\0' && n > 0)
            return clamp_threads(n);
    }
    n = physical_cores();
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return clamp_threads(n);
}

int tc_get_num_threads(void) {
    int n = __atomic_load_n(&pool.num_threads, __ATOMIC_RELAXED);
    if (n == 0) {
        int expected = 0;
        n = default_num_threads();
        if (!__atomic_compare_exchange_n(&pool.num_threads, &expected, n, 0, __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED))
            n = expected;
    }
    return n;
}

void tc_set_num_threads(int n) {
    int count = n > 0 ? clamp_threads(n) : default_num_threads();
    if (in_region)
        return; /* the pool cannot be resized from inside one of its regions */
    pthread_mutex_lock(&pool.region);
    if (pool.num_workers != count - 1)
        stop_workers();
    __atomic_store_n(&pool.num_threads, count, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&pool.region);
}

void tc_parallel_for(int64_t n, tc_body_fn body, void *closure) {
    int nthreads;
    if (n <= 0)
        return;
    if (n == 1 || in_region || pthread_mutex_trylock(&pool.region) != 0) {
        body(0, n, closure);
        return;
    }
    nthreads = tc_get_num_threads();
    if (nthreads > 1 && pool.num_workers != nthreads - 1) {
        stop_workers();
        start_workers(nthreads - 1);
    }
    if (pool.num_workers == 0) {
        pthread_mutex_unlock(&pool.region);
        body(0, n, closure);
        return;
    }
    nthreads = pool.num_workers + 1;
    pool.body = body;
    pool.closure = closure;
    pool.n = n;
    pool.nchunks = n < nthreads ? n : nthreads;
    __atomic_store_n(&pool.pending, (uint64_t)pool.num_workers, __ATOMIC_RELAXED);
    publish();

    in_region = 1;
    run_chunk(0);
    in_region = 0;

    if (!spin_wait(&pool.pending, 0, 1)) {
        pthread_mutex_lock(&pool.lock);
        while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) != 0)
            pthread_cond_wait(&pool.done, &pool.lock);
        pthread_mutex_unlock(&pool.lock);
    }
    pthread_mutex_unlock(&pool.region);
}
