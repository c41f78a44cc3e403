/* test_rpc.c - libvirt RPC packets: framing a byte stream (byte by byte, several
 * packets, hostile lengths), header decoding, and the error reply's encoding. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "tests/unit/check.h"
#include "vmm/libvirt/rpc.h"

/* A packet with header @h and @body_words zero words of body, appended to @w. */
static void put_packet(struct xdr_writer *w, const struct rpc_header *h, int body_words)
{
	size_t start = rpc_packet_begin(w, h);

	for (int i = 0; i < body_words; i++)
		xdr_put_uint(w, 0x11111111u * (i + 1));
	CHECK_EQ(rpc_packet_end(w, start), 0);
}

/* Feed @len bytes in chunks of @chunk; returns how many packets came out whole. */
static int feed(struct rpc_framer *f, const uint8_t *p, size_t len, size_t chunk, int *bad)
{
	int packets = 0;

	*bad = 0;
	while (len) {
		uint8_t *dst;
		size_t want, n;
		int ret;

		rpc_framer_want(f, &dst, &want);
		n = MIN(MIN(want, chunk), len);
		memcpy(dst, p, n);
		p += n;
		len -= n;
		ret = rpc_framer_got(f, n);
		if (ret < 0) {
			*bad = ret;
			return packets;
		}
		if (ret == 1) {
			struct rpc_header h;
			const uint8_t *pkt, *body;
			size_t plen, blen;

			pkt = rpc_framer_packet(f, &plen);
			CHECK_EQ(rpc_header_decode(pkt, plen, &h, &body, &blen), 0);
			CHECK_EQ(h.serial, 100 + packets);
			CHECK_EQ(blen, 4 * packets);
			packets++;
			rpc_framer_next(f);
		}
	}
	return packets;
}

static void test_framing(void)
{
	struct rpc_header h = {RPC_PROG_REMOTE, RPC_VERSION, 66, RPC_CALL, 0, RPC_OK};
	struct rpc_framer f;
	struct xdr_writer w;
	int bad;

	xdr_writer_init(&w, 1 << 16);
	for (int i = 0; i < 3; i++) {
		h.serial = 100 + i;
		put_packet(&w, &h, i);
	}
	CHECK_EQ(w.len, 3 * RPC_PREFIX_SIZE + 4 * 3);
	CHECK_EQ(w.buf[3], RPC_PREFIX_SIZE); /* the length word counts itself */
	for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
		rpc_framer_init(&f);
		CHECK_EQ(feed(&f, w.buf, w.len, chunk, &bad), 3);
		CHECK_EQ(bad, 0);
		rpc_framer_free(&f);
	}
	/* The framer never asks for bytes beyond the current packet. */
	rpc_framer_init(&f);
	uint8_t *dst;
	size_t want;
	rpc_framer_want(&f, &dst, &want);
	CHECK_EQ(want, RPC_LEN_SIZE);
	memcpy(dst, w.buf, 4);
	CHECK_EQ(rpc_framer_got(&f, 4), 0);
	rpc_framer_want(&f, &dst, &want);
	CHECK_EQ(want, RPC_PREFIX_SIZE - 4);
	CHECK_EQ(rpc_framer_got(&f, want + 1), -EINVAL);
	rpc_framer_free(&f);
	xdr_writer_free(&w);
}

static int feed_length(uint32_t len)
{
	uint8_t word[4] = {len >> 24, len >> 16, len >> 8, len};
	struct rpc_framer f;
	int bad, n;

	rpc_framer_init(&f);
	n = feed(&f, word, 4, 4, &bad);
	rpc_framer_free(&f);
	return n ? 99 : bad;
}

/* A client that announces the largest packet and sends little costs little. */
static void test_lazy_buffer(void)
{
	uint8_t word[4] = {RPC_PACKET_MAX >> 24, (RPC_PACKET_MAX >> 16) & 0xff,
			   (RPC_PACKET_MAX >> 8) & 0xff, RPC_PACKET_MAX & 0xff};
	struct rpc_framer f;
	uint8_t *dst;
	size_t want, total = 0;
	int ret = 0;

	rpc_framer_init(&f);
	rpc_framer_want(&f, &dst, &want);
	memcpy(dst, word, 4);
	CHECK_EQ(rpc_framer_got(&f, 4), 0);
	CHECK(f.cap < 64);
	for (int i = 0; i < 10; i++) { /* 10 reads of whatever is offered: ~28 KiB */
		rpc_framer_want(&f, &dst, &want);
		memset(dst, 0, want);
		total += want;
		ret = rpc_framer_got(&f, want);
	}
	CHECK_EQ(ret, 0);
	CHECK(f.cap <= 2 * (total + 4));
	/* ... and the packet still completes, whole. */
	while (ret == 0) {
		rpc_framer_want(&f, &dst, &want);
		memset(dst, 0, want);
		ret = rpc_framer_got(&f, want);
	}
	CHECK_EQ(ret, 1);
	size_t len;
	rpc_framer_packet(&f, &len);
	CHECK_EQ(len, RPC_PACKET_MAX);
	rpc_framer_free(&f);
}

