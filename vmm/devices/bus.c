/* bus.c - device dispatch for port I/O and MMIO: a small table per address space. */
#include "vmm/devices/bus.h"

#include <errno.h>
#include <string.h>

/* Does [base, base+len) hold @addr? @len > 0 and no wrap, as bus_register checks. */
static bool handler_holds(const struct bus_handler *h, uint64_t addr)
{
	return addr >= h->base && addr - h->base < h->len;
}

static bool overlaps(const struct bus_handler *h, uint64_t base, uint64_t len)
{
	return base < h->base + h->len && h->base < base + len;
}

static bool range_valid(enum bus_space space, uint64_t base, uint64_t len)
{
	if ((unsigned) space >= BUS_NR_SPACES || len == 0 || base + len < base)
		return false;
	return space != BUS_PIO || base + len <= BUS_PIO_END;
}

int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len, bus_fn fn,
		 void *opaque)
{
	if (!range_valid(space, base, len))
		return -EINVAL;
	for (unsigned i = 0; i < bus->nr[space]; i++)
		if (overlaps(&bus->handlers[space][i], base, len))
			return -EEXIST;
	if (bus->nr[space] == BUS_MAX_HANDLERS)
		return -ENOSPC;
	bus->handlers[space][bus->nr[space]++] = (struct bus_handler){base, len, fn, opaque};
	return 0;
}

bool bus_dispatch(const struct bus *bus, enum bus_space space, uint64_t addr, bool write,
		  uint8_t *data, unsigned len)
{
	for (unsigned i = 0; (unsigned) space < BUS_NR_SPACES && i < bus->nr[space]; i++) {
		const struct bus_handler *h = &bus->handlers[space][i];

		if (handler_holds(h, addr)) {
			h->fn(h->opaque, addr, write, data, len);
			return true;
		}
	}
	if (!write)
		memset(data, 0xff, len);
	return false;
}
