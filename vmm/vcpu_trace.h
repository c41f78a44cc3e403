/* vcpu_trace.h - the last exits of a vCPU and its register state, for the log of a fatal exit. */
#ifndef VMM_VCPU_TRACE_H
#define VMM_VCPU_TRACE_H

#include <stdint.h>

#include <linux/kvm.h>

#define VCPU_TRACE_LEN 8

/* The last VCPU_TRACE_LEN exits of one vCPU, oldest overwritten first. Owned by the vCPU's
 * thread: no locking. */
struct vcpu_trace {
	struct vcpu_trace_exit {
		uint32_t reason; /* KVM_EXIT_* */
		uint8_t write;	 /* for IO and MMIO */
		uint8_t size;	 /* bytes, for IO and MMIO */
		uint64_t addr;	 /* port or guest-physical address */
	} exits[VCPU_TRACE_LEN];
	uint64_t count; /* exits recorded since the vCPU started */
};

/* Record the exit KVM just reported in @run. Costs no system call. */
void vcpu_trace_record(struct vcpu_trace *t, const struct kvm_run *run);

/* Log (pr_err) the registers, control registers, descriptor tables and pending events of
 * vCPU @fd, then the exits in @t, oldest first, each line prefixed by @name and @id.
 * Caveat: on AMD, KVM answers a SHUTDOWN exit by resetting the vCPU (the VMCB is undefined
 * after it), so the registers read then are the INIT state (rip 0xfff0) and the exit trace
 * tells what the guest was doing. The events' exception number survives the reset: seen
 * on nested SVM (6.1), a ud2 without an IDT left "exception - nr 6" (#UD), the vector
 * whose delivery failed. */
void vcpu_trace_dump(const struct vcpu_trace *t, int fd, const char *name, unsigned id);

#endif
