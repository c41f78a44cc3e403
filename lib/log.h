/* log.h - leveled logging to stderr with a per-file prefix (used by every part). */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdio.h>

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif

/* 0 = errors only, 1 = +warnings, 2 = +info (default), 3 = +debug. */
extern int log_level;

void log_printf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last error (level 0) this thread logged, without prefix and newline; "" after
 * log_clear_error. Lets a caller hand a failure's own words to a remote client. */
const char *log_last_error(void);
void log_clear_error(void);

#define pr_err(fmt, ...) log_printf(0, "ksmvmm: " pr_fmt(fmt) "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...) log_printf(1, "ksmvmm: " pr_fmt(fmt) "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) log_printf(2, "ksmvmm: " pr_fmt(fmt) "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) log_printf(3, "ksmvmm: " pr_fmt(fmt) "\n", ##__VA_ARGS__)

#endif
