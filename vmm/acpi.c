/* acpi.c - the ACPI tables of a Linux guest (see acpi.h; ACPI 6.4, sections 5.2 and 5.6.9,
 * and the Virtual Machine Generation ID specification). */
#include "vmm/acpi.h"

#include <errno.h>
#include <string.h>

#include "lib/checksum.h"

#include "vmm/aml.h"
#include "vmm/mptable.h"

#define PACKED __attribute__((packed))

/* Where each structure sits in the page (FACS on a 64-byte boundary). */
enum {
	OFF_RSDP = 0x000,
	OFF_XSDT = 0x040,
	OFF_FACS = 0x0c0,
	OFF_FADT = 0x100,
	OFF_MADT = 0x240,
	OFF_DSDT = 0x400,
	DSDT_ROOM = 0x700,
	OFF_GENID = (int) (ACPI_VMGENID_GPA - ACPI_GPA),
};

#define OEM_ID "KSMVMM"
#define OEM_TABLE_ID "KSMVMM  "
#define CREATOR_ID "KSMV"
#define HYPERVISOR_ID "KSMVMM  "

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} PACKED;

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* of the first 20 bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* of all 36 */
	uint8_t reserved[3];
} PACKED;

struct acpi_xsdt {
	struct acpi_header h;
	uint64_t entry[2]; /* FADT, MADT */
} PACKED;

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hw_signature;
	uint32_t waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_waking_vector;
	uint8_t version;
	uint8_t reserved[3];
	uint32_t ospm_flags;
	uint8_t reserved2[24];
} PACKED;

struct acpi_gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} PACKED;

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk;
	uint32_t pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	char hypervisor_id[8];
} PACKED;

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI table header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP revision 2");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(OFF_XSDT >= (int) sizeof(struct acpi_rsdp) &&
		   OFF_FACS >= OFF_XSDT + (int) sizeof(struct acpi_xsdt) &&
		   OFF_FADT >= OFF_FACS + (int) sizeof(struct acpi_facs) &&
		   OFF_MADT >= OFF_FADT + (int) sizeof(struct acpi_fadt) && OFF_FACS % 64 == 0,
	       "the tables do not overlap");
_Static_assert(OFF_DSDT + DSDT_ROOM <= OFF_GENID && OFF_GENID % 8 == 0 &&
		   OFF_GENID + ACPI_VMGENID_SIZE <= (int) ACPI_SIZE,
	       "the generation ID is 8-byte aligned, after the DSDT, inside the page");

/* MADT (section 5.2.12) */
struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} PACKED;

struct madt_lapic {
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} PACKED;

struct madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t addr, gsi_base;
} PACKED;

struct madt_override {
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} PACKED;

struct madt_lapic_nmi {
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} PACKED;

enum {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_OVERRIDE = 2,
	MADT_LAPIC_NMI = 4,
	MADT_PCAT_COMPAT = 1,	     /* dual 8259s, as without ACPI */
	MADT_ENABLED = 1,	     /* a local APIC's flags */
	MADT_LEVEL_HIGH = 0x1 | 0xc, /* an override's flags: active high, level */
	MADT_ALL_CPUS = 0xff,
};

enum {
	FADT_WBINVD = 1u << 0,
	FADT_PWR_BUTTON = 1u << 4, /* no fixed-feature power button */
	FADT_SLP_BUTTON = 1u << 5, /* no fixed-feature sleep button */
	GAS_SYSTEM_IO = 1,
};

static void header(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, OEM_ID, 6);
	memcpy(h->oem_table_id, OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Set the checksum of the table at @h, of h->length bytes. */
static void seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = checksum8(h, h->length);
}

