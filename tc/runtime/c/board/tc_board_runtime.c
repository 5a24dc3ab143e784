/* The runtime of a board build (tc-build --target c): the error message behind
 * tc_last_error without stdio, and one thread.  No malloc, no OS calls: a bare-metal
 * program links it as is. */
#include "tc_runtime.h"

#include <stdarg.h>

#define TC_ERROR_CAPACITY 256

static char error_buffer[TC_ERROR_CAPACITY];

const char *tc_last_error(void) {
    return error_buffer;
}

static size_t append_text(size_t at, const char *text) {
    while (*text != '\0' && at + 1 < TC_ERROR_CAPACITY) {
        error_buffer[at++] = *text++;
    }
    return at;
}

static size_t append_int(size_t at, long value) {
    char digits[24];
    size_t n = 0;
    unsigned long magnitude = value < 0 ? 0UL - (unsigned long)value : (unsigned long)value;
    do {
        digits[n++] = (char)('0' + magnitude % 10UL);
        magnitude /= 10UL;
    } while (magnitude != 0UL);
    if (value < 0) {
        digits[n++] = '-';
    }
    while (n > 0 && at + 1 < TC_ERROR_CAPACITY) {
        error_buffer[at++] = digits[--n];
    }
    return at;
}

/* printf-style for the conversions tc's entry uses: %s, %d, %ld, %zu and %%. */
void tc_set_error(const char *fmt, ...) {
    va_list args;
    size_t at = 0;
    va_start(args, fmt);
    while (*fmt != '\0' && at + 1 < TC_ERROR_CAPACITY) {
        if (*fmt != '%') {
            error_buffer[at++] = *fmt++;
            continue;
        }
        fmt++;
        if (*fmt == 's') {
            at = append_text(at, va_arg(args, const char *));
        } else if (*fmt == 'd') {
            at = append_int(at, (long)va_arg(args, int));
        } else if (*fmt == 'l' && fmt[1] == 'd') {
            at = append_int(at, va_arg(args, long));
            fmt++;
        } else if (*fmt == 'z' && fmt[1] == 'u') {
            at = append_int(at, (long)va_arg(args, size_t));
            fmt++;
        } else if (*fmt == '%') {
            error_buffer[at++] = '%';
        } else {
            break; /* a conversion tc does not use: stop rather than misread the arguments */
        }
        if (*fmt != '\0') {
            fmt++;
        }
    }
    error_buffer[at] = '\0';
    va_end(args);
}

void tc_clear_error(void) {
    error_buffer[0] = '\0';
}

void tc_set_num_threads(int n) {
    (void)n;
}

int tc_get_num_threads(void) {
    return 1;
}
