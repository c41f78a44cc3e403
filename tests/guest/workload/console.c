/* console.c - a tiny printf for the workload guest: decimal/hex integers and strings to COM1. */
#include "tests/guest/workload/console.h"

#include <stdarg.h>
#include <stdint.h>

#include "tests/guest/workload/port.h"
#include "vmm/guest_abi.h"

#define CONSOLE_BUF 256

/* Serialises whole messages between vCPUs; lives in the image (.data), zero = free. */
static volatile uint32_t console_lock;

struct buf {
	char s[CONSOLE_BUF];
	unsigned len;
};

static void buf_putc(struct buf *b, char c)
{
	if (b->len < CONSOLE_BUF)
		b->s[b->len++] = c;
}

static void buf_puts(struct buf *b, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		buf_putc(b, *s++);
}

static void buf_putu(struct buf *b, uint64_t v, unsigned base)
{
	char digits[24];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		buf_putc(b, digits[--n]);
}

/* Read the next integer argument of length @lng (0: int, 1: long, 2: long long). */
static uint64_t arg_uint(va_list *ap, int lng, int is_signed, int *neg)
{
	int64_t s;

	*neg = 0;
	if (!is_signed)
		return lng ? va_arg(*ap, unsigned long) : va_arg(*ap, unsigned int);
	s = lng ? va_arg(*ap, long) : va_arg(*ap, int);
	if (s < 0) {
		*neg = 1;
		return -(uint64_t) s;
	}
	return (uint64_t) s;
}

static void buf_format(struct buf *b, const char *fmt, va_list *ap)
{
	for (; *fmt; fmt++) {
		int lng = 0, neg;
		uint64_t v;

		if (*fmt != '%') {
			buf_putc(b, *fmt);
			continue;
		}
		while (*++fmt == 'l')
			lng++;
		switch (*fmt) {
		case 's': buf_puts(b, va_arg(*ap, const char *)); break;
		case 'c': buf_putc(b, (char) va_arg(*ap, int)); break;
		case 'd':
		case 'u':
		case 'x':
			v = arg_uint(ap, lng, *fmt == 'd', &neg);
			if (neg)
				buf_putc(b, '-');
			buf_putu(b, v, *fmt == 'x' ? 16 : 10);
			break;
		case '\0': return;
		default: buf_putc(b, *fmt); break;
		}
	}
}

void wl_printf(const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	b.len = 0;
	va_start(ap, fmt);
	buf_format(&b, fmt, &ap);
	va_end(ap);
	while (wl_xchg32(&console_lock, 1))
		wl_pause();
	for (unsigned i = 0; i < b.len; i++)
		wl_outb(WL_PORT_CONSOLE, (uint8_t) b.s[i]);
	wl_xchg32(&console_lock, 0);
}
