/* test_sbuf.c - saved-state buffers: round trip, little-endian layout, truncation and
 * checks are sticky, blobs stay inside the buffer. */
#include <string.h>

#include "lib/sbuf.h"
#include "tests/unit/check.h"

static void test_round_trip(void)
{
	struct sbuf b;
	struct sbuf_reader r;
	uint8_t raw[3] = {7, 8, 9}, got[3];
	uint32_t n;
	const uint8_t *blob;

	sbuf_init(&b);
	sbuf_put_u8(&b, 0xab);
	sbuf_put_u16(&b, 0x1234);
	sbuf_put_u32(&b, 0xdeadbeef);
	sbuf_put_u64(&b, 0x0102030405060708ull);
	sbuf_put_bytes(&b, raw, 3);
	sbuf_put_blob(&b, "hello", 5);
	CHECK_EQ(b.err, 0);
	CHECK_EQ(b.len, 1 + 2 + 4 + 8 + 3 + 4 + 5);
	CHECK_EQ(b.data[1], 0x34); /* little-endian */
	CHECK_EQ(b.data[7], 0x08);
	sbuf_reader_init(&r, b.data, b.len);
	CHECK_EQ(sbuf_get_u8(&r), 0xab);
	CHECK_EQ(sbuf_get_u16(&r), 0x1234);
	CHECK_EQ(sbuf_get_u32(&r), 0xdeadbeef);
	CHECK_EQ(sbuf_get_u64(&r), 0x0102030405060708ull);
	sbuf_get_bytes(&r, got, 3);
	CHECK(!memcmp(got, raw, 3));
	blob = sbuf_get_blob(&r, &n);
	CHECK(blob && n == 5 && !memcmp(blob, "hello", 5));
	CHECK_EQ(sbuf_left(&r), 0);
	CHECK_EQ(sbuf_error(&r), 0);
	sbuf_free(&b);
}

static void test_truncated(void)
{
	uint8_t data[5] = {1, 0, 0, 0, 2};
	struct sbuf_reader r;

	sbuf_reader_init(&r, data, sizeof(data));
	CHECK_EQ(sbuf_get_u32(&r), 1);
	CHECK_EQ(sbuf_get_u32(&r), 0); /* only one byte left */
	CHECK(sbuf_error(&r) != 0);
	CHECK(strstr(r.why, "truncated at byte 4") != NULL);
	CHECK_EQ(sbuf_get_u8(&r), 0); /* sticky: even the byte that is there */
	CHECK_EQ(sbuf_left(&r), 0);
}

static void test_blob_bounds(void)
{
	uint8_t data[6] = {0xff, 0xff, 0xff, 0x7f, 'a', 'b'}; /* claims 2 GiB */
	struct sbuf_reader r;
	uint32_t n = 99;

	sbuf_reader_init(&r, data, sizeof(data));
	CHECK(sbuf_get_blob(&r, &n) == NULL);
	CHECK_EQ(n, 0);
	CHECK(sbuf_error(&r) != 0);
}

static void test_check(void)
{
	uint8_t data[2] = {200, 1};
	struct sbuf_reader r;
	uint8_t v;

	sbuf_reader_init(&r, data, sizeof(data));
	v = sbuf_get_u8(&r);
	CHECK(!sbuf_check(&r, v < 100, "count %u over 100", v));
	CHECK(!strcmp(r.why, "count 200 over 100"));
	CHECK(!sbuf_check(&r, false, "second")); /* the first message stays */
	CHECK(!strcmp(r.why, "count 200 over 100"));
	CHECK_EQ(sbuf_get_u8(&r), 0);
}

int main(void)
{
	test_round_trip();
	test_truncated();
	test_blob_bounds();
	test_check();
	return check_done("test_sbuf");
}
