/* log.c - the one place that writes diagnostics to stderr. */
#include "lib/log.h"

#include <stdarg.h>

int log_level = 2;

void log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
