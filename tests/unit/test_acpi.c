/* test_acpi.c - the ACPI tables as a kernel walks them: RSDP, XSDT, FADT, FACS, MADT, DSDT,
 * the generation ID, and the AML encoder. With --dump DIR, also writes each table to
 * DIR/<signature>.dat for tests/acpi/iasl.sh (ACPICA's own disassembler and interpreter). */
#include "vmm/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/aml.h"

#define MIB (1ull << 20)

/* Byte offsets of the ACPI specification, read on their own (nothing shared with acpi.c). */
static uint8_t sum8(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
	       (uint32_t) p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t) rd32(p + 4) << 32;
}

/* The table at @gpa if it has signature @sig and a good checksum, else NULL. */
static const uint8_t *table(struct guest_mem *m, uint64_t gpa, const char *sig)
{
	const uint8_t *h = mem_gpa(m, gpa, 36);
	uint32_t len;

	if (!h || memcmp(h, sig, 4))
		return NULL;
	len = rd32(h + 4);
	h = mem_gpa(m, gpa, len);
	return h && len >= 36 && gpa + len <= ACPI_GPA + ACPI_SIZE && sum8(h, len) == 0 ? h : NULL;
}

struct walk {
	const uint8_t *fadt, *madt, *dsdt, *facs;
	uint64_t fadt_gpa, madt_gpa, dsdt_gpa, facs_gpa;
};

/* RSDP -> XSDT -> FADT (-> DSDT, FACS) and MADT, as ACPICA finds them. */
static bool walk(struct guest_mem *m, struct walk *w)
{
	const uint8_t *r = mem_gpa(m, ACPI_GPA, 36), *x;
	uint32_t n;

	memset(w, 0, sizeof(*w));
	if (!r || memcmp(r, "RSD PTR ", 8) || sum8(r, 20) || r[15] != 2 || rd32(r + 20) != 36 ||
	    sum8(r, 36))
		return false;
	x = table(m, rd64(r + 24), "XSDT");
	if (!x)
		return false;
	n = (rd32(x + 4) - 36) / 8;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = rd64(x + 36 + 8 * i);

		if (table(m, gpa, "FACP"))
			w->fadt = table(m, w->fadt_gpa = gpa, "FACP");
		if (table(m, gpa, "APIC"))
			w->madt = table(m, w->madt_gpa = gpa, "APIC");
	}
	if (!w->fadt || !w->madt)
		return false;
	w->dsdt_gpa = rd64(w->fadt + 140);
	w->dsdt = table(m, w->dsdt_gpa, "DSDT");
	w->facs_gpa = rd64(w->fadt + 132);
	w->facs = mem_gpa(m, w->facs_gpa, 64);
	return w->dsdt && w->facs && !memcmp(w->facs, "FACS", 4);
}

static void setup(struct guest_mem *m)
{
	if (mem_layout(m, 64 * MIB) || mem_map(m)) {
		fprintf(stderr, "cannot map 64 MiB of fake guest RAM\n");
		exit(1);
	}
}

static const uint8_t id1[ACPI_VMGENID_SIZE] = "0123456789abcdef";
static const uint8_t id2[ACPI_VMGENID_SIZE] = "fedcba9876543210";

static void test_walk(void)
{
	struct guest_mem m;
	struct walk w;

	setup(&m);
	CHECK_EQ(acpi_write(&m, 3, id1), 0);
	CHECK(walk(&m, &w));
	CHECK(acpi_present(&m));
	if (!w.fadt) {
		mem_unmap(&m);
		return;
	}
	/* FADT: revision 6, full hardware (HW_REDUCED_ACPI, bit 20, clear), SCI, PM1 blocks. */
	CHECK_EQ(w.fadt[8], 6);
	CHECK_EQ(rd32(w.fadt + 4), 276);
	CHECK_EQ(rd32(w.fadt + 112) & (1u << 20), 0);
	CHECK_EQ(w.fadt[46], ACPI_SCI_IRQ);
	CHECK_EQ(rd32(w.fadt + 48), 0); /* no SMI command port: always in ACPI mode */
	CHECK_EQ(rd32(w.fadt + 56), ACPI_PM1_EVT_PORT);
	CHECK_EQ(w.fadt[88], 4);
	CHECK_EQ(rd32(w.fadt + 64), ACPI_PM1_CNT_PORT);
	CHECK_EQ(w.fadt[89], 2);
	CHECK_EQ(rd32(w.fadt + 40), w.dsdt_gpa); /* the 32-bit DSDT agrees with X_DSDT */
	CHECK_EQ(rd32(w.fadt + 36), w.facs_gpa);
	CHECK_EQ(w.facs_gpa % 64, 0);
	CHECK_EQ(w.dsdt[8], 2); /* 64-bit integers */
	/* The generation ID sits where the DSDT's ADDR says, and is the first one. */
	CHECK(!memcmp(mem_gpa(&m, ACPI_VMGENID_GPA, 16), id1, 16));
	CHECK_EQ(acpi_set_genid(&m, id2), 0);
	CHECK(!memcmp(mem_gpa(&m, ACPI_VMGENID_GPA, 16), id2, 16));
	CHECK(walk(&m, &w)); /* changing it breaks no checksum */
	mem_unmap(&m);
}

