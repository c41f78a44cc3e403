/* mptable.c - Intel MultiProcessor table (MP spec 1.4) in guest memory.
 *
 * A guest kernel without ACPI learns its CPUs, IOAPIC and interrupt routing from this
 * table: a 16-byte floating pointer ("_MP_") that Linux finds by scanning the last KiB
 * below 640 KiB, pointing at the configuration table ("PCMP") that follows it. Entries
 * come sorted by type, as the spec asks: processors, bus, IOAPIC, I/O interrupts, local
 * interrupts. Every structure carries a byte checksum (all bytes sum to 0 mod 256).
 */
#define pr_fmt(fmt) "mptable: " fmt

#include "vmm/mptable.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/checksum.h"

#define MPF_SIGNATURE "_MP_"
#define MPC_SIGNATURE "PCMP"
#define MP_SPEC_REV 4 /* MP spec 1.4 */
#define MPC_OEM "KSMVMM  "
#define MPC_PRODUCT "ksmvmm      "
#define LAPIC_VERSION 0x14  /* what KVM's local APIC reports */
#define CPU_SIGNATURE 0x600 /* family 6; Linux takes the real one from CPUID */
#define CPU_FEATURES 0x201  /* FPU, APIC */
#define ISA_BUS_ID 0

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_CPU_ENABLED = 1, MP_CPU_BSP = 2, MP_IOAPIC_ENABLED = 1 };
enum { MP_IRQ_INT = 0, MP_IRQ_NMI = 1, MP_IRQ_EXTINT = 3 };
#define MP_IRQ_FLAGS_DEFAULT 0 /* polarity and trigger conform to the bus: ISA edge high */
#define MP_ALL_LAPICS 0xff

struct mptable_mpf {
	char signature[4];
	uint32_t physptr; /* configuration table */
	uint8_t length;	  /* in 16-byte units: 1 */
	uint8_t spec;
	uint8_t checksum;
	uint8_t feature[5]; /* 0: a configuration table is present; no IMCR (virtual wire) */
} __attribute__((packed));

struct mptable_mpc {
	char signature[4];
	uint16_t length; /* header and all entries */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t count; /* entries after the header */
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mptable_cpu {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mptable_bus {
	uint8_t type;
	uint8_t id;
	char bus_type[6];
} __attribute__((packed));

struct mptable_ioapic {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

/* Both interrupt entry types: I/O (dst = IOAPIC id, pin) and local (dst = APIC, LINTn). */
struct mptable_irq {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

#define MPTABLE_BYTES(n)                                                                           \
	(sizeof(struct mptable_mpf) + sizeof(struct mptable_mpc) +                                 \
	 (n) * sizeof(struct mptable_cpu) + sizeof(struct mptable_bus) +                           \
	 sizeof(struct mptable_ioapic) + (MPTABLE_IOAPIC_PINS + 2) * sizeof(struct mptable_irq))

_Static_assert(MPTABLE_BYTES(MPTABLE_MAX_CPUS) <= MPTABLE_SIZE, "MP table outgrows its KiB");
_Static_assert(MPTABLE_GPA % 16 == 0, "the floating pointer sits on a 16-byte boundary");

/* Append @len bytes of @entry at *@pos and count it. */
static void mpc_add(uint8_t **pos, struct mptable_mpc *mpc, const void *entry, size_t len)
{
	memcpy(*pos, entry, len);
	*pos += len;
	mpc->count++;
}

static void mpc_add_cpus(uint8_t **pos, struct mptable_mpc *mpc, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		struct mptable_cpu cpu = {
		    .type = MP_PROCESSOR,
		    .apic_id = (uint8_t) i,
		    .apic_version = LAPIC_VERSION,
		    .flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
		    .signature = CPU_SIGNATURE,
		    .features = CPU_FEATURES,
		};

		mpc_add(pos, mpc, &cpu, sizeof(cpu));
	}
}

static void mpc_add_irqs(uint8_t **pos, struct mptable_mpc *mpc, uint8_t ioapic_id)
{
	struct mptable_irq irq = {.type = MP_INTSRC,
				  .irq_type = MP_IRQ_INT,
				  .irq_flags = MP_IRQ_FLAGS_DEFAULT,
				  .src_bus = ISA_BUS_ID,
				  .dst_apic = ioapic_id};

	for (unsigned pin = 0; pin < MPTABLE_IOAPIC_PINS; pin++) {
		irq.src_irq = (uint8_t) pin;
		irq.dst_pin = (uint8_t) pin;
		mpc_add(pos, mpc, &irq, sizeof(irq));
	}
	irq = (struct mptable_irq){.type = MP_LINTSRC,
				   .irq_type = MP_IRQ_EXTINT,
				   .src_bus = ISA_BUS_ID,
				   .dst_apic = MP_ALL_LAPICS,
				   .dst_pin = 0};
	mpc_add(pos, mpc, &irq, sizeof(irq));
	irq.irq_type = MP_IRQ_NMI;
	irq.dst_pin = 1;
	mpc_add(pos, mpc, &irq, sizeof(irq));
}

int mptable_write(struct guest_mem *m, unsigned ncpus)
{
	uint8_t *base = mem_gpa(m, MPTABLE_GPA, MPTABLE_SIZE);
	struct mptable_mpf *mpf = (struct mptable_mpf *) base;
	struct mptable_mpc *mpc = (struct mptable_mpc *) (mpf + 1);
	struct mptable_bus bus = {.type = MP_BUS, .id = ISA_BUS_ID, .bus_type = "ISA   "};
	struct mptable_ioapic ioapic = {.type = MP_IOAPIC,
					.id = (uint8_t) ncpus,
					.version = MPTABLE_IOAPIC_VERSION,
					.flags = MP_IOAPIC_ENABLED,
					.addr = MPTABLE_IOAPIC_GPA};
	uint8_t *pos = (uint8_t *) (mpc + 1);

	if (ncpus == 0 || ncpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	if (!base)
		return -ENOMEM;
	memset(base, 0, MPTABLE_SIZE);
	memcpy(mpc->signature, MPC_SIGNATURE, 4);
	mpc->spec = MP_SPEC_REV;
	memcpy(mpc->oem, MPC_OEM, sizeof(mpc->oem));
	memcpy(mpc->product, MPC_PRODUCT, sizeof(mpc->product));
	mpc->lapic = MPTABLE_LAPIC_GPA;
	mpc_add_cpus(&pos, mpc, ncpus);
	mpc_add(&pos, mpc, &bus, sizeof(bus));
	mpc_add(&pos, mpc, &ioapic, sizeof(ioapic));
	mpc_add_irqs(&pos, mpc, ioapic.id);
	mpc->length = (uint16_t) (pos - (uint8_t *) mpc);
	mpc->checksum = checksum8(mpc, mpc->length);

	memcpy(mpf->signature, MPF_SIGNATURE, 4);
	mpf->physptr = (uint32_t) (MPTABLE_GPA + sizeof(*mpf));
	mpf->length = 1;
	mpf->spec = MP_SPEC_REV;
	mpf->checksum = checksum8(mpf, sizeof(*mpf));
	return 0;
}

int mptable_e820_reserve(struct mem_e820 *e, int n, int max)
{
	return mem_e820_reserve(e, n, max, MPTABLE_GPA, MPTABLE_GPA + MPTABLE_SIZE);
}
