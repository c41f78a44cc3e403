/* test_control_devices.c - the report's device summary (vmm/control/devices.c). */
#include "vmm/control/devices.h"

#include <string.h>

#include "tests/unit/check.h"
#include "vmm/fleet.h"

/* A device of @kind in @state with one counter @key = @value ("" for none). */
static struct fleet_device dev(const char *kind, const char *state, const char *key, uint64_t value)
{
	struct fleet_device d;

	memset(&d, 0, sizeof(d));
	strcpy(d.kind, kind);
	strcpy(d.state, state);
	d.irq = -1;
	if (key[0]) {
		strcpy(d.counters[0].key, key);
		d.counters[0].value = value;
		d.nr_counters = 1;
	}
	return d;
}

static void test_summary(void)
{
	struct fleet_device d[5] = {
	    dev("uart", "active", "", 0),
	    dev("blk", "needs-reset", "actual_pages", 99), /* not a balloon: ignored */
	    dev("balloon", "driver-ok", "actual_pages", 4096),
	    dev("rng", "failed", "reads", 3),
	    dev("console", "driver", "", 0),
	};
	struct control_devices_summary s;

	control_devices_summarise(d, 5, &s);
	CHECK_EQ(s.count, 5);
	CHECK_EQ(s.broken, 2);
	CHECK_EQ(s.balloon_bytes, 4096ull * 4096);
	control_devices_summarise(d, 2, &s);
	CHECK_EQ(s.count, 2);
	CHECK_EQ(s.broken, 1);
	CHECK_EQ(s.balloon_bytes, 0);
	control_devices_summarise(NULL, 0, &s);
	CHECK_EQ(s.count, 0);
	CHECK_EQ(s.balloon_bytes, 0);
}

int main(void)
{
	test_summary();
	return check_done("test_control_devices");
}
