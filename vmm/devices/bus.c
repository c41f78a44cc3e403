/* io.c - port I/O dispatch table. */
#include "vmm/devices/bus.h"

#include <errno.h>
#include <string.h>

int io_register(struct io_bus *bus, uint16_t base, uint16_t len, io_fn fn, void *opaque)
{
	uint32_t end = (uint32_t) base + len;

	if (len == 0 || end > 0x10000)
		return -EINVAL;
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct io_handler *h = &bus->handlers[i];

		if (base < (uint32_t) h->base + h->len && h->base < end)
			return -EEXIST;
	}
	if (bus->nr == IO_MAX_HANDLERS)
		return -ENOSPC;
	bus->handlers[bus->nr++] = (struct io_handler){base, len, fn, opaque};
	return 0;
}

bool io_dispatch(const struct io_bus *bus, uint16_t port, bool write, uint8_t *data, unsigned size)
{
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct io_handler *h = &bus->handlers[i];

		if (port >= h->base && port - h->base < h->len) {
			h->fn(h->opaque, port, write, data, size);
			return true;
		}
	}
	if (!write)
		memset(data, 0xff, size);
	return false;
}
