/* fixup.c - perform int3, fwait, ldmxcsr, clac, stac and verw when PVM's emulator cannot. */
#include "vmm/fixup.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include "lib/page.h"

#define RFLAGS_AC (1ull << 18)
#define VEC_BP 3
#define INSN_MAX 15
#define MXCSR_VALID 0xffffu

/* Read a little-endian signed displacement of @size bytes. */
static int64_t disp_read(const uint8_t *p, unsigned size)
{
	int32_t d32;
	int8_t d8;

	if (size == 1) {
		memcpy(&d8, p, 1);
		return d8;
	}
	memcpy(&d32, p, 4);
	return d32;
}

/* Base and index from a SIB byte; returns the displacement size it implies (mod 0). */
static unsigned sib_decode(uint8_t sib, unsigned mod, uint8_t rex, struct fixup_operand *op)
{
	unsigned index = ((sib >> 3) & 7) | ((rex & 2u) << 2);

	op->scale = 1u << (sib >> 6);
	op->index = index == 4 ? -1 : (int) index; /* rsp cannot be an index */
	op->base = (int) ((sib & 7) | ((rex & 1u) << 3));
	if (mod == 0 && (sib & 7) == 5) {
		op->base = FIXUP_BASE_NONE;
		return 4;
	}
	return 0;
}

/* Decode a ModRM operand (64-bit addressing) at @p; returns its length (ModRM, SIB and
 * displacement) or 0 if @n bytes do not hold it all. */
static unsigned modrm_decode(const uint8_t *p, unsigned n, uint8_t rex, struct fixup_operand *op)
{
	unsigned mod, rm, len = 1, dsize = 0;

	if (n < 1)
		return 0;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	*op = (struct fixup_operand){
	    .base = (int) (rm | ((rex & 1u) << 3)), .index = -1, .scale = 1, .reg = mod == 3};
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (n < 2)
			return 0;
		dsize = sib_decode(p[1], mod, rex, op);
		len++;
	} else if (mod == 0 && rm == 5) {
		op->base = FIXUP_BASE_RIP;
		dsize = 4;
	}
	dsize = mod == 1 ? 1 : mod == 2 ? 4 : dsize;
	if (len + dsize > n)
		return 0;
	if (dsize)
		op->disp = disp_read(p + len, dsize);
	return len + dsize;
}

/* Legacy prefixes and a REX byte; returns how many bytes they take. */
static unsigned prefixes(const uint8_t *p, unsigned n, int *seg, uint8_t *rex)
{
	static const uint8_t legacy[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67};
	unsigned i = 0;

	*seg = 0;
	*rex = 0;
	for (; i < n && i < INSN_MAX && memchr(legacy, p[i], sizeof(legacy)); i++)
		if (p[i] == 0x64 || p[i] == 0x65)
			*seg = p[i];
	if (i < n && (p[i] & 0xf0) == 0x40)
		*rex = p[i++];
	return i;
}

/* verw r/m16 (0f 00 /5) and ldmxcsr m32 (0f ae /2, memory only). */
static bool decode_modrm_insn(const uint8_t *insn, unsigned n, struct fixup *f)
{
	struct fixup_operand op;
	unsigned pre, len, reg;
	uint8_t rex;
	int seg;

	pre = prefixes(insn, n, &seg, &rex);
	if (pre + 3 > n || insn[pre] != 0x0f)
		return false;
	len = modrm_decode(insn + pre + 2, n - pre - 2, rex, &op);
	if (!len || pre + 2 + len > INSN_MAX)
		return false;
	op.seg = seg;
	reg = (insn[pre + 2] >> 3) & 7;
	*f = (struct fixup){.len = pre + 2 + len, .vector = -1, .op = op};
	if (insn[pre + 1] == 0x00 && reg == 5) {
		f->name = "verw"; /* only flushes buffers; ZF is never looked at */
		return true;
	}
	if (insn[pre + 1] == 0xae && reg == 2 && !op.reg) {
		f->kind = FIXUP_LDMXCSR;
		f->name = "ldmxcsr";
		return true;
	}
	return false;
}

bool fixup_decode(const uint8_t *insn, unsigned n, struct fixup *f)
{
	if (n >= 1 && insn[0] == 0xcc) {
		*f = (struct fixup){.len = 1, .vector = VEC_BP, .name = "int3"};
		return true;
	}
	if (n >= 1 && insn[0] == 0x9b) {
		/* No x87 exception is ever pending: the kernel runs with them masked. */
		*f = (struct fixup){.len = 1, .vector = -1, .name = "fwait"};
		return true;
	}
	if (n >= 3 && insn[0] == 0x0f && insn[1] == 0x01 && (insn[2] == 0xca || insn[2] == 0xcb)) {
		bool stac = insn[2] == 0xcb;

		*f = (struct fixup){.len = 3,
				    .vector = -1,
				    .rflags_set = stac ? RFLAGS_AC : 0,
				    .rflags_clear = stac ? 0 : RFLAGS_AC,
				    .name = stac ? "stac" : "clac"};
		return true;
	}
	return decode_modrm_insn(insn, n, f);
}

