/* sbuf.c - bounded byte buffers for saved state. */
#include "lib/sbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_init(struct sbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void sbuf_free(struct sbuf *b)
{
	free(b->data);
	sbuf_init(b);
}

static bool grow(struct sbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *p;

	if (b->err)
		return false;
	if (n > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return false;
	}
	while (cap < b->len + n)
		cap *= 2;
	if (cap == b->cap)
		return true;
	p = realloc(b->data, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void sbuf_put_bytes(struct sbuf *b, const void *p, size_t n)
{
	if (!n || !grow(b, n))
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Little-endian, whatever the host. */
static void put_le(struct sbuf *b, uint64_t v, unsigned n)
{
	uint8_t le[8];

	for (unsigned i = 0; i < n; i++)
		le[i] = (uint8_t) (v >> (8 * i));
	sbuf_put_bytes(b, le, n);
}

void sbuf_put_u8(struct sbuf *b, uint8_t v)
{
	put_le(b, v, 1);
}

void sbuf_put_u16(struct sbuf *b, uint16_t v)
{
	put_le(b, v, 2);
}

void sbuf_put_u32(struct sbuf *b, uint32_t v)
{
	put_le(b, v, 4);
}

void sbuf_put_u64(struct sbuf *b, uint64_t v)
{
	put_le(b, v, 8);
}

void sbuf_put_blob(struct sbuf *b, const void *p, uint32_t n)
{
	sbuf_put_u32(b, n);
	sbuf_put_bytes(b, p, n);
}

void sbuf_reader_init(struct sbuf_reader *r, const void *data, size_t len)
{
	static const uint8_t empty[1];

	memset(r, 0, sizeof(*r));
	r->data = data ? data : empty; /* take() may add 0 to it: never to NULL */
	r->len = data ? len : 0;
}

bool sbuf_check(struct sbuf_reader *r, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok || r->err)
		return ok;
	r->err = -EINVAL;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	return false;
}

size_t sbuf_left(const struct sbuf_reader *r)
{
	return r->err ? 0 : r->len - r->pos;
}

/* The next @n bytes, or NULL (reader failed) if fewer are left. */
static const uint8_t *take(struct sbuf_reader *r, size_t n)
{
	const uint8_t *p;

	if (!sbuf_check(r, sbuf_left(r) >= n, "truncated at byte %zu (%zu more wanted)", r->pos, n))
		return NULL;
	p = r->data + r->pos;
	r->pos += n;
	return p;
}

void sbuf_get_bytes(struct sbuf_reader *r, void *p, size_t n)
{
	const uint8_t *s = take(r, n);

	if (s)
		memcpy(p, s, n);
	else if (n)
		memset(p, 0, n);
}

static uint64_t get_le(struct sbuf_reader *r, unsigned n)
{
	const uint8_t *s = take(r, n);
	uint64_t v = 0;

	for (unsigned i = 0; s && i < n; i++)
		v |= (uint64_t) s[i] << (8 * i);
	return v;
}

uint8_t sbuf_get_u8(struct sbuf_reader *r)
{
	return (uint8_t) get_le(r, 1);
}

uint16_t sbuf_get_u16(struct sbuf_reader *r)
{
	return (uint16_t) get_le(r, 2);
}

uint32_t sbuf_get_u32(struct sbuf_reader *r)
{
	return (uint32_t) get_le(r, 4);
}

uint64_t sbuf_get_u64(struct sbuf_reader *r)
{
	return get_le(r, 8);
}

const void *sbuf_get_blob(struct sbuf_reader *r, uint32_t *n)
{
	uint32_t len = sbuf_get_u32(r);
	const uint8_t *p = take(r, len);

	*n = p ? len : 0;
	return p;
}