static void write_fadt(uint8_t *page)
{
	struct acpi_fadt *f = (struct acpi_fadt *) (page + OFF_FADT);

	header(&f->h, "FACP", sizeof(*f), 6);
	f->firmware_ctrl = (uint32_t) (ACPI_GPA + OFF_FACS);
	f->x_firmware_ctrl = ACPI_GPA + OFF_FACS;
	f->dsdt = (uint32_t) (ACPI_GPA + OFF_DSDT);
	f->x_dsdt = ACPI_GPA + OFF_DSDT;
	f->sci_int = ACPI_SCI_IRQ;
	/* smi_cmd 0: always in ACPI mode (PM1 control reads SCI_EN). */
	f->pm1a_evt_blk = ACPI_PM1_EVT_PORT;
	f->pm1_evt_len = 4;
	f->pm1a_cnt_blk = ACPI_PM1_CNT_PORT;
	f->pm1_cnt_len = 2;
	f->p_lvl2_lat = 101;  /* > 100: no C2 */
	f->p_lvl3_lat = 1001; /* > 1000: no C3 */
	f->flags = FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	memcpy(f->hypervisor_id, HYPERVISOR_ID, 8);
	seal(&f->h);
}

static void write_facs(uint8_t *page)
{
	struct acpi_facs *s = (struct acpi_facs *) (page + OFF_FACS);

	memcpy(s->signature, "FACS", 4);
	s->length = sizeof(*s);
	s->version = 2;
}

static uint32_t write_madt(uint8_t *page, unsigned ncpus)
{
	struct acpi_madt *t = (struct acpi_madt *) (page + OFF_MADT);
	uint8_t *pos = (uint8_t *) (t + 1);
	const struct madt_ioapic io = {MADT_IOAPIC, sizeof(io),		(uint8_t) ncpus,
				       0,	    MPTABLE_IOAPIC_GPA, 0};
	/* The SCI as ACPI would have it by default (level, active low) is replaced by what
	 * KVM's lines are: a line is raised, never pulled low. Nothing raises it anyway. */
	const struct madt_override sci = {MADT_OVERRIDE, sizeof(sci),  0,
					  ACPI_SCI_IRQ,	 ACPI_SCI_IRQ, MADT_LEVEL_HIGH};
	const struct madt_lapic_nmi nmi = {MADT_LAPIC_NMI, sizeof(nmi), MADT_ALL_CPUS, 0, 1};

	t->lapic_addr = MPTABLE_LAPIC_GPA;
	t->flags = MADT_PCAT_COMPAT;
	for (unsigned i = 0; i < ncpus; i++) {
		const struct madt_lapic l = {MADT_LAPIC, sizeof(l), (uint8_t) i, (uint8_t) i,
					     MADT_ENABLED};

		memcpy(pos, &l, sizeof(l));
		pos += sizeof(l);
	}
	memcpy(pos, &io, sizeof(io));
	pos += sizeof(io);
	memcpy(pos, &sci, sizeof(sci));
	pos += sizeof(sci);
	memcpy(pos, &nmi, sizeof(nmi));
	pos += sizeof(nmi);
	header(&t->h, "APIC", (uint32_t) (pos - (uint8_t *) t), 4);
	seal(&t->h);
	return t->h.length;
}

/* Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { ACPI_GED_IRQ }, then the
 * end tag: the extended interrupt descriptor (section 6.4.3.6). */
static void ged_resources(struct aml *a)
{
	static const uint8_t crs[] = {
	    0x89,	 6,
	    0,		 /* extended interrupt, 6 bytes follow */
	    0x01 | 0x02, /* consumer, edge, active high, exclusive */
	    1,		 ACPI_GED_IRQ,
	    0,		 0,
	    0,		    /* one interrupt */
	    0x79,	 0, /* end tag, checksum 0: not checked */
	};

	aml_buffer(a, crs, sizeof(crs));
}

