/* fuzz_prog.h - what the virtio fuzz targets share: the input read as a program (struct
 * prog, prog_take, prog_take_gpa) and the audit of guest RAM after the device ran
 * (prog_audit, prog_run_round), and the operations that do not depend on the device
 * (prog_poke, prog_mmio). Each target has its own fake_ram and size, passed in. */
#ifndef TESTS_FUZZ_FUZZ_PROG_H
#define TESTS_FUZZ_FUZZ_PROG_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/page.h"
#include "tests/unit/virtio_driver.h"

struct prog {
	const uint8_t *p;
	size_t left;
};

/* The next bytes of the input, little endian; zeros once it is used up. */
static inline uint64_t prog_take(struct prog *pr, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && pr->left; i++, pr->left--)
		v |= (uint64_t) *pr->p++ << (8 * i);
	return v;
}

/* A gpa: mostly inside RAM (an offset of off_bytes input bytes), sometimes anything. */
static inline uint64_t prog_take_gpa(struct prog *pr, uint64_t ram_size, unsigned off_bytes)
{
	if ((uint8_t) prog_take(pr, 1) < 0xf0)
		return FAKE_RAM_BASE + prog_take(pr, off_bytes) % ram_size;
	return prog_take(pr, 8);
}

/* fake_ram_unguarded, cheaper: unchanged 4 KiB blocks are skipped with one memcmp (this
 * runs after every worker round and sets the pace of the fuzzer). */
static inline uint64_t prog_unguarded(const struct fake_ram *ram)
{
	uint64_t bad = 0;

	for (uint64_t c = 0; c < ram->size; c += PAGE_SIZE) {
		uint64_t n = ram->size - c < PAGE_SIZE ? ram->size - c : PAGE_SIZE;

		if (!memcmp(ram->mem + c, ram->shadow + c, n))
			continue;
		for (uint64_t i = c; i < c + n; i++)
			if (ram->mem[i] != ram->shadow[i] &&
			    !fake_ram_logged(ram, FAKE_RAM_BASE + i))
				bad++;
	}
	return bad;
}

/* Every write_begin ended, and no guest byte changed outside a write_begin range. */
static inline void prog_audit(const struct fake_ram *ram)
{
	if (ram->open || ram->bad_ends || prog_unguarded(ram))
		abort();
}

/* Worker rounds until the device has nothing left to do, audited after each. */
static inline void prog_run_round(struct fake_ram *ram, struct virtio_dev *dev)
{
	fake_ram_snapshot(ram);
	while (virtio_dev_poll(dev, 0) > 0)
		prog_audit(ram);
	prog_audit(ram);
}

/* A store of 8 input bytes anywhere in guest RAM (the offset from off_bytes bytes). */
static inline void prog_poke(struct fake_ram *ram, struct prog *pr, unsigned off_bytes)
{
	uint64_t off = prog_take(pr, off_bytes) % (ram->size - 8);
	uint64_t v = prog_take(pr, 8);

	memcpy(ram->mem + off, &v, 8);
}

/* A register access of any width at any offset inside the window, read or write. */
static inline void prog_mmio(struct virtio_dev *dev, struct prog *pr)
{
	static const unsigned widths[] = {1, 2, 4, 8};
	uint64_t off = prog_take(pr, 2) % VIRTIO_MMIO_SIZE;
	unsigned len = widths[prog_take(pr, 1) % 4];
	uint64_t v = prog_take(pr, 4);

	if (off + len <= VIRTIO_MMIO_SIZE)
		virtio_mmio_access(dev, off, prog_take(pr, 1) & 1, (uint8_t *) &v, len);
}

#endif
