/* test_xdr.c - the bounded XDR reader and writer: encodings byte for byte, round trips,
 * limits, sticky errors, hostile lengths. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "tests/unit/check.h"
#include "vmm/libvirt/xdr.h"

static void test_encodings(void)
{
	static const uint8_t want[] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02,
				       0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x03,
				       'a',  'b',  'c',	 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				       0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 'h',	 'i',  0x00, 0x00};
	struct xdr_writer w;

	xdr_writer_init(&w, 1024);
	xdr_put_int(&w, -2);
	xdr_put_bool(&w, true);
	xdr_put_uhyper(&w, 0x0102030405060708ull);
	xdr_put_string(&w, "abc", 16);
	xdr_put_opt_string(&w, NULL, 16);
	xdr_put_opt_string(&w, "hi", 16);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, sizeof(want));
	CHECK(w.len == sizeof(want) && !memcmp(w.buf, want, sizeof(want)));
	xdr_writer_free(&w);
}

static void test_round_trip(void)
{
	struct xdr_writer w;
	struct xdr_reader r;
	uint8_t fixed[5] = {1, 2, 3, 4, 5}, back[5];
	const uint8_t *op;
	int32_t i;
	uint32_t u, n;
	int64_t h;
	uint64_t uh;
	double d;
	bool b;
	char *s, *os, buf[8];

	xdr_writer_init(&w, 4096);
	xdr_put_int(&w, INT32_MIN);
	xdr_put_uint(&w, UINT32_MAX);
	xdr_put_hyper(&w, INT64_MIN + 5);
	xdr_put_uhyper(&w, UINT64_MAX - 7);
	xdr_put_double(&w, -1.5e300);
	xdr_put_bool(&w, false);
	xdr_put_opaque_fixed(&w, fixed, sizeof(fixed));
	xdr_put_opaque_var(&w, fixed, 3, 8);
	xdr_put_string(&w, "hello", 64);
	xdr_put_string(&w, "seven!!", 64);
	xdr_put_opt_string(&w, NULL, 64);
	xdr_put_array_len(&w, 2, 2);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len % 4, 0);

	xdr_reader_init(&r, w.buf, w.len);
	xdr_get_int(&r, &i);
	xdr_get_uint(&r, &u);
	xdr_get_hyper(&r, &h);
	xdr_get_uhyper(&r, &uh);
	xdr_get_double(&r, &d);
	xdr_get_bool(&r, &b);
	xdr_get_opaque_fixed(&r, back, sizeof(back));
	xdr_get_opaque_var(&r, &op, &n, 8);
	CHECK_EQ(n, 3);
	CHECK(op && !memcmp(op, fixed, 3));
	xdr_get_string(&r, &s, 64);
	xdr_get_string_buf(&r, buf, sizeof(buf));
	xdr_get_opt_string(&r, &os, 64);
	xdr_get_array_len(&r, &n, 2, 0);
	CHECK_EQ(xdr_reader_done(&r), 0);
	CHECK(i == INT32_MIN);
	CHECK_EQ(u, UINT32_MAX);
	CHECK(h == INT64_MIN + 5);
	CHECK(uh == UINT64_MAX - 7);
	CHECK(d == -1.5e300);
	CHECK(!b);
	CHECK(!memcmp(back, fixed, sizeof(fixed)));
	CHECK(s && !strcmp(s, "hello"));
	CHECK(!strcmp(buf, "seven!!"));
	CHECK(os == NULL);
	CHECK_EQ(n, 2);
	g_free(s);
	xdr_writer_free(&w);
}

/* A reader over @words big-endian words. */
static void reader_words(struct xdr_reader *r, uint8_t *buf, const uint32_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf[4 * i] = words[i] >> 24;
		buf[4 * i + 1] = words[i] >> 16;
		buf[4 * i + 2] = words[i] >> 8;
		buf[4 * i + 3] = words[i];
	}
	xdr_reader_init(r, buf, 4 * n);
}

