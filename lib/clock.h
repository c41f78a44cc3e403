/* clock.h - the few time readings the project needs, in one place. */
#ifndef LIB_CLOCK_H
#define LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Microseconds on CLOCK_MONOTONIC. */
uint64_t clock_now_us(void);

/* Seconds from @a to @b (b - a; negative if @b is earlier). */
double clock_diff_s(const struct timespec *a, const struct timespec *b);

/* Fill @ts with the time @us microseconds from now on @clock (for timed waits: use the
 * clock the condition variable was created with). */
void clock_deadline(struct timespec *ts, clockid_t clock, uint64_t us);

/* CPU time the calling thread has used, in seconds. */
double clock_thread_cpu_s(void);

#endif
