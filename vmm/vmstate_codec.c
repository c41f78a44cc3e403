/* vmstate_codec.c - the saved form of vCPU and VM state (no KVM here: see vmstate.h).
 *
 * vCPU section, version 1:
 *   u32 version, u32 parts (VCPU_PART_*)
 *   blob kvm_regs, blob kvm_sregs, blob xsave area (XSAVE part) or blob kvm_fpu,
 *   blob kvm_xcrs (XCRS part), u32 TSC kHz, u32 n + n x (u32 MSR index, u64 value),
 *   u32 n + blob of n kvm_cpuid_entry2, blob kvm_lapic_state + blob kvm_mp_state
 *   (IRQCHIP part), blob kvm_vcpu_events, blob kvm_debugregs
 * VM section, version 1:
 *   u32 version, u32 parts (VM_PART_IRQCHIP), [3 x blob kvm_irqchip, blob
 *   kvm_pit_state2], blob kvm_clock_data
 * A blob is u32 length + bytes; a fixed structure must have exactly its size.
 */
#include "vmm/vmstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VCPU_PART_IRQCHIP (1u << 0)
#define VCPU_PART_XSAVE (1u << 1)
#define VCPU_PART_XCRS (1u << 2)
#define VCPU_PARTS (VCPU_PART_IRQCHIP | VCPU_PART_XSAVE | VCPU_PART_XCRS)
#define VM_PART_IRQCHIP (1u << 0)

/* A blob that must be exactly @size bytes, copied into @dst (left alone on error). */
static void get_fixed(struct sbuf_reader *in, void *dst, size_t size, const char *what)
{
	uint32_t n;
	const void *p = sbuf_get_blob(in, &n);

	if (sbuf_check(in, p && n == size, "%s: %u bytes, expected %zu", what, n, size))
		memcpy(dst, p, size);
}

static uint32_t vcpu_parts(const struct vmstate_vcpu *st)
{
	return (st->irqchip ? VCPU_PART_IRQCHIP : 0) | (st->has_xsave ? VCPU_PART_XSAVE : 0) |
	       (st->has_xcrs ? VCPU_PART_XCRS : 0);
}

void vmstate_vcpu_encode(const struct vmstate_vcpu *st, struct sbuf *out)
{
	sbuf_put_u32(out, VMSTATE_VCPU_VERSION);
	sbuf_put_u32(out, vcpu_parts(st));
	sbuf_put_blob(out, &st->regs, sizeof(st->regs));
	sbuf_put_blob(out, &st->sregs, sizeof(st->sregs));
	if (st->has_xsave)
		sbuf_put_blob(out, st->xsave, st->xsave_len);
	else
		sbuf_put_blob(out, &st->fpu, sizeof(st->fpu));
	if (st->has_xcrs)
		sbuf_put_blob(out, &st->xcrs, sizeof(st->xcrs));
	sbuf_put_u32(out, st->tsc_khz);
	sbuf_put_u32(out, st->nr_msrs);
	for (uint32_t i = 0; i < st->nr_msrs; i++) {
		sbuf_put_u32(out, st->msrs[i].index);
		sbuf_put_u64(out, st->msrs[i].data);
	}
	sbuf_put_u32(out, st->nr_cpuid);
	sbuf_put_blob(out, st->cpuid, st->nr_cpuid * (uint32_t) sizeof(st->cpuid[0]));
	if (st->irqchip) {
		sbuf_put_blob(out, &st->lapic, sizeof(st->lapic));
		sbuf_put_blob(out, &st->mp_state, sizeof(st->mp_state));
	}
	sbuf_put_blob(out, &st->events, sizeof(st->events));
	sbuf_put_blob(out, &st->debugregs, sizeof(st->debugregs));
}

static void decode_xsave(struct sbuf_reader *in, struct vmstate_vcpu *st)
{
	uint32_t n;
	const void *p = sbuf_get_blob(in, &n);

	if (!sbuf_check(in,
			p && n >= sizeof(struct kvm_xsave) && n <= VMSTATE_MAX_XSAVE && n % 4 == 0,
			"xsave area of %u bytes", n))
		return;
	st->xsave = malloc(n);
	if (!sbuf_check(in, st->xsave != NULL, "out of memory"))
		return;
	memcpy(st->xsave, p, n);
	st->xsave_len = n;
}

static void decode_msrs(struct sbuf_reader *in, struct vmstate_vcpu *st)
{
	uint32_t n = sbuf_get_u32(in);

	if (!sbuf_check(in, n <= VMSTATE_MAX_MSRS && n <= sbuf_left(in) / 12, "%u MSRs", n))
		return;
	st->msrs = calloc(n ? n : 1, sizeof(*st->msrs));
	if (!sbuf_check(in, st->msrs != NULL, "out of memory"))
		return;
	for (uint32_t i = 0; i < n; i++) {
		st->msrs[i].index = sbuf_get_u32(in);
		st->msrs[i].data = sbuf_get_u64(in);
	}
	st->nr_msrs = n;
}