/* The MADT says what the MP table says: CPUs 0..n-1, IOAPIC id n at 0xfec00000, GSI 0,
 * the SCI override (level, active high), LINT1 NMI on every CPU. */
static void test_madt(void)
{
	struct guest_mem m;
	struct walk w;
	unsigned cpus = 0, ioapics = 0, overrides = 0, nmis = 0;
	bool ids[ACPI_MAX_CPUS] = {0};

	setup(&m);
	CHECK_EQ(acpi_write(&m, ACPI_MAX_CPUS, id1), 0);
	CHECK(walk(&m, &w));
	if (!w.madt) {
		mem_unmap(&m);
		return;
	}
	CHECK_EQ(rd32(w.madt + 36), 0xfee00000u);
	CHECK_EQ(rd32(w.madt + 40) & 1, 1); /* PCAT_COMPAT: the 8259s are there */
	for (uint32_t off = 44; off + 2 <= rd32(w.madt + 4);) {
		const uint8_t *e = w.madt + off;

		CHECK(e[1] >= 2);
		if (e[1] < 2)
			break;
		if (e[0] == 0 && e[1] == 8) {
			CHECK_EQ(e[2], e[3]);
			CHECK_EQ(rd32(e + 4), 1);
			if (e[3] < ACPI_MAX_CPUS && !ids[e[3]])
				ids[e[3]] = true, cpus++;
		} else if (e[0] == 1 && e[1] == 12) {
			ioapics++;
			CHECK_EQ(e[2], ACPI_MAX_CPUS);
			CHECK_EQ(rd32(e + 4), 0xfec00000u);
			CHECK_EQ(rd32(e + 8), 0);
		} else if (e[0] == 2 && e[1] == 10) {
			overrides++;
			CHECK_EQ(e[3], ACPI_SCI_IRQ);
			CHECK_EQ(rd32(e + 4), ACPI_SCI_IRQ);
			CHECK_EQ(e[8] | e[9] << 8, 0xd);
		} else if (e[0] == 4 && e[1] == 6) {
			nmis++;
			CHECK_EQ(e[2], 0xff);
			CHECK_EQ(e[5], 1);
		} else {
			CHECK(!"an unknown MADT entry");
		}
		off += e[1];
	}
	CHECK_EQ(cpus, ACPI_MAX_CPUS);
	CHECK_EQ(ioapics, 1);
	CHECK_EQ(overrides, 1);
	CHECK_EQ(nmis, 1);
	mem_unmap(&m);
}

static void test_refusals(void)
{
	struct guest_mem m, small;
	uint8_t *p;

	setup(&m);
	CHECK_EQ(acpi_write(&m, 0, id1), -EINVAL);
	CHECK_EQ(acpi_write(&m, ACPI_MAX_CPUS + 1, id1), -EINVAL);
	/* No tables (a kernel booted before them): nothing is written. */
	memset(mem_gpa(&m, ACPI_GPA, ACPI_SIZE), 0x5a, ACPI_SIZE);
	CHECK(!acpi_present(&m));
	CHECK_EQ(acpi_set_genid(&m, id2), -ENODEV);
	CHECK_EQ(*(uint8_t *) mem_gpa(&m, ACPI_VMGENID_GPA, 1), 0x5a);
	/* A damaged RSDP is not ours either. */
	CHECK_EQ(acpi_write(&m, 1, id1), 0);
	p = mem_gpa(&m, ACPI_GPA + 9, 1);
	*p ^= 1; /* its OEM id, under both checksums */
	CHECK(!acpi_present(&m));
	*p ^= 1;
	CHECK(acpi_present(&m));
	mem_unmap(&m);
	CHECK_EQ(mem_layout(&small, 0x9e000), 0); /* RAM ends where the page would start */
	CHECK_EQ(mem_map(&small), 0);
	CHECK_EQ(acpi_write(&small, 1, id1), -ENOMEM);
	CHECK(!acpi_present(&small));
	mem_unmap(&small);
}