static uint64_t reg_value(const struct kvm_regs *r, int n)
{
	const uint64_t v[16] = {r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
				r->r8,	r->r9,	r->r10, r->r11, r->r12, r->r13, r->r14, r->r15};

	return v[n & 15];
}

/* Linear address of a memory operand; @next_rip is the address after the instruction. */
static int operand_address(int vcpu_fd, const struct fixup_operand *op, const struct kvm_regs *r,
			   uint64_t next_rip, uint64_t *la)
{
	struct kvm_sregs s;
	uint64_t a = (uint64_t) op->disp;

	if (op->base == FIXUP_BASE_RIP)
		a += next_rip;
	else if (op->base >= 0)
		a += reg_value(r, op->base);
	if (op->index >= 0)
		a += reg_value(r, op->index) * op->scale;
	if (op->seg) {
		if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
			return -errno;
		a += op->seg == 0x64 ? s.fs.base : s.gs.base;
	}
	*la = a;
	return 0;
}

/* Read 4 bytes of guest memory at linear address @la through the guest's page tables. */
static int read_u32(int vcpu_fd, const struct guest_mem *m, uint64_t la, uint32_t *v)
{
	struct kvm_translation t = {.linear_address = la};
	const void *p;

	if ((la & (PAGE_SIZE - 1)) > PAGE_SIZE - 4)
		return -ENOTSUP; /* split across pages: never seen, not worth the code */
	if (ioctl(vcpu_fd, KVM_TRANSLATE, &t) < 0)
		return -errno;
	p = t.valid ? mem_gpa(m, t.physical_address, 4) : NULL;
	if (!p)
		return -EFAULT;
	memcpy(v, p, 4);
	return 0;
}

static int do_ldmxcsr(int vcpu_fd, const struct guest_mem *m, const struct fixup *f,
		      const struct kvm_regs *r)
{
	struct kvm_fpu fpu;
	uint64_t la = 0;
	uint32_t v = 0;
	int ret;

	ret = operand_address(vcpu_fd, &f->op, r, r->rip + f->len, &la);
	ret = ret ?: read_u32(vcpu_fd, m, la, &v);
	if (ret)
		return ret;
	if (v & ~MXCSR_VALID)
		return -ENOTSUP; /* would be #GP: let the guest die visibly */
	if (ioctl(vcpu_fd, KVM_GET_FPU, &fpu) < 0)
		return -errno;
	fpu.mxcsr = v;
	if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

/* Raise @vector as if the skipped instruction had trapped (RIP already past it). */
static int inject(int vcpu_fd, int vector)
{
	struct kvm_vcpu_events ev;

	if (ioctl(vcpu_fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = (uint8_t) vector;
	ev.exception.has_error_code = 0;
	ev.exception.error_code = 0;
	if (ioctl(vcpu_fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	return 0;
}

static int perform(int vcpu_fd, const struct guest_mem *m, const struct fixup *f)
{
	struct kvm_regs r;
	int ret;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0)
		return -errno;
	if (f->kind == FIXUP_LDMXCSR) {
		ret = do_ldmxcsr(vcpu_fd, m, f, &r);
		if (ret)
			return ret;
	}
	r.rip += f->len;
	r.rflags = (r.rflags | f->rflags_set) & ~f->rflags_clear;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	return f->vector >= 0 ? inject(vcpu_fd, f->vector) : 0;
}

int fixup_emulation_failure(int vcpu_fd, const struct kvm_run *run, const struct guest_mem *m,
			    const char **name)
{
	const typeof(run->emulation_failure) *e = &run->emulation_failure;
	struct fixup f;
	unsigned n;
	int ret;

	/* flags, then insn_size and insn_bytes: the first three data words */
	if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR ||
	    e->suberror != KVM_INTERNAL_ERROR_EMULATION || e->ndata < 3 ||
	    !(e->flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES))
		return -ENOTSUP;
	n = e->insn_size < sizeof(e->insn_bytes) ? e->insn_size : sizeof(e->insn_bytes);
	if (!fixup_decode(e->insn_bytes, n, &f))
		return -ENOTSUP;
	ret = perform(vcpu_fd, m, &f);
	if (!ret && name)
		*name = f.name;
	return ret;
}
