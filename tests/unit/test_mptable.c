/* test_mptable.c - the MP table as a guest kernel reads it: scan, checksums, entries, e820. */
#include "vmm/mptable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"

#define MIB (1ull << 20)

/* What a kernel learns from the table. The parser below follows the MP spec 1.4 byte
 * offsets on its own (it shares no structure with mptable.c). */
struct parsed {
	uint64_t mpc_gpa;
	unsigned ncpus, nbsp, bsp_apic;
	uint8_t apic_ids[64];
	unsigned nbus, nioapic, nintsrc, nlint;
	uint8_t ioapic_id, ioapic_version;
	uint32_t ioapic_addr, lapic_addr;
	bool pin_seen[24]; /* ISA IRQ i routed to IOAPIC pin i */
	bool lint_extint0, lint_nmi1;
};

static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	       (uint32_t) p[3] << 24;
}

/* The floating pointer as Linux's scan accepts it, or 0. */
static uint64_t find_mpf(struct guest_mem *m)
{
	const uint8_t *b = mem_gpa(m, MPTABLE_GPA, MPTABLE_SIZE);

	for (uint64_t off = 0; b && off < MPTABLE_SIZE; off += 16) {
		const uint8_t *p = b + off;

		if (!memcmp(p, "_MP_", 4) && p[8] == 1 && sum8(p, 16) == 0 &&
		    (p[9] == 1 || p[9] == 4))
			return MPTABLE_GPA + off;
	}
	return 0;
}

static void parse_cpu(struct parsed *t, const uint8_t *e)
{
	if (!(e[3] & 1))
		return;
	if (t->ncpus < sizeof(t->apic_ids))
		t->apic_ids[t->ncpus] = e[1];
	t->ncpus++;
	if (e[3] & 2) {
		t->nbsp++;
		t->bsp_apic = e[1];
	}
	CHECK(e[2] != 0); /* Linux complains about APIC version 0 */
}

static void parse_irq(struct parsed *t, const uint8_t *e)
{
	if (e[0] == 3) {
		t->nintsrc++;
		/* INT type, bus 0 (ISA), src IRQ == dst pin, to our IOAPIC */
		if (e[1] == 0 && e[4] == 0 && e[5] == e[7] && e[7] < 24 && e[6] == t->ioapic_id)
			t->pin_seen[e[7]] = true;
		return;
	}
	t->nlint++;
	if (e[1] == 3 && e[6] == 0xff && e[7] == 0)
		t->lint_extint0 = true;
	if (e[1] == 1 && e[6] == 0xff && e[7] == 1)
		t->lint_nmi1 = true;
}

/* One entry at @e of at most @room bytes; its length, or 0 if unknown (Linux: "Your
 * mptable is wrong"). */
static unsigned parse_entry(struct parsed *t, const uint8_t *e, unsigned room)
{
	switch (e[0]) {
	case 0:
		if (room >= 20)
			parse_cpu(t, e);
		return 20;
	case 1: t->nbus += !memcmp(e + 2, "ISA   ", 6) && e[1] == 0; return 8;
	case 2:
		t->nioapic++;
		t->ioapic_id = e[1];
		t->ioapic_version = e[2];
		t->ioapic_addr = rd32(e + 4);
		CHECK(e[3] & 1);
		return 8;
	case 3:
	case 4: parse_irq(t, e); return 8;
	}
	return 0;
}

/* Parse the guest's table as smp_scan_config + smp_check_mpc + smp_read_mpc would;
 * returns false if a kernel would reject it. */
static bool parse(struct guest_mem *m, struct parsed *t)
{
	uint64_t mpf = find_mpf(m);
	const uint8_t *p, *c;
	unsigned len, count = 0, off;

	memset(t, 0, sizeof(*t));
	if (!mpf)
		return false;
	p = mem_gpa(m, mpf, 16);
	t->mpc_gpa = rd32(p + 4);
	c = mem_gpa(m, t->mpc_gpa, 44);
	if (!c || memcmp(c, "PCMP", 4))
		return false;
	len = rd16(c + 4);
	if (len < 44 || !mem_gpa(m, t->mpc_gpa, len) || sum8(c, len) != 0 ||
	    (c[6] != 1 && c[6] != 4) || !(t->lapic_addr = rd32(c + 36)))
		return false;
	for (off = 44; off < len; count++) {
		unsigned n = parse_entry(t, c + off, len - off);

		if (!n || n > len - off)
			return false;
		off += n;
	}
	CHECK_EQ(count, rd16(c + 34)); /* entry count in the header */
	CHECK_EQ(rd16(c + 40), 0);     /* no extended table */
	return true;
}

static void new_guest(struct guest_mem *m, uint64_t size)
{
	if (mem_layout(m, size) || mem_map(m)) {
		fprintf(stderr, "cannot map a %llu-byte fake guest\n", (unsigned long long) size);
		exit(2);
	}
}

