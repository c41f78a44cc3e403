/* xdr.c - the bounded XDR reader and writer (big-endian 4-byte units, RFC 4506).
 *
 * Every item is a multiple of 4 bytes; variable-length items carry a 4-byte count
 * first. The reader checks the count before it touches the bytes, so a hostile length
 * costs nothing: no allocation is ever sized from input that is not there.
 */
#include "vmm/libvirt/xdr.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#define XDR_UNIT 4

static size_t xdr_pad(size_t n)
{
	return (XDR_UNIT - n % XDR_UNIT) % XDR_UNIT;
}

/* ---- Reader ---- */

void xdr_reader_init(struct xdr_reader *r, const void *buf, size_t len)
{
	r->buf = buf;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

int xdr_reader_done(const struct xdr_reader *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : -EBADMSG;
}

static int xdr_fail(struct xdr_reader *r, int err)
{
	if (!r->err)
		r->err = err;
	return r->err;
}

/* The next @n bytes (and their padding), or NULL with the error set. */
static const uint8_t *xdr_take(struct xdr_reader *r, size_t n)
{
	size_t need = n + xdr_pad(n);
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (need < n || r->len - r->off < need) {
		xdr_fail(r, -EBADMSG);
		return NULL;
	}
	p = r->buf + r->off;
	r->off += need;
	return p;
}

int xdr_get_uint(struct xdr_reader *r, uint32_t *v)
{
	const uint8_t *p = xdr_take(r, 4);

	*v = p ? (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3] : 0;
	return r->err;
}

int xdr_get_int(struct xdr_reader *r, int32_t *v)
{
	uint32_t u;

	xdr_get_uint(r, &u);
	*v = (int32_t) u;
	return r->err;
}

int xdr_get_uhyper(struct xdr_reader *r, uint64_t *v)
{
	uint32_t hi, lo;

	xdr_get_uint(r, &hi);
	xdr_get_uint(r, &lo);
	*v = r->err ? 0 : (uint64_t) hi << 32 | lo;
	return r->err;
}

int xdr_get_hyper(struct xdr_reader *r, int64_t *v)
{
	uint64_t u;

	xdr_get_uhyper(r, &u);
	*v = (int64_t) u;
	return r->err;
}

int xdr_get_bool(struct xdr_reader *r, bool *v)
{
	uint32_t u;

	*v = false;
	if (xdr_get_uint(r, &u))
		return r->err;
	if (u > 1)
		return xdr_fail(r, -EBADMSG);
	*v = u;
	return 0;
}

int xdr_get_double(struct xdr_reader *r, double *v)
{
	uint64_t u;

	xdr_get_uhyper(r, &u);
	memcpy(v, &u, sizeof(*v));
	return r->err;
}

int xdr_get_opaque_fixed(struct xdr_reader *r, void *dst, size_t n)
{
	const uint8_t *p = xdr_take(r, n);

	if (!p) {
		memset(dst, 0, n);
		return r->err;
	}
	for (size_t i = n; i < n + xdr_pad(n); i++)
		if (p[i])
			return xdr_fail(r, -EBADMSG);
	memcpy(dst, p, n);
	return 0;
}

int xdr_get_opaque_var(struct xdr_reader *r, const uint8_t **p, uint32_t *n, uint32_t max)
{
	uint32_t len;

	*p = NULL;
	*n = 0;
	if (xdr_get_uint(r, &len))
		return r->err;
	if (len > max)
		return xdr_fail(r, -EMSGSIZE);
	*p = xdr_take(r, len);
	if (!*p)
		return r->err;
	for (size_t i = len; i < len + xdr_pad(len); i++)
		if ((*p)[i])
			return xdr_fail(r, -EBADMSG);
	*n = len;
	return 0;
}

int xdr_get_string(struct xdr_reader *r, char **s, uint32_t max)
{
	const uint8_t *p;
	uint32_t n;

	*s = NULL;
	if (xdr_get_opaque_var(r, &p, &n, max))
		return r->err;
	if (memchr(p, 0, n))
		return xdr_fail(r, -EBADMSG);
	*s = g_strndup((const char *) p, n);
	return 0;
}

int xdr_get_string_buf(struct xdr_reader *r, char *dst, size_t size)
{
	const uint8_t *p;
	uint32_t n;

	dst[0] = 0;
	if (!size || size - 1 > UINT32_MAX)
		return xdr_fail(r, -EINVAL);
	if (xdr_get_opaque_var(r, &p, &n, (uint32_t) (size - 1)))
		return r->err;
	if (memchr(p, 0, n))
		return xdr_fail(r, -EBADMSG);
	memcpy(dst, p, n);
	dst[n] = 0;
	return 0;
}

int xdr_get_opt_string(struct xdr_reader *r, char **s, uint32_t max)
{
	bool present;

	*s = NULL;
	if (xdr_get_bool(r, &present) || !present)
		return r->err;
	return xdr_get_string(r, s, max);
}

int xdr_get_array_len(struct xdr_reader *r, uint32_t *n, uint32_t max, size_t min_elem)
{
	uint32_t len;

	*n = 0;
	if (xdr_get_uint(r, &len))
		return r->err;
	if (len > max)
		return xdr_fail(r, -EMSGSIZE);
	if (min_elem && len > (r->len - r->off) / min_elem)
		return xdr_fail(r, -EBADMSG);
	*n = len;
	return 0;
}

/* ---- Writer ---- */

void xdr_writer_init(struct xdr_writer *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
}

void xdr_writer_free(struct xdr_writer *w)
{
	g_free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

void xdr_writer_reset(struct xdr_writer *w)
{
	w->len = 0;
	w->err = 0;
}

void xdr_writer_truncate(struct xdr_writer *w, size_t len)
{
	if (len < w->len)
		w->len = len;
	w->err = 0;
}

/* Room for @n more bytes (zeroed), or NULL with the error set. */
static uint8_t *xdr_room(struct xdr_writer *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > w->max - w->len) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = MAX(w->cap * 2, w->len + n);

		w->cap = MAX(MIN(cap, w->max), (size_t) 64);
		w->buf = g_realloc(w->buf, w->cap);
	}
	p = w->buf + w->len;
	memset(p, 0, n);
	w->len += n;
	return p;
}

