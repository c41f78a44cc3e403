/* fixup.h - stand-ins for the few CPL0 instructions PVM's emulator cannot run (Linux guests).
 *
 * On PVM a guest's CPL0 code goes through KVM's instruction emulator, which stops the
 * guest with KVM_EXIT_INTERNAL_ERROR / KVM_INTERNAL_ERROR_EMULATION on instructions it
 * lacks. A stock Linux kernel executes some of them whatever CPUID says: int3 (its
 * alternatives self-test and live patching), fwait (FPU code), ldmxcsr (every
 * kernel_fpu_begin), clac/stac (exception entry when the kernel believes in SMAP) and
 * verw (MDS mitigation). The exit carries the instruction bytes, so the VMM does the
 * instruction's work itself and resumes the guest after it.
 */
#ifndef VMM_FIXUP_H
#define VMM_FIXUP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem.h"

#define FIXUP_BASE_NONE (-1)
#define FIXUP_BASE_RIP (-2)

enum fixup_kind {
	FIXUP_SKIP,    /* advance RIP, adjust RFLAGS, maybe raise an exception */
	FIXUP_LDMXCSR, /* load MXCSR from the memory operand, then skip */
};

/* A decoded ModRM memory operand: seg:[base + index * scale + disp]. */
struct fixup_operand {
	int base;  /* register number 0-15 (rax, rcx, ... r15), or FIXUP_BASE_* */
	int index; /* register number, or -1 */
	unsigned scale;
	int64_t disp;
	int seg;  /* 0, or 0x64 (fs) / 0x65 (gs) for a segment override */
	bool reg; /* a register, not memory (ModRM mod 3) */
};

/* What to do instead of one instruction. */
struct fixup {
	enum fixup_kind kind;
	unsigned len;		 /* bytes to skip (the instruction's length) */
	int vector;		 /* exception to raise after skipping it (#BP for int3), or -1 */
	uint64_t rflags_set;	 /* RFLAGS bits to set, then ... */
	uint64_t rflags_clear;	 /* ... bits to clear */
	struct fixup_operand op; /* FIXUP_LDMXCSR: where the new MXCSR is */
	const char *name;	 /* mnemonic, for logs */
};

/* Decode the instruction at @insn (@n bytes available). Returns true and fills @f if it is
 * one we stand in for: int3, fwait, clac, stac, ldmxcsr m32, verw (any operand). Pure. */
bool fixup_decode(const uint8_t *insn, unsigned n, struct fixup *f);

/* Handle a KVM_EXIT_INTERNAL_ERROR exit of the vCPU @vcpu_fd of a guest with RAM @m: if
 * it is an emulation failure on an instruction fixup_decode knows, perform it (advance RIP,
 * adjust RFLAGS or MXCSR, inject the exception) so that the next KVM_RUN continues the
 * guest. Call on the vCPU's thread. Returns 0 when handled, -ENOTSUP when the exit is not
 * one we can fix (the guest must die), -EFAULT for an operand outside guest RAM, or -errno
 * from a failed ioctl. Sets *@name (if not NULL) to the mnemonic when handled. */
int fixup_emulation_failure(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *m,
			    const char **name);

#endif
