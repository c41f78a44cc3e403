/* errbuf.c - format an error message into a caller's buffer. */
#include "lib/errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int errbuf_set(char *err, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!err || len == 0)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return ret;
}