static void test_cpus(unsigned n)
{
	struct guest_mem m;
	struct parsed t;
	bool ids_ok = true;

	new_guest(&m, 64 * MIB);
	CHECK_EQ(mptable_write(&m, n), 0);
	CHECK(parse(&m, &t));
	CHECK_EQ(t.ncpus, n);
	CHECK_EQ(t.nbsp, 1);
	CHECK_EQ(t.bsp_apic, 0);
	for (unsigned i = 0; i < n && i < sizeof(t.apic_ids); i++)
		ids_ok &= t.apic_ids[i] == i;
	CHECK(ids_ok);
	CHECK_EQ(t.lapic_addr, 0xfee00000u);
	CHECK_EQ(t.nbus, 1);
	CHECK_EQ(t.nioapic, 1);
	CHECK_EQ(t.ioapic_version, 0x11);
	CHECK_EQ(t.ioapic_addr, 0xfec00000u);
	CHECK(t.ioapic_id >= n); /* distinct from every CPU's APIC id */
	CHECK_EQ(t.nintsrc, 24);
	for (unsigned pin = 0; pin < 24; pin++)
		CHECK(t.pin_seen[pin]);
	CHECK_EQ(t.nlint, 2);
	CHECK(t.lint_extint0);
	CHECK(t.lint_nmi1);
	CHECK(t.mpc_gpa >= MPTABLE_GPA && t.mpc_gpa < MPTABLE_GPA + MPTABLE_SIZE);
	mem_unmap(&m);
}

/* Any single corrupted byte of either structure makes a kernel reject the table. */
static void test_corrupt(void)
{
	struct guest_mem m;
	struct parsed t;
	uint8_t *b;

	new_guest(&m, 64 * MIB);
	b = mem_gpa(&m, MPTABLE_GPA, MPTABLE_SIZE);
	CHECK_EQ(mptable_write(&m, 2), 0);
	CHECK(parse(&m, &t));
	b[10]++; /* floating pointer checksum */
	CHECK(!parse(&m, &t));
	b[10]--;
	CHECK(parse(&m, &t));
	b[16 + 7] ^= 0x40; /* configuration table checksum */
	CHECK(!parse(&m, &t));
	b[16 + 7] ^= 0x40;
	b[16 + 44 + 1] = 5; /* an APIC id: the checksum no longer matches */
	CHECK(!parse(&m, &t));
	mem_unmap(&m);
}

static void test_errors(void)
{
	struct guest_mem m;

	new_guest(&m, 64 * MIB);
	CHECK_EQ(mptable_write(&m, 0), -EINVAL);
	CHECK_EQ(mptable_write(&m, MPTABLE_MAX_CPUS + 1), -EINVAL);
	CHECK_EQ(mptable_write(&m, MPTABLE_MAX_CPUS), 0);
	mem_unmap(&m);
	/* RAM ends below the table */
	new_guest(&m, 0x9f000);
	CHECK_EQ(mptable_write(&m, 1), -ENOMEM);
	mem_unmap(&m);
}

static bool e820_is(const struct mem_e820 *e, uint64_t addr, uint64_t size, uint32_t type)
{
	return e->addr == addr && e->size == size && e->type == type;
}

/* The map mem_e820 gives a guest, with the table's KiB reserved. */
static void test_e820_guest(void)
{
	struct mem_e820 e[16];
	struct guest_mem m;
	int n;

	new_guest(&m, 64 * MIB);
	n = mem_e820(&m, e, 16);
	n = mptable_e820_reserve(e, n, 16);
	CHECK_EQ(n, 4);
	CHECK(e820_is(&e[0], 0, MPTABLE_GPA, E820_RAM));
	CHECK(e820_is(&e[1], MPTABLE_GPA, MPTABLE_SIZE, E820_RESERVED));
	CHECK(e820_is(&e[2], 0xa0000, 0x60000, E820_RESERVED));
	CHECK(e820_is(&e[3], MIB, 63 * MIB, E820_RAM));
	mem_unmap(&m);
}

static void test_e820_split(void)
{
	struct mem_e820 e[4] = {{0, MIB, E820_RAM}, {MIB, MIB, E820_RAM}};
	int n = mptable_e820_reserve(e, 2, 4);

	CHECK_EQ(n, 4);
	CHECK(e820_is(&e[0], 0, MPTABLE_GPA, E820_RAM));
	CHECK(e820_is(&e[1], MPTABLE_GPA, MPTABLE_SIZE, E820_RESERVED));
	CHECK(
	    e820_is(&e[2], MPTABLE_GPA + MPTABLE_SIZE, MIB - MPTABLE_GPA - MPTABLE_SIZE, E820_RAM));
	CHECK(e820_is(&e[3], MIB, MIB, E820_RAM));

	/* No room: RAM pieces are left out, the reserved range stays. */
	e[0] = (struct mem_e820){0, MIB, E820_RAM};
	n = mptable_e820_reserve(e, 1, 1);
	CHECK_EQ(n, 1);
	CHECK(e820_is(&e[0], MPTABLE_GPA, MPTABLE_SIZE, E820_RESERVED));

	/* Reserved or non-overlapping entries are kept as they are. */
	e[0] = (struct mem_e820){0, 0x9f000, E820_RAM};
	e[1] = (struct mem_e820){0x9f000, 0x61000, E820_RESERVED};
	n = mptable_e820_reserve(e, 2, 4);
	CHECK_EQ(n, 2);
	CHECK(e820_is(&e[0], 0, 0x9f000, E820_RAM));
	CHECK(e820_is(&e[1], 0x9f000, 0x61000, E820_RESERVED));
}

int main(void)
{
	test_cpus(1);
	test_cpus(2);
	test_cpus(8);
	test_cpus(MPTABLE_MAX_CPUS);
	test_corrupt();
	test_errors();
	test_e820_guest();
	test_e820_split();
	return check_done("test_mptable");
}
