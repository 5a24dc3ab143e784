/* tc_harness: load a tc artifact with dlopen and run it through the model ABI alone,
 * with no Python, the way a C application would.
 *
 *   tc_harness meta ARTIFACT
 *       print the artifact's metadata JSON
 *   tc_harness run ARTIFACT [-t THREADS] [-r REPEAT] IN.bin:NBYTES ... -- OUT.bin:NBYTES ...
 *       read each input (raw, row-major, exactly NBYTES), run the model REPEAT times
 *       (default 1; prints "mean_ms=<float>" when > 1) and write each output
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef const char *(*metadata_fn)(void);
typedef size_t (*workspace_bytes_fn)(void);
typedef int (*run_fn)(void *const *, void *const *, void *);
typedef const char *(*last_error_fn)(void);
typedef void (*set_num_threads_fn)(int);

static void die(const char *what, const char *detail) {
    fprintf(stderr, "tc_harness: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(2);
}

/* dlsym's void * cannot be cast to a function pointer in ISO C: copy the bits. */
static void lookup(void *lib, const char *name, void *fn_out, size_t fn_size) {
    void *sym = dlsym(lib, name);
    if (sym == NULL)
        die("missing symbol (not a tc artifact?)", name);
    memcpy(fn_out, &sym, fn_size);
}

typedef struct {
    const char *path;
    size_t nbytes;
    void *data;
} tensor_file;

static tensor_file parse_tensor_arg(const char *arg) {
    tensor_file t;
    const char *colon = strrchr(arg, ':');
    char *end, *path;
    if (colon == NULL)
        die("expected PATH:NBYTES, got", arg);
    t.nbytes = (size_t)strtoull(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1)
        die("expected PATH:NBYTES, got", arg);
    path = (char *)malloc((size_t)(colon - arg) + 1);
    memcpy(path, arg, (size_t)(colon - arg));
    path[colon - arg] = '\0';
    t.path = path;
    if (posix_memalign(&t.data, 64, t.nbytes ? t.nbytes : 64) != 0)
        die("out of memory for", t.path);
    return t;
}

static void read_tensor(tensor_file *t) {
    FILE *f = fopen(t->path, "rb");
    long size;
    if (f == NULL)
        die("cannot open input", t->path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (size < 0 || (size_t)size != t->nbytes)
        die("input file has the wrong size", t->path);
    if (t->nbytes && fread(t->data, 1, t->nbytes, f) != t->nbytes)
        die("cannot read input", t->path);
    fclose(f);
}

static void write_tensor(const tensor_file *t) {
    FILE *f = fopen(t->path, "wb");
    if (f == NULL)
        die("cannot create output", t->path);
    if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes)
        die("cannot write output", t->path);
    fclose(f);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    void *lib;
    metadata_fn metadata;
    workspace_bytes_fn workspace_bytes;
    run_fn run;
    last_error_fn last_error;
    set_num_threads_fn set_num_threads;
    tensor_file *inputs, *outputs;
    void **in_ptrs, **out_ptrs, *workspace = NULL;
    int i, n_in = 0, n_out = 0, threads = 0, repeat = 1, after_sep = 0;
    double start;

    if (argc < 3 || (strcmp(argv[1], "meta") != 0 && strcmp(argv[1], "run") != 0))
        die("usage: tc_harness meta ARTIFACT | run ARTIFACT [-t N] [-r N] IN:NBYTES... -- "
            "OUT:NBYTES...", NULL);
    lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        die("cannot load", dlerror());
    lookup(lib, "tc_model_metadata", &metadata, sizeof metadata);
    lookup(lib, "tc_model_workspace_bytes", &workspace_bytes, sizeof workspace_bytes);
    lookup(lib, "tc_model_run", &run, sizeof run);
    lookup(lib, "tc_last_error", &last_error, sizeof last_error);
    lookup(lib, "tc_set_num_threads", &set_num_threads, sizeof set_num_threads);
    if (strcmp(argv[1], "meta") == 0) {
        printf("%s\n", metadata());
        return 0;
    }

    inputs = (tensor_file *)calloc((size_t)argc, sizeof *inputs);
    outputs = (tensor_file *)calloc((size_t)argc, sizeof *outputs);
    for (i = 3; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (strcmp(argv[i], "--") == 0)
            after_sep = 1;
        else if (after_sep)
            outputs[n_out++] = parse_tensor_arg(argv[i]);
        else
            inputs[n_in++] = parse_tensor_arg(argv[i]);
    }
    in_ptrs = (void **)calloc((size_t)n_in + 1, sizeof(void *));
    out_ptrs = (void **)calloc((size_t)n_out + 1, sizeof(void *));
    for (i = 0; i < n_in; i++) {
        read_tensor(&inputs[i]);
        in_ptrs[i] = inputs[i].data;
    }
    for (i = 0; i < n_out; i++)
        out_ptrs[i] = outputs[i].data;
    if (workspace_bytes() > 0 && posix_memalign(&workspace, 64, workspace_bytes()) != 0)
        die("out of memory for the workspace", NULL);
    if (threads > 0)
        set_num_threads(threads);

    start = now_ms();
    for (i = 0; i < (repeat > 0 ? repeat : 1); i++) {
        if (run(in_ptrs, out_ptrs, workspace) != 0)
            die("tc_model_run failed", last_error());
    }
    if (repeat > 1)
        printf("mean_ms=%.6f\n", (now_ms() - start) / repeat);
    for (i = 0; i < n_out; i++)
        write_tensor(&outputs[i]);
    return 0;
}
