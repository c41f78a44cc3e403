/* rpc.c - libvirt RPC packet framing, headers and error replies. */
#include "vmm/libvirt/rpc.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

/* The longest error message we send: virsh prints it whole. */
#define RPC_ERROR_MSG_MAX 1024
/* virErrorLevel VIR_ERR_ERROR */
#define RPC_LEVEL_ERROR 2

void rpc_framer_init(struct rpc_framer *f)
{
	memset(f, 0, sizeof(*f));
	f->need = RPC_LEN_SIZE;
	f->cap = RPC_PREFIX_SIZE;
	f->buf = g_malloc(f->cap);
}

void rpc_framer_free(struct rpc_framer *f)
{
	g_free(f->buf);
	f->buf = NULL;
}

void rpc_framer_want(struct rpc_framer *f, uint8_t **p, size_t *n)
{
	if (f->have == f->cap && f->cap < f->need) { /* grow as the bytes arrive */
		f->cap = MIN(f->need, f->cap * 2);
		f->buf = g_realloc(f->buf, f->cap);
	}
	*p = f->buf + f->have;
	*n = MIN(f->need, f->cap) - f->have;
}

static uint32_t rpc_load(const uint8_t *p)
{
	return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* The length word just arrived: check it and make room for the packet. */
static int rpc_framer_sized(struct rpc_framer *f)
{
	uint32_t len = rpc_load(f->buf);

	if (len < RPC_PREFIX_SIZE || len > RPC_PACKET_MAX)
		return -EMSGSIZE;
	f->need = len; /* the buffer grows in rpc_framer_want, never ahead of the data */
	return 0;
}

int rpc_framer_got(struct rpc_framer *f, size_t n)
{
	int ret;

	if (n > MIN(f->need, f->cap) - f->have)
		return -EINVAL;
	f->have += n;
	if (f->have < f->need)
		return 0;
	if (f->need == RPC_LEN_SIZE) {
		ret = rpc_framer_sized(f);
		return ret;
	}
	return 1;
}

const uint8_t *rpc_framer_packet(const struct rpc_framer *f, size_t *len)
{
	*len = f->have;
	return f->buf;
}

void rpc_framer_next(struct rpc_framer *f)
{
	f->have = 0;
	f->need = RPC_LEN_SIZE;
	if (f->cap > 64 * 1024) { /* give back what one big packet took */
		f->cap = RPC_PREFIX_SIZE;
		f->buf = g_realloc(f->buf, f->cap);
	}
}

int rpc_header_decode(const uint8_t *pkt, size_t len, struct rpc_header *h, const uint8_t **body,
		      size_t *body_len)
{
	struct xdr_reader r;
	uint32_t plen;

	memset(h, 0, sizeof(*h));
	xdr_reader_init(&r, pkt, len);
	xdr_get_uint(&r, &plen);
	xdr_get_uint(&r, &h->prog);
	xdr_get_uint(&r, &h->vers);
	xdr_get_int(&r, &h->proc);
	xdr_get_uint(&r, &h->type);
	xdr_get_uint(&r, &h->serial);
	xdr_get_uint(&r, &h->status);
	if (r.err || plen != len)
		return -EBADMSG;
	*body = pkt + RPC_PREFIX_SIZE;
	*body_len = len - RPC_PREFIX_SIZE;
	return 0;
}

size_t rpc_packet_begin(struct xdr_writer *w, const struct rpc_header *h)
{
	size_t start = w->len;

	xdr_put_uint(w, 0); /* the length, filled in by rpc_packet_end */
	xdr_put_uint(w, h->prog);
	xdr_put_uint(w, h->vers);
	xdr_put_int(w, h->proc);
	xdr_put_uint(w, h->type);
	xdr_put_uint(w, h->serial);
	xdr_put_uint(w, h->status);
	return start;
}

int rpc_packet_end(struct xdr_writer *w, size_t start)
{
	if (w->err)
		return w->err;
	if (w->len - start > RPC_PACKET_MAX)
		return -EMSGSIZE;
	return xdr_patch_uint(w, start, (uint32_t) (w->len - start));
}

int rpc_put_error(struct xdr_writer *w, const struct rpc_header *call, int code, int domain,
		  const char *msg)
{
	struct rpc_header h = *call;
	char text[RPC_ERROR_MSG_MAX + 1];
	size_t start;

	h.type = RPC_REPLY;
	h.status = RPC_ERROR;
	g_strlcpy(text, msg ? msg : "unknown error", sizeof(text));
	start = rpc_packet_begin(w, &h);
	xdr_put_int(w, code);
	xdr_put_int(w, domain);
	xdr_put_opt_string(w, text, RPC_STRING_MAX);
	xdr_put_int(w, RPC_LEVEL_ERROR);
	xdr_put_bool(w, false);		/* dom */
	xdr_put_opt_string(w, NULL, 0); /* str1 .. str3 */
	xdr_put_opt_string(w, NULL, 0);
	xdr_put_opt_string(w, NULL, 0);
	xdr_put_int(w, 0); /* int1, int2 */
	xdr_put_int(w, 0);
	xdr_put_bool(w, false); /* net */
	return rpc_packet_end(w, start);
}
