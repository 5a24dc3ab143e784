/* Thread-local error message behind tc_last_error. */
#include "tc_runtime.h"

#include <stdarg.h>
#include <stdio.h>

#define TC_ERROR_CAPACITY 1024

#if defined(_MSC_VER)
#define TC_THREAD_LOCAL __declspec(thread)
#else
#define TC_THREAD_LOCAL __thread
#endif

static TC_THREAD_LOCAL char error_buffer[TC_ERROR_CAPACITY];

const char *tc_last_error(void) {
    return error_buffer;
}

void tc_set_error(const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_buffer, sizeof error_buffer, fmt, args);
    va_end(args);
}

void tc_clear_error(void) {
    error_buffer[0] = '\0';
}