static void decode_cpuid(struct sbuf_reader *in, struct vmstate_vcpu *st)
{
	uint32_t n = sbuf_get_u32(in), len;
	const void *p = sbuf_get_blob(in, &len);

	if (!sbuf_check(in, p && n && n <= VMSTATE_MAX_CPUID && len == n * sizeof(st->cpuid[0]),
			"%u CPUID entries in %u bytes", n, len))
		return;
	st->cpuid = malloc(len);
	if (!sbuf_check(in, st->cpuid != NULL, "out of memory"))
		return;
	memcpy(st->cpuid, p, len);
	st->nr_cpuid = n;
}

static void decode_parts(struct sbuf_reader *in, struct vmstate_vcpu *st, uint32_t parts)
{
	st->irqchip = parts & VCPU_PART_IRQCHIP;
	st->has_xsave = parts & VCPU_PART_XSAVE;
	st->has_xcrs = parts & VCPU_PART_XCRS;
	get_fixed(in, &st->regs, sizeof(st->regs), "regs");
	get_fixed(in, &st->sregs, sizeof(st->sregs), "sregs");
	if (st->has_xsave)
		decode_xsave(in, st);
	else
		get_fixed(in, &st->fpu, sizeof(st->fpu), "fpu");
	if (st->has_xcrs) {
		get_fixed(in, &st->xcrs, sizeof(st->xcrs), "xcrs");
		sbuf_check(in, st->xcrs.nr_xcrs <= KVM_MAX_XCRS, "%u XCRs", st->xcrs.nr_xcrs);
	}
	st->tsc_khz = sbuf_get_u32(in);
	decode_msrs(in, st);
	decode_cpuid(in, st);
	if (st->irqchip) {
		get_fixed(in, &st->lapic, sizeof(st->lapic), "lapic");
		get_fixed(in, &st->mp_state, sizeof(st->mp_state), "mp_state");
	}
	get_fixed(in, &st->events, sizeof(st->events), "vcpu events");
	get_fixed(in, &st->debugregs, sizeof(st->debugregs), "debugregs");
}

int vmstate_vcpu_decode(struct sbuf_reader *in, struct vmstate_vcpu *st)
{
	uint32_t version = sbuf_get_u32(in), parts = sbuf_get_u32(in);

	memset(st, 0, sizeof(*st));
	if (sbuf_check(in, version == VMSTATE_VCPU_VERSION,
		       "vCPU state version %u, this ksmvmm reads %u", version,
		       VMSTATE_VCPU_VERSION) &&
	    sbuf_check(in, !(parts & ~VCPU_PARTS), "unknown vCPU state parts 0x%x", parts))
		decode_parts(in, st, parts);
	sbuf_check(in, sbuf_left(in) == 0, "%zu bytes after the vCPU state", sbuf_left(in));
	if (sbuf_error(in))
		vmstate_vcpu_free(st);
	return sbuf_error(in);
}

void vmstate_vcpu_free(struct vmstate_vcpu *st)
{
	free(st->xsave);
	free(st->msrs);
	free(st->cpuid);
	st->xsave = NULL;
	st->msrs = NULL;
	st->cpuid = NULL;
	st->xsave_len = st->nr_msrs = st->nr_cpuid = 0;
}

void vmstate_vm_encode(const struct vmstate_vm *st, struct sbuf *out)
{
	sbuf_put_u32(out, VMSTATE_VM_VERSION);
	sbuf_put_u32(out, st->irqchip ? VM_PART_IRQCHIP : 0);
	if (st->irqchip) {
		for (unsigned i = 0; i < 3; i++)
			sbuf_put_blob(out, &st->chip[i], sizeof(st->chip[i]));
		sbuf_put_blob(out, &st->pit, sizeof(st->pit));
	}
	sbuf_put_blob(out, &st->clock, sizeof(st->clock));
}

int vmstate_vm_decode(struct sbuf_reader *in, struct vmstate_vm *st)
{
	uint32_t version = sbuf_get_u32(in), parts = sbuf_get_u32(in);

	memset(st, 0, sizeof(*st));
	if (!sbuf_check(in, version == VMSTATE_VM_VERSION,
			"VM state version %u, this ksmvmm reads %u", version, VMSTATE_VM_VERSION) ||
	    !sbuf_check(in, !(parts & ~VM_PART_IRQCHIP), "unknown VM state parts 0x%x", parts))
		return sbuf_error(in);
	st->irqchip = parts & VM_PART_IRQCHIP;
	for (unsigned i = 0; st->irqchip && i < 3; i++) {
		get_fixed(in, &st->chip[i], sizeof(st->chip[i]), "irqchip");
		sbuf_check(in, st->chip[i].chip_id == i, "irqchip %u has id %u", i,
			   st->chip[i].chip_id);
	}
	if (st->irqchip)
		get_fixed(in, &st->pit, sizeof(st->pit), "pit");
	get_fixed(in, &st->clock, sizeof(st->clock), "clock");
	sbuf_check(in, sbuf_left(in) == 0, "%zu bytes after the VM state", sbuf_left(in));
	return sbuf_error(in);
}