/* The AML encoder, byte for byte (ACPI 6.4 section 20.2). */
static void test_aml(void)
{
	uint8_t buf[256], big[100];
	struct aml a;
	static const uint8_t ints[] = {0x00, 0x01, 0x0a, 0x02, 0x0b, 0x00, 0x01,
				       0x0c, 0x00, 0x00, 0x01, 0x00, 0x0e, 0,
				       0,    0,	   0,	 1,    0,    0,	   0};

	aml_init(&a, buf, sizeof(buf));
	aml_int(&a, 0);
	aml_int(&a, 1);
	aml_int(&a, 2);
	aml_int(&a, 0x100);
	aml_int(&a, 0x10000);
	aml_int(&a, 1ull << 32);
	CHECK(aml_ok(&a));
	CHECK_EQ(a.len, sizeof(ints));
	CHECK(!memcmp(buf, ints, sizeof(ints)));

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "\\_SB_.VGEN");
	aml_name(&a, "A_1_");
	aml_name(&a, "\\A___.B___.C___");
	CHECK(aml_ok(&a));
	CHECK_EQ(a.len, 10 + 4 + 15);
	CHECK(!memcmp(buf,
		      "\\\x2e_SB_VGENA_1_\\\x2f\x03"
		      "A___B___C___",
		      a.len));
	static const char *const bad[] = {"_SB", "1ABC", "ab__", "\\_SB_.", "_SB_x", ""};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_name(&a, bad[i]);
		CHECK(!aml_ok(&a));
	}

	/* PkgLength: a 62-byte body takes one byte (63), a 63-byte body two. */
	memset(big, 0x31, sizeof(big));
	aml_init(&a, buf, sizeof(buf));
	aml_open(&a, AML_PACKAGE);
	aml_bytes(&a, big, 62);
	aml_close(&a);
	CHECK(aml_ok(&a));
	CHECK_EQ(a.len, 64);
	CHECK_EQ(buf[0], 0x12);
	CHECK_EQ(buf[1], 63);
	aml_init(&a, buf, sizeof(buf));
	aml_open(&a, AML_DEVICE);
	aml_bytes(&a, big, 63);
	aml_close(&a);
	CHECK_EQ(a.len, 2 + 2 + 63);
	CHECK(!memcmp(buf, "\x5b\x82", 2));
	CHECK_EQ(buf[2], 0x40 | (65 & 0xf));
	CHECK_EQ(buf[3], 65 >> 4);
	CHECK_EQ(buf[4], 0x31);

	/* Misuse and overflow fail the buffer. */
	aml_init(&a, buf, sizeof(buf));
	aml_close(&a);
	CHECK(!aml_ok(&a));
	aml_init(&a, buf, sizeof(buf));
	aml_open(&a, AML_SCOPE);
	CHECK(!aml_ok(&a)); /* still open */
	aml_init(&a, buf, 8);
	aml_string(&a, "too long for 8");
	CHECK(!aml_ok(&a));
	aml_init(&a, buf, sizeof(buf));
	aml_string(&a, "tab\there");
	CHECK(!aml_ok(&a));
}

static int dump(const char *dir)
{
	static const char *const sigs[] = {"FACP", "APIC", "DSDT"};
	struct guest_mem m;
	struct walk w;

	setup(&m);
	if (acpi_write(&m, 2, id1) || !walk(&m, &w))
		return 1;
	for (unsigned i = 0; i < 3; i++) {
		const uint8_t *t = i == 0 ? w.fadt : i == 1 ? w.madt : w.dsdt;
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s.dat", dir, sigs[i]);
		f = fopen(path, "wb");
		if (!f || fwrite(t, 1, rd32(t + 4), f) != rd32(t + 4) || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	mem_unmap(&m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--dump"))
		return dump(argv[2]);
	test_walk();
	test_madt();
	test_refusals();
	test_aml();
	return check_done("test_acpi");
}