static void test_hostile_lengths(void)
{
	CHECK_EQ(feed_length(0), -EMSGSIZE);
	CHECK_EQ(feed_length(RPC_PREFIX_SIZE - 1), -EMSGSIZE);
	CHECK_EQ(feed_length(0xffffffffu), -EMSGSIZE);
	CHECK_EQ(feed_length(RPC_PACKET_MAX + 1), -EMSGSIZE);
	CHECK_EQ(feed_length(RPC_PACKET_MAX), 0); /* allowed: waits for the body */
	CHECK_EQ(feed_length(RPC_PREFIX_SIZE), 0);
}

static void test_header(void)
{
	struct rpc_header h = {RPC_PROG_KEEPALIVE, RPC_VERSION, 1, RPC_MESSAGE, 7, RPC_OK}, out;
	struct xdr_writer w;
	const uint8_t *body;
	size_t blen;

	xdr_writer_init(&w, 1024);
	put_packet(&w, &h, 2);
	CHECK_EQ(rpc_header_decode(w.buf, w.len, &out, &body, &blen), 0);
	CHECK_EQ(out.prog, RPC_PROG_KEEPALIVE);
	CHECK_EQ(out.proc, 1);
	CHECK_EQ(out.type, RPC_MESSAGE);
	CHECK_EQ(out.serial, 7);
	CHECK_EQ(blen, 8);
	CHECK(body == w.buf + RPC_PREFIX_SIZE);
	/* The length word must agree with what arrived. */
	CHECK_EQ(rpc_header_decode(w.buf, w.len - 4, &out, &body, &blen), -EBADMSG);
	CHECK_EQ(rpc_header_decode(w.buf, 10, &out, &body, &blen), -EBADMSG);
	xdr_writer_free(&w);
}

static void test_error_reply(void)
{
	struct rpc_header call = {RPC_PROG_REMOTE, RPC_VERSION, 426, RPC_CALL, 42, RPC_OK}, h;
	struct xdr_writer w;
	struct xdr_reader r;
	const uint8_t *body;
	int32_t code, domain, level, i1, i2;
	bool dom, net;
	char *msg, *s1, *s2, *s3;
	size_t blen;

	xdr_writer_init(&w, 4096);
	CHECK_EQ(rpc_put_error(&w, &call, 3, RPC_FROM_REMOTE, "not here"), 0);
	CHECK_EQ(rpc_header_decode(w.buf, w.len, &h, &body, &blen), 0);
	CHECK_EQ(h.type, RPC_REPLY);
	CHECK_EQ(h.status, RPC_ERROR);
	CHECK_EQ(h.serial, 42);
	CHECK_EQ(h.proc, 426);
	xdr_reader_init(&r, body, blen);
	xdr_get_int(&r, &code);
	xdr_get_int(&r, &domain);
	xdr_get_opt_string(&r, &msg, 1024);
	xdr_get_int(&r, &level);
	xdr_get_bool(&r, &dom);
	xdr_get_opt_string(&r, &s1, 1024);
	xdr_get_opt_string(&r, &s2, 1024);
	xdr_get_opt_string(&r, &s3, 1024);
	xdr_get_int(&r, &i1);
	xdr_get_int(&r, &i2);
	xdr_get_bool(&r, &net);
	CHECK_EQ(xdr_reader_done(&r), 0);
	CHECK_EQ(code, 3);
	CHECK_EQ(domain, RPC_FROM_REMOTE);
	CHECK(msg && !strcmp(msg, "not here"));
	CHECK_EQ(level, 2);
	CHECK(!dom && !net && !s1 && !s2 && !s3);
	g_free(msg);
	/* A writer too small for the reply reports it instead of a short packet. */
	xdr_writer_free(&w);
	xdr_writer_init(&w, 40);
	CHECK_EQ(rpc_put_error(&w, &call, 3, RPC_FROM_REMOTE, "not here"), -EMSGSIZE);
	xdr_writer_free(&w);
}

int main(void)
{
	test_framing();
	test_hostile_lengths();
	test_lazy_buffer();
	test_header();
	test_error_reply();
	return check_done("test_rpc");
}
