/* libc.h - the few libc routines the compiler may call on its own (struct copies, zeroing). */
#ifndef WORKLOAD_LIBC_H
#define WORKLOAD_LIBC_H

#include <stddef.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif
