/* libc.c - memset/memcpy/memmove/memcmp for a freestanding guest.
 *
 * GCC emits calls to these for struct copies and may turn loops into them; written with
 * string instructions in asm so that GCC cannot turn memset's own loop into a memset call.
 */
#include "tests/guest/workload/libc.h"

void *memset(void *s, int c, size_t n)
{
	void *d = s;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	asm volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

/* Copies backwards (std; rep movsb from the last byte) when @dst overlaps @src from above. */
void *memmove(void *dst, const void *src, size_t n)
{
	void *d;

	if ((char *) dst <= (const char *) src || (char *) dst >= (const char *) src + n)
		return memcpy(dst, src, n);
	d = (char *) dst + n - 1;
	src = (const char *) src + n - 1;
	asm volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(src), "+c"(n) : : "memory", "cc");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}
