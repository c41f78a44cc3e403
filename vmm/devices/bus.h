/* io.h - one dispatch path for guest port I/O: devices register a port range and a handler. */
#ifndef VMM_IO_H
#define VMM_IO_H

#include <stdbool.h>
#include <stdint.h>

#define IO_MAX_HANDLERS 16

/* Handle an access of @size bytes (1, 2 or 4) at @port (absolute). For a write, @data
 * holds the bytes; for a read the handler fills @data. Called on the vCPU thread. */
typedef void (*io_fn)(void *opaque, uint16_t port, bool write, uint8_t *data, unsigned size);

struct io_handler {
	uint16_t base;
	uint16_t len;
	io_fn fn;
	void *opaque;
};

struct io_bus {
	unsigned nr;
	struct io_handler handlers[IO_MAX_HANDLERS];
};

/* Register [base, base+len). Returns 0, -EEXIST on overlap, -ENOSPC when full. Must be
 * called before the vCPUs run (the bus is read without locks). */
int io_register(struct io_bus *bus, uint16_t base, uint16_t len, io_fn fn, void *opaque);

/* Dispatch one access. Returns false if no device claims @port; then reads see 0xff. */
bool io_dispatch(const struct io_bus *bus, uint16_t port, bool write, uint8_t *data, unsigned size);

#endif
