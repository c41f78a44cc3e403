/* test_bus.c - the device bus: range checks, overlaps, 64-bit bounds, dispatch per space. */
#include "vmm/devices/bus.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/check.h"

/* What the last call of a fake device saw. */
struct fake_dev {
	int calls;
	uint64_t addr;
	bool write;
	unsigned len;
	uint8_t byte; /* written byte, or the one a read returns */
};

static void fake_fn(void *opaque, uint64_t addr, bool write, uint8_t *data, unsigned len)
{
	struct fake_dev *d = opaque;

	d->calls++;
	d->addr = addr;
	d->write = write;
	d->len = len;
	if (write)
		d->byte = data[0];
	else
		memset(data, d->byte, len);
}

static void test_bounds(void)
{
	struct bus b = {0};
	struct fake_dev d = {0};

	CHECK_EQ(bus_register(&b, BUS_PIO, 0x10, 0, fake_fn, &d), -EINVAL);
	CHECK_EQ(bus_register(&b, BUS_PIO, 0xfff8, 9, fake_fn, &d), -EINVAL); /* past 0xffff */
	CHECK_EQ(bus_register(&b, BUS_PIO, 0xfff8, 8, fake_fn, &d), 0);	      /* last 8 ports */
	CHECK_EQ(bus_register(&b, BUS_PIO, 0x10000, 1, fake_fn, &d), -EINVAL);
	CHECK_EQ(bus_register(&b, BUS_MMIO, UINT64_MAX - 15, 32, fake_fn, &d), -EINVAL); /* wraps */
	CHECK_EQ(bus_register(&b, BUS_MMIO, UINT64_MAX, 2, fake_fn, &d), -EINVAL);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 1ull << 40, 1ull << 32, fake_fn, &d), 0); /* above 4G */
	CHECK_EQ(bus_register(&b, BUS_NR_SPACES, 0, 1, fake_fn, &d), -EINVAL);
	CHECK_EQ(b.nr[BUS_PIO], 1);
	CHECK_EQ(b.nr[BUS_MMIO], 1);
}

static void test_overlaps(void)
{
	struct bus b = {0};
	struct fake_dev d = {0};

	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xd0000000, 0x200, fake_fn, &d), 0);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xd00001ff, 1, fake_fn, &d), -EEXIST); /* last byte */
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xcfffffff, 2, fake_fn, &d), -EEXIST); /* first byte */
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xc0000000, 0x20000000, fake_fn, &d), -EEXIST);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xd0000200, 0x200, fake_fn, &d), 0); /* adjacent */
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xcffffe00, 0x200, fake_fn, &d), 0); /* adjacent */
	/* The same numbers in the other space are another range. */
	CHECK_EQ(bus_register(&b, BUS_PIO, 0x100, 0x10, fake_fn, &d), 0);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0x100, 0x10, fake_fn, &d), 0);
	CHECK_EQ(bus_register(&b, BUS_PIO, 0x108, 0x10, fake_fn, &d), -EEXIST);
	CHECK_EQ(b.nr[BUS_MMIO], 4);
}

static void test_full(void)
{
	struct bus b = {0};
	struct fake_dev d = {0};

	for (unsigned i = 0; i < BUS_MAX_HANDLERS; i++)
		CHECK_EQ(bus_register(&b, BUS_PIO, i * 4, 4, fake_fn, &d), 0);
	CHECK_EQ(bus_register(&b, BUS_PIO, 0x1000, 4, fake_fn, &d), -ENOSPC);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0x1000, 4, fake_fn, &d), 0); /* its own table */
}

static void test_dispatch(void)
{
	struct bus b = {0};
	struct fake_dev pio = {.byte = 0x5a}, mmio = {.byte = 0xa5};
	uint8_t data[8] = {0x42};

	CHECK_EQ(bus_register(&b, BUS_PIO, 0x3f8, 8, fake_fn, &pio), 0);
	CHECK_EQ(bus_register(&b, BUS_MMIO, 0xfeb00000ull, 0x1000, fake_fn, &mmio), 0);
	CHECK(bus_dispatch(&b, BUS_PIO, 0x3f9, true, data, 1));
	CHECK_EQ(pio.calls, 1);
	CHECK_EQ(pio.addr, 0x3f9); /* absolute, not an offset */
	CHECK(pio.write);
	CHECK_EQ(pio.byte, 0x42);
	CHECK_EQ(mmio.calls, 0);
	CHECK(bus_dispatch(&b, BUS_MMIO, 0xfeb00ffcull, false, data, 4));
	CHECK_EQ(mmio.calls, 1);
	CHECK_EQ(mmio.addr, 0xfeb00ffcull);
	CHECK_EQ(mmio.len, 4);
	CHECK(!mmio.write);
	CHECK_EQ(data[3], 0xa5);
	CHECK_EQ(pio.calls, 1);
	/* An MMIO address equal to a claimed port is not that port. */
	memset(data, 0, sizeof(data));
	CHECK(!bus_dispatch(&b, BUS_MMIO, 0x3f8, false, data, 2));
	CHECK_EQ(data[0], 0xff);
	CHECK_EQ(data[1], 0xff);
	CHECK_EQ(data[2], 0); /* only @len bytes */
	CHECK_EQ(pio.calls, 1);
	/* Just past the end, and far above it. */
	CHECK(!bus_dispatch(&b, BUS_MMIO, 0xfeb01000ull, false, data, 1));
	CHECK(!bus_dispatch(&b, BUS_MMIO, 0xfeb00000ull + (1ull << 32), false, data, 1));
	CHECK(!bus_dispatch(&b, BUS_PIO, 0x400, false, data, 1));
	CHECK_EQ(mmio.calls, 1);
	/* An unclaimed write changes nothing and reaches no one. */
	data[0] = 7;
	CHECK(!bus_dispatch(&b, BUS_PIO, 0x3f7, true, data, 1));
	CHECK_EQ(data[0], 7);
	CHECK_EQ(pio.calls, 1);
	CHECK(!bus_dispatch(&b, BUS_NR_SPACES, 0x3f8, true, data, 1));
}

static void test_top_of_space(void)
{
	struct bus b = {0};
	struct fake_dev d = {.byte = 1};
	uint8_t data[8];

	/* The highest range a 64-bit space allows ends one byte short of 2^64. */
	CHECK_EQ(bus_register(&b, BUS_MMIO, UINT64_MAX - 0xfff, 0xfff, fake_fn, &d), 0);
	CHECK(bus_dispatch(&b, BUS_MMIO, UINT64_MAX - 1, false, data, 1));
	CHECK(!bus_dispatch(&b, BUS_MMIO, UINT64_MAX, false, data, 1));
	CHECK(!bus_dispatch(&b, BUS_MMIO, 0, false, data, 1));
	CHECK_EQ(d.calls, 1);
}

int main(void)
{
	test_bounds();
	test_overlaps();
	test_full();
	test_dispatch();
	test_top_of_space();
	return check_done("test_bus");
}
