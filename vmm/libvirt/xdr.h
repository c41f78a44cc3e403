/* xdr.h - a bounded XDR (RFC 4506) reader and writer for libvirt's remote protocol.
 *
 * Both sides are sticky: after the first failure every later call fails too and leaves
 * its output zeroed, so a decoder can read a whole struct and check once at the end
 * (xdr_reader_done). The reader never reads past its buffer and checks every length
 * against both the caller's maximum and the bytes actually left before it allocates;
 * the writer never grows past its own maximum. Errors are -EBADMSG (bad or truncated
 * input), -EMSGSIZE (a length over its maximum, or the writer full), -ENOMEM.
 */
#ifndef VMM_LIBVIRT_XDR_H
#define VMM_LIBVIRT_XDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xdr_reader {
	const uint8_t *buf;
	size_t len; /* bytes in @buf */
	size_t off; /* next byte to read */
	int err;    /* 0, or the first failure */
};

struct xdr_writer {
	uint8_t *buf; /* g_malloc'd, grown on demand */
	size_t len;   /* bytes written */
	size_t cap;   /* bytes allocated */
	size_t max;   /* the writer never holds more than this */
	int err;      /* 0, or the first failure */
};

void xdr_reader_init(struct xdr_reader *r, const void *buf, size_t len);
/* 0 when every read succeeded and the whole buffer was consumed, else the error
 * (-EBADMSG for trailing bytes). */
int xdr_reader_done(const struct xdr_reader *r);

int xdr_get_int(struct xdr_reader *r, int32_t *v);
int xdr_get_uint(struct xdr_reader *r, uint32_t *v);
int xdr_get_hyper(struct xdr_reader *r, int64_t *v);
int xdr_get_uhyper(struct xdr_reader *r, uint64_t *v);
/* Only 0 and 1 are booleans; anything else is -EBADMSG. */
int xdr_get_bool(struct xdr_reader *r, bool *v);
int xdr_get_double(struct xdr_reader *r, double *v);
/* @n bytes into @dst (plus padding to a multiple of 4, which must be zero). */
int xdr_get_opaque_fixed(struct xdr_reader *r, void *dst, size_t n);
/* A counted opaque of at most @max bytes; *@p points into the reader's buffer. */
int xdr_get_opaque_var(struct xdr_reader *r, const uint8_t **p, uint32_t *n, uint32_t max);
/* A string of at most @max bytes, without NUL bytes, returned g_malloc'd in *@s (caller
 * frees; NULL on failure). */
int xdr_get_string(struct xdr_reader *r, char **s, uint32_t max);
/* The same into a caller buffer of @size bytes (a longer string is -EMSGSIZE). */
int xdr_get_string_buf(struct xdr_reader *r, char *dst, size_t size);
/* An optional string (a 0/1 present flag, then the string): *@s NULL when absent. */
int xdr_get_opt_string(struct xdr_reader *r, char **s, uint32_t max);
/* An array count of at most @max elements; @min_elem is the smallest encoding of one
 * element, so a count the remaining bytes cannot hold fails before anything is sized
 * from it. */
int xdr_get_array_len(struct xdr_reader *r, uint32_t *n, uint32_t max, size_t min_elem);

/* A writer that will never hold more than @max bytes. Free with xdr_writer_free. */
void xdr_writer_init(struct xdr_writer *w, size_t max);
void xdr_writer_free(struct xdr_writer *w);
/* Forget what was written (keeps the buffer and clears the error). */
void xdr_writer_reset(struct xdr_writer *w);
/* Cut back to the first @len bytes and clear the error (undo a part-written item). */
void xdr_writer_truncate(struct xdr_writer *w, size_t len);

int xdr_put_int(struct xdr_writer *w, int32_t v);
int xdr_put_uint(struct xdr_writer *w, uint32_t v);
int xdr_put_hyper(struct xdr_writer *w, int64_t v);
int xdr_put_uhyper(struct xdr_writer *w, uint64_t v);
int xdr_put_bool(struct xdr_writer *w, bool v);
int xdr_put_double(struct xdr_writer *w, double v);
int xdr_put_opaque_fixed(struct xdr_writer *w, const void *p, size_t n);
/* -EMSGSIZE when @n > @max: the peer's decoder would refuse it. */
int xdr_put_opaque_var(struct xdr_writer *w, const void *p, uint32_t n, uint32_t max);
int xdr_put_string(struct xdr_writer *w, const char *s, uint32_t max);
/* @s NULL encodes "absent". */
int xdr_put_opt_string(struct xdr_writer *w, const char *s, uint32_t max);
int xdr_put_array_len(struct xdr_writer *w, uint32_t n, uint32_t max);
/* Overwrite the big-endian word at @off (already written), e.g. a length known late. */
int xdr_patch_uint(struct xdr_writer *w, size_t off, uint32_t v);

#endif
