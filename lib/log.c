/* log.c - the one place that writes diagnostics to stderr. */
#include "lib/log.h"

#include <stdarg.h>
#include <string.h>

int log_level = 2;

static __thread char last_error[512];

const char *log_last_error(void)
{
	return last_error;
}

void log_clear_error(void)
{
	last_error[0] = 0;
}

/* Keep @fmt's text, minus the "ksmvmm: " every message starts with and its newline. */
static void remember(const char *fmt, va_list ap)
{
	static const char prefix[] = "ksmvmm: ";
	char buf[sizeof(last_error) + sizeof(prefix)];
	const char *text = buf;
	size_t len;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (!strncmp(buf, prefix, sizeof(prefix) - 1))
		text += sizeof(prefix) - 1;
	len = strnlen(text, sizeof(last_error) - 1);
	memcpy(last_error, text, len);
	last_error[len] = 0;
	if (len && last_error[len - 1] == '\n')
		last_error[len - 1] = 0;
}

void log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	if (level == 0) {
		va_start(ap, fmt);
		remember(fmt, ap);
		va_end(ap);
	}
	if (level > log_level)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