static void xdr_store(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int xdr_put_uint(struct xdr_writer *w, uint32_t v)
{
	uint8_t *p = xdr_room(w, 4);

	if (p)
		xdr_store(p, v);
	return w->err;
}

int xdr_put_int(struct xdr_writer *w, int32_t v)
{
	return xdr_put_uint(w, (uint32_t) v);
}

int xdr_put_uhyper(struct xdr_writer *w, uint64_t v)
{
	uint8_t *p = xdr_room(w, 8);

	if (p) {
		xdr_store(p, v >> 32);
		xdr_store(p + 4, (uint32_t) v);
	}
	return w->err;
}

int xdr_put_hyper(struct xdr_writer *w, int64_t v)
{
	return xdr_put_uhyper(w, (uint64_t) v);
}

int xdr_put_bool(struct xdr_writer *w, bool v)
{
	return xdr_put_uint(w, v ? 1 : 0);
}

int xdr_put_double(struct xdr_writer *w, double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return xdr_put_uhyper(w, u);
}

int xdr_put_opaque_fixed(struct xdr_writer *w, const void *p, size_t n)
{
	uint8_t *dst;

	if (n + xdr_pad(n) < n) {
		w->err = w->err ? w->err : -EMSGSIZE;
		return w->err;
	}
	dst = xdr_room(w, n + xdr_pad(n));
	if (dst && n)
		memcpy(dst, p, n);
	return w->err;
}

int xdr_put_opaque_var(struct xdr_writer *w, const void *p, uint32_t n, uint32_t max)
{
	if (n > max && !w->err)
		w->err = -EMSGSIZE;
	xdr_put_uint(w, n);
	return xdr_put_opaque_fixed(w, p, n);
}

int xdr_put_string(struct xdr_writer *w, const char *s, uint32_t max)
{
	size_t n = strlen(s);

	if (n > max && !w->err)
		w->err = -EMSGSIZE;
	return xdr_put_opaque_var(w, s, (uint32_t) MIN(n, (size_t) max), max);
}

int xdr_put_opt_string(struct xdr_writer *w, const char *s, uint32_t max)
{
	xdr_put_bool(w, s != NULL);
	return s ? xdr_put_string(w, s, max) : w->err;
}

int xdr_put_array_len(struct xdr_writer *w, uint32_t n, uint32_t max)
{
	if (n > max && !w->err)
		w->err = -EMSGSIZE;
	return xdr_put_uint(w, n);
}

int xdr_patch_uint(struct xdr_writer *w, size_t off, uint32_t v)
{
	if (w->err)
		return w->err;
	if (off > w->len || w->len - off < 4)
		return -EINVAL;
	xdr_store(w->buf + off, v);
	return 0;
}