static void dsdt_body(struct aml *a)
{
	aml_open(a, AML_SCOPE);
	aml_name(a, "\\_SB_");

	aml_open(a, AML_DEVICE);
	aml_name(a, "VGEN");
	aml_name_decl(a, "_HID");
	aml_string(a, "VMGENCTR");
	aml_name_decl(a, "_DDN");
	aml_string(a, "VM_Gen_Counter");
	aml_open(a, AML_METHOD);
	aml_name(a, "ADDR");
	aml_bytes(a, "\0", 1); /* no arguments, not serialized */
	aml_return(a);
	aml_open(a, AML_PACKAGE);
	aml_bytes(a, "\2", 1);
	aml_int(a, ACPI_VMGENID_GPA & 0xffffffffu);
	aml_int(a, ACPI_VMGENID_GPA >> 32);
	aml_close(a);
	aml_close(a);
	aml_close(a);

	aml_open(a, AML_DEVICE);
	aml_name(a, "GED_");
	aml_name_decl(a, "_HID");
	aml_string(a, "ACPI0013");
	aml_name_decl(a, "_CRS");
	ged_resources(a);
	aml_open(a, AML_METHOD);
	aml_name(a, "_EVT");
	aml_bytes(a, "\1", 1); /* one argument: the interrupt */
	aml_notify(a, "\\_SB_.VGEN", 0x80);
	aml_close(a);
	aml_close(a);

	aml_close(a);
}

static int write_dsdt(uint8_t *page, uint32_t *len)
{
	struct acpi_header *h = (struct acpi_header *) (page + OFF_DSDT);
	struct aml a;

	aml_init(&a, (uint8_t *) (h + 1), DSDT_ROOM - sizeof(*h));
	dsdt_body(&a);
	if (!aml_ok(&a))
		return -E2BIG;
	header(h, "DSDT", (uint32_t) (sizeof(*h) + a.len), 2); /* 2: 64-bit integers */
	seal(h);
	*len = h->length;
	return 0;
}

static void write_roots(uint8_t *page)
{
	struct acpi_rsdp *r = (struct acpi_rsdp *) (page + OFF_RSDP);
	struct acpi_xsdt *x = (struct acpi_xsdt *) (page + OFF_XSDT);

	header(&x->h, "XSDT", sizeof(*x), 1);
	x->entry[0] = ACPI_GPA + OFF_FADT;
	x->entry[1] = ACPI_GPA + OFF_MADT;
	seal(&x->h);

	memcpy(r->signature, "RSD PTR ", 8);
	memcpy(r->oem_id, OEM_ID, 6);
	r->revision = 2;
	r->length = sizeof(*r);
	r->xsdt = ACPI_GPA + OFF_XSDT;
	r->checksum = checksum8(r, 20);
	r->ext_checksum = checksum8(r, sizeof(*r));
}

int acpi_write(struct guest_mem *m, unsigned ncpus, const uint8_t genid[ACPI_VMGENID_SIZE])
{
	uint8_t *page = mem_gpa(m, ACPI_GPA, ACPI_SIZE);
	uint32_t dsdt_len;
	int ret;

	if (ncpus == 0 || ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (!page)
		return -ENOMEM;
	memset(page, 0, ACPI_SIZE);
	ret = write_dsdt(page, &dsdt_len);
	if (ret)
		return ret;
	write_facs(page);
	write_fadt(page);
	write_madt(page, ncpus);
	write_roots(page);
	memcpy(page + OFF_GENID, genid, ACPI_VMGENID_SIZE);
	return 0;
}

bool acpi_present(const struct guest_mem *m)
{
	const struct acpi_rsdp *r = mem_gpa(m, ACPI_GPA + OFF_RSDP, sizeof(*r));

	return r && !memcmp(r->signature, "RSD PTR ", 8) && !memcmp(r->oem_id, OEM_ID, 6) &&
	       r->xsdt == ACPI_GPA + OFF_XSDT && checksum8(r, 20) == 0 &&
	       checksum8(r, sizeof(*r)) == 0;
}

int acpi_set_genid(struct guest_mem *m, const uint8_t genid[ACPI_VMGENID_SIZE])
{
	uint8_t *id = mem_gpa(m, ACPI_VMGENID_GPA, ACPI_VMGENID_SIZE);

	if (!id || !acpi_present(m))
		return -ENODEV;
	memcpy(id, genid, ACPI_VMGENID_SIZE);
	return 0;
}
