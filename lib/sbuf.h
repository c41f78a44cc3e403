/* sbuf.h - bounded byte buffers for saved state: a growing writer and a checked reader.
 *
 * Every snapshot section (vCPU, device, engine image) is written with sbuf_put_* and read
 * back with sbuf_get_*. Integers are little-endian and fixed-width. A reader never reads
 * past its end: a short or malformed buffer sets a sticky error, every later get returns
 * zeros, and the caller checks sbuf_error() once at the end (with the message it set).
 */
#ifndef LIB_SBUF_H
#define LIB_SBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	uint8_t *data;
	size_t len; /* bytes written */
	size_t cap;
	int err; /* 0, or -ENOMEM once a put could not grow the buffer */
};

void sbuf_init(struct sbuf *b);
void sbuf_free(struct sbuf *b);
void sbuf_put_u8(struct sbuf *b, uint8_t v);
void sbuf_put_u16(struct sbuf *b, uint16_t v);
void sbuf_put_u32(struct sbuf *b, uint32_t v);
void sbuf_put_u64(struct sbuf *b, uint64_t v);
void sbuf_put_bytes(struct sbuf *b, const void *p, size_t n);
/* A length-prefixed (u32) block: sbuf_get_blob returns it. */
void sbuf_put_blob(struct sbuf *b, const void *p, uint32_t n);

struct sbuf_reader {
	const uint8_t *data;
	size_t len, pos;
	int err;       /* 0, or -EINVAL after a short read or a failed check */
	char why[128]; /* what was wrong, for the caller's error message */
};

void sbuf_reader_init(struct sbuf_reader *r, const void *data, size_t len);
uint8_t sbuf_get_u8(struct sbuf_reader *r);
uint16_t sbuf_get_u16(struct sbuf_reader *r);
uint32_t sbuf_get_u32(struct sbuf_reader *r);
uint64_t sbuf_get_u64(struct sbuf_reader *r);
/* Copy @n bytes into @p (zeros on error). */
void sbuf_get_bytes(struct sbuf_reader *r, void *p, size_t n);
/* A blob of sbuf_put_blob: pointer into the buffer and its length in *@n; NULL (and *@n
 * 0) on error. */
const void *sbuf_get_blob(struct sbuf_reader *r, uint32_t *n);
/* Fail the reader with a message unless @ok (first failure wins); returns @ok. Use it
 * for range checks of decoded values: `if (!sbuf_check(r, n <= MAX, "n %u", n))`. */
bool sbuf_check(struct sbuf_reader *r, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Bytes left to read. */
size_t sbuf_left(const struct sbuf_reader *r);
/* 0, or the first error (-EINVAL / -ENOMEM). */
static inline int sbuf_error(const struct sbuf_reader *r)
{
	return r->err;
}

#endif
