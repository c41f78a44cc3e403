/* bus.h - the one device path: port I/O and MMIO ranges, one handler type, 64-bit addresses. */
#ifndef VMM_DEVICES_BUS_H
#define VMM_DEVICES_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_HANDLERS 16    /* per address space */
#define BUS_PIO_END 0x10000ull /* x86 port space: ports 0..0xffff */

enum bus_space {
	BUS_PIO,  /* x86 port I/O (KVM_EXIT_IO) */
	BUS_MMIO, /* guest-physical addresses no memslot backs (KVM_EXIT_MMIO) */
	BUS_NR_SPACES,
};

/* Handle an access of @len bytes at @addr. @addr is absolute (the port or guest-physical
 * address the guest used, not an offset): a device that needs the offset keeps its base.
 * For a write @data holds the bytes; for a read the handler fills @data. Called on the
 * vCPU thread that exited. */
typedef void (*bus_fn)(void *opaque, uint64_t addr, bool write, uint8_t *data, unsigned len);

struct bus_handler {
	uint64_t base;
	uint64_t len;
	bus_fn fn;
	void *opaque;
};

struct bus {
	unsigned nr[BUS_NR_SPACES];
	struct bus_handler handlers[BUS_NR_SPACES][BUS_MAX_HANDLERS];
};

/* Claim [base, base+len) of @space for @fn. Returns 0; -EINVAL if @len is 0, the range
 * does not end below 2^64, lies beyond the port space (BUS_PIO) or @space is unknown; -EEXIST if
 * it overlaps a claimed range of the same space; -ENOSPC when the space is full. Must be
 * called before the vCPUs run: dispatch reads the bus without locks. */
int bus_register(struct bus *bus, enum bus_space space, uint64_t base, uint64_t len, bus_fn fn,
		 void *opaque);

/* Hand one access to the device whose range holds @addr (its first byte decides).
 * Returns false if none does; then a read sees 0xff in every byte of @data. */
bool bus_dispatch(const struct bus *bus, enum bus_space space, uint64_t addr, bool write,
		  uint8_t *data, unsigned len);

#endif
