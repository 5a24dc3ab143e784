/* tc runtime: the C support every tc artifact links in, and the model ABI.
 *
 * The model ABI (exported by every artifact, the same for Python and for boards):
 *
 *   const char *tc_model_metadata(void);         JSON: inputs, outputs, dtypes, target, ...
 *   size_t      tc_model_workspace_bytes(void);  bytes of scratch arena tc_model_run needs
 *   int         tc_model_run(void *const *inputs, void *const *outputs, void *workspace);
 *   const char *tc_last_error(void);             set when tc_model_run returns non-zero
 *   void        tc_set_num_threads(int n);       n <= 0: default (physical cores)
 *   int         tc_get_num_threads(void);
 *
 * The workspace must be 64-byte aligned and at least tc_model_workspace_bytes() long; it
 * may be NULL when that is 0. Inputs and outputs are dense row-major tensors in the
 * order and with the shapes and dtypes the metadata lists.
 *
 * Support for kernels (internal to the artifact, not exported):
 *
 *   tc_parallel_for  fork/join over [0, n) on a lazily started, persistent thread pool
 *   tc_alloc/free    64-byte aligned heap memory for large temporaries
 *   tc_set_error     printf-style, into a thread-local buffer read by tc_last_error
 */
#ifndef TC_RUNTIME_H
#define TC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define TC_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define TC_EXPORT __attribute__((visibility("default")))
#else
#define TC_EXPORT
#endif

#if defined(__GNUC__)
#define TC_PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TC_PRINTF_LIKE(fmt, args)
#endif

/* ---- model ABI (defined by the generated AOT entry) ---- */
TC_EXPORT const char *tc_model_metadata(void);
TC_EXPORT size_t tc_model_workspace_bytes(void);
TC_EXPORT int tc_model_run(void *const *inputs, void *const *outputs, void *workspace);
/* As tc_model_run, also adding each plan step's wall seconds to step_seconds[step]
   (the metadata's "steps" names them). Optional: for profiling, not for deployment. */
TC_EXPORT int tc_model_profile(void *const *inputs, void *const *outputs, void *workspace,
                               double *step_seconds);

/* ---- errors ---- */
TC_EXPORT const char *tc_last_error(void);
void tc_set_error(const char *fmt, ...) TC_PRINTF_LIKE(1, 2);
void tc_clear_error(void);

/* ---- threads ---- */
TC_EXPORT void tc_set_num_threads(int n);
TC_EXPORT int tc_get_num_threads(void);

/* Run body over [0, n) split into one contiguous chunk per thread (the caller runs
 * chunk 0) and return when every chunk is done. Calls made from inside a running
 * region, or while another thread holds the pool, run serially on the caller. */
void tc_parallel_for(int64_t n, void (*body)(int64_t begin, int64_t end, void *closure),
                     void *closure);

/* ---- memory ---- */
void *tc_alloc(size_t nbytes); /* 64-byte aligned; NULL (with tc_set_error) on failure */
void tc_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* TC_RUNTIME_H */
