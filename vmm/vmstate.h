/* vmstate.h - save and restore the KVM state of a vCPU and of a VM, for snapshots and clones.
 *
 * A save reads everything KVM keeps for a vCPU that is out of KVM_RUN (parked by
 * vmm/pause): registers, special registers, FPU/SSE/AVX (XSAVE, or the legacy FPU), XCRs,
 * every MSR KVM lists as saveable and can read (the TSC among them), its TSC rate, the
 * CPUID it was given, LAPIC and mp_state (with the in-kernel irqchip), pending events
 * and debug registers; for the VM, the PICs, IOAPIC and PIT (with the irqchip) and the
 * kvmclock. A load writes them into a fresh vCPU / VM, before its first KVM_RUN, in the
 * order KVM needs (vmstate.c, vcpu_put).
 *
 * Time: the guest's TSC and kvmclock go on from the values saved, so the guest sees no
 * time pass while it was saved (its clocks are monotonic; wall-clock catches up through
 * the guest's own time sync). A restored vCPU refuses a TSC rate this host cannot give it.
 *
 * The structures are KVM's own (linux/kvm.h, fixed by its ABI); the encoding (each
 * section starts with its u32 version) checks every length and count before use. KVM
 * validates the values themselves on KVM_SET_*: a refused value fails the load with the
 * ioctl named in the message.
 *
 * The decode/encode halves are pure (no KVM), for tests and the fuzz target.
 */
#ifndef VMM_VMSTATE_H
#define VMM_VMSTATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/sbuf.h"

#define VMSTATE_VCPU_VERSION 1u
#define VMSTATE_VM_VERSION 1u
#define VMSTATE_MAX_MSRS 1024u
#define VMSTATE_MAX_CPUID 256u
#define VMSTATE_MAX_XSAVE (64u << 10)

/* One vCPU's state (owns its arrays: vmstate_vcpu_free). */
struct vmstate_vcpu {
	bool irqchip;	/* LAPIC and mp_state are part of it */
	bool has_xsave; /* xsave is set, else fpu */
	bool has_xcrs;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint8_t *xsave; /* KVM_GET_XSAVE(2) area, xsave_len bytes */
	uint32_t xsave_len;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_msr_entry *msrs; /* those that could be read, in KVM's list order */
	uint32_t nr_msrs;
	uint32_t tsc_khz; /* 0: unknown (old KVM), not restored */
	struct kvm_cpuid_entry2 *cpuid;
	uint32_t nr_cpuid;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
};

struct vmstate_vm {
	bool irqchip;		    /* chips and pit are part of it */
	struct kvm_irqchip chip[3]; /* PIC master, PIC slave, IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
};

/* Append the complete state of a vCPU that is NOT in KVM_RUN (parked) to @out. It first
 * completes an exit the vCPU was parked after (vmstate_vcpu_settle), so the caller must
 * hold the vCPU out of KVM_RUN on its own thread meanwhile. Returns 0 or -errno (logged
 * with the ioctl that failed). */
int vmstate_save_vcpu(int vcpu_fd, bool irqchip, struct sbuf *out);

/* Load it into a freshly created vCPU (before its first KVM_RUN; its CPUID is replaced by
 * the saved one). Returns 0, -EINVAL with in->why set (bad or mismatching section), or
 * -errno of an ioctl KVM refused (also in in->why). A section that fails to decode changes
 * nothing; a failure after that leaves the vCPU half loaded: destroy the guest.
 * Restore order for a guest: create the VM as the original was (with the irqchip and PIT
 * if it had them) and its memslots, create every vCPU, load each, then vmstate_load_vm. */
int vmstate_load_vcpu(int vcpu_fd, bool irqchip, struct sbuf_reader *in);

/* VM-wide state: with @irqchip the PIC master/slave, IOAPIC and PIT2, and always the
 * kvmclock. Load it after every vCPU's vmstate_load_vcpu (the clock last). */
int vmstate_save_vm(int vm_fd, bool irqchip, struct sbuf *out);
int vmstate_load_vm(int vm_fd, bool irqchip, struct sbuf_reader *in);

/* Finish the instruction of the last I/O or MMIO exit (KVM completes it only on the next
 * KVM_RUN, and keeps that pending work where no KVM_GET_* shows it): one KVM_RUN with
 * immediate_exit set, which runs no guest instruction. vmstate_save_vcpu calls it. */
int vmstate_vcpu_settle(int vcpu_fd);

/* The halves without KVM. get/put need the vCPU parked; decode checks every length and
 * count and returns 0 or -EINVAL (in->why); encode never fails (out->err if memory ran
 * out). */
int vmstate_vcpu_get(int vcpu_fd, bool irqchip, struct vmstate_vcpu *st);
int vmstate_vcpu_put(int vcpu_fd, const struct vmstate_vcpu *st, struct sbuf_reader *why);
void vmstate_vcpu_encode(const struct vmstate_vcpu *st, struct sbuf *out);
int vmstate_vcpu_decode(struct sbuf_reader *in, struct vmstate_vcpu *st);
void vmstate_vcpu_free(struct vmstate_vcpu *st);

void vmstate_vm_encode(const struct vmstate_vm *st, struct sbuf *out);
int vmstate_vm_decode(struct sbuf_reader *in, struct vmstate_vm *st);

#endif