static void test_hostile_lengths(void)
{
	uint8_t buf[64];
	struct xdr_reader r;
	const uint8_t *p;
	uint32_t n;
	char *s;

	/* A string that claims 4 GiB - 1 bytes: refused by its maximum, nothing allocated. */
	reader_words(&r, buf, (uint32_t[]){0xffffffffu, 0x41414141}, 2);
	CHECK_EQ(xdr_get_string(&r, &s, 1u << 20), -EMSGSIZE);
	CHECK(s == NULL);
	/* Under the maximum but more than is there: truncated. */
	reader_words(&r, buf, (uint32_t[]){100, 0x41414141}, 2);
	CHECK_EQ(xdr_get_string(&r, &s, 1u << 20), -EBADMSG);
	CHECK(s == NULL);
	/* An opaque whose padding would run past the end (5 bytes, only 5 there). */
	reader_words(&r, buf, (uint32_t[]){5, 0x41414141, 0x42000000}, 3);
	r.len -= 3;
	CHECK_EQ(xdr_get_opaque_var(&r, &p, &n, 64), -EBADMSG);
	CHECK_EQ(n, 0);
	/* Non-zero padding is malformed. */
	reader_words(&r, buf, (uint32_t[]){1, 0x41010000}, 2);
	CHECK_EQ(xdr_get_opaque_var(&r, &p, &n, 64), -EBADMSG);
	/* An embedded NUL is not a string. */
	reader_words(&r, buf, (uint32_t[]){4, 0x41004141}, 2);
	CHECK_EQ(xdr_get_string(&r, &s, 64), -EBADMSG);
	/* An array whose count the remaining bytes cannot hold. */
	reader_words(&r, buf, (uint32_t[]){1000, 0, 0}, 3);
	CHECK_EQ(xdr_get_array_len(&r, &n, 16384, 24), -EBADMSG);
	CHECK_EQ(n, 0);
	reader_words(&r, buf, (uint32_t[]){17, 0}, 2);
	CHECK_EQ(xdr_get_array_len(&r, &n, 16, 0), -EMSGSIZE);
	/* A bool is 0 or 1. */
	reader_words(&r, buf, (uint32_t[]){2}, 1);
	bool b = true;
	CHECK_EQ(xdr_get_bool(&r, &b), -EBADMSG);
	CHECK(!b);
	/* A string longer than the caller's buffer. */
	reader_words(&r, buf, (uint32_t[]){8, 0x41414141, 0x41414141}, 3);
	char small[8];
	CHECK_EQ(xdr_get_string_buf(&r, small, sizeof(small)), -EMSGSIZE);
	CHECK_EQ(small[0], 0);
}

static void test_sticky_and_done(void)
{
	uint8_t buf[16];
	struct xdr_reader r;
	uint32_t u = 99;
	int32_t i = 99;

	/* Truncated: the first failure sticks, later reads give zero. */
	reader_words(&r, buf, (uint32_t[]){7}, 1);
	r.len = 3;
	CHECK_EQ(xdr_get_uint(&r, &u), -EBADMSG);
	CHECK_EQ(u, 0);
	r.len = 4; /* even with bytes there again, the reader stays failed */
	CHECK_EQ(xdr_get_int(&r, &i), -EBADMSG);
	CHECK_EQ(i, 0);
	CHECK_EQ(xdr_reader_done(&r), -EBADMSG);
	/* Trailing bytes make a message malformed. */
	reader_words(&r, buf, (uint32_t[]){1, 2}, 2);
	xdr_get_uint(&r, &u);
	CHECK_EQ(xdr_reader_done(&r), -EBADMSG);
	xdr_get_uint(&r, &u);
	CHECK_EQ(xdr_reader_done(&r), 0);
}

static void test_writer_limits(void)
{
	struct xdr_writer w;
	char big[40];

	xdr_writer_init(&w, 12);
	CHECK_EQ(xdr_put_uhyper(&w, 1), 0);
	CHECK_EQ(xdr_put_uhyper(&w, 2), -EMSGSIZE); /* 16 > 12 */
	CHECK_EQ(xdr_put_int(&w, 3), -EMSGSIZE);    /* sticky, though 4 would fit */
	CHECK_EQ(w.len, 8);
	xdr_writer_truncate(&w, 4);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, 4);
	CHECK_EQ(xdr_put_int(&w, 3), 0);
	xdr_writer_free(&w);

	xdr_writer_init(&w, 1 << 20);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK_EQ(xdr_put_string(&w, big, 16), -EMSGSIZE); /* the peer would refuse it */
	xdr_writer_reset(&w);
	CHECK_EQ(xdr_put_array_len(&w, 5, 4), -EMSGSIZE);
	xdr_writer_reset(&w);
	xdr_put_uint(&w, 0);
	xdr_put_uint(&w, 0);
	CHECK_EQ(xdr_patch_uint(&w, 4, 0xabcdef01u), 0);
	CHECK_EQ(w.buf[4], 0xab);
	CHECK_EQ(w.buf[7], 0x01);
	CHECK_EQ(xdr_patch_uint(&w, 6, 1), -EINVAL);
	/* Growth past the first allocation keeps what was written. */
	for (uint32_t k = 0; k < 10000; k++)
		xdr_put_uint(&w, k);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, 8 + 40000);
	CHECK_EQ(w.buf[8 + 4 * 9999 + 3], 9999 & 0xff);
	xdr_writer_free(&w);
}

int main(void)
{
	test_encodings();
	test_round_trip();
	test_hostile_lengths();
	test_sticky_and_done();
	test_writer_limits();
	return check_done("test_xdr");
}
