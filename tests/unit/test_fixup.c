/* test_fixup.c - decoding the instructions the VMM performs for PVM, and what it refuses. */
#include "vmm/fixup.h"

#include <errno.h>
#include <string.h>

#include "tests/unit/check.h"

#define AC (1ull << 18)

static struct fixup decode(const uint8_t *insn, unsigned n, bool *ok)
{
	struct fixup f;

	memset(&f, 0xee, sizeof(f));
	*ok = fixup_decode(insn, n, &f);
	return f;
}

/* @insn must decode to @name with length @len. */
static void good(const uint8_t *insn, unsigned n, const char *name, unsigned len)
{
	bool ok;
	struct fixup f = decode(insn, n, &ok);

	CHECK(ok);
	if (!ok)
		return;
	CHECK(strcmp(f.name, name) == 0);
	CHECK_EQ(f.len, len);
}

static void bad(const uint8_t *insn, unsigned n)
{
	bool ok;

	decode(insn, n, &ok);
	CHECK(!ok);
}

static void test_simple(void)
{
	static const uint8_t int3[] = {0xcc, 0x90}, fwait[] = {0x9b}, clac[] = {0x0f, 0x01, 0xca},
			     stac[] = {0x0f, 0x01, 0xcb};
	bool ok;
	struct fixup f;

	f = decode(int3, sizeof(int3), &ok);
	CHECK(ok && f.len == 1 && f.vector == 3 && !f.rflags_set && !f.rflags_clear);
	f = decode(fwait, sizeof(fwait), &ok);
	CHECK(ok && f.len == 1 && f.vector == -1);
	f = decode(clac, sizeof(clac), &ok);
	CHECK(ok && f.len == 3 && f.vector == -1 && f.rflags_clear == AC && !f.rflags_set);
	f = decode(stac, sizeof(stac), &ok);
	CHECK(ok && f.len == 3 && f.rflags_set == AC && !f.rflags_clear);
	bad(clac, 2); /* truncated */
	bad(int3, 0);
}

static void test_verw(void)
{
	/* Linux's mds_clear_cpu_buffers: verw %cs:rip+disp32 */
	static const uint8_t rip_rel[] = {0x2e, 0x0f, 0x00, 0x2d, 1, 2, 3, 4, 0x90};
	static const uint8_t reg[] = {0x0f, 0x00, 0xe8};	    /* verw %ax */
	static const uint8_t disp8[] = {0x0f, 0x00, 0x6c, 0x24, 8}; /* verw 8(%rsp) */
	static const uint8_t sib_nobase[] = {0x0f, 0x00, 0x2c, 0x25, 0, 0, 0, 0};
	static const uint8_t disp32[] = {0x41, 0x0f, 0x00, 0xaf, 0, 1, 0, 0}; /* (%r15) */
	static const uint8_t verr[] = {0x0f, 0x00, 0xe0};		      /* /4: verr */
	static const uint8_t ltr[] = {0x0f, 0x00, 0xd8};		      /* /3 */
	static const uint8_t prefixes[16] = {0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
					     0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66};

	good(rip_rel, sizeof(rip_rel), "verw", 8);
	good(reg, sizeof(reg), "verw", 3);
	good(disp8, sizeof(disp8), "verw", 5);
	good(sib_nobase, sizeof(sib_nobase), "verw", 8);
	good(disp32, sizeof(disp32), "verw", 8);
	bad(rip_rel, 7); /* displacement cut off */
	bad(verr, sizeof(verr));
	bad(ltr, sizeof(ltr));
	bad(prefixes, sizeof(prefixes));
}

/* ldmxcsr m32: 0f ae /2, with its memory operand decoded for the VMM to read. */
static void test_ldmxcsr(void)
{
	static const uint8_t stack[] = {0x0f, 0xae, 0x54, 0x24, 0x04}; /* 4(%rsp) */
	static const uint8_t rip_rel[] = {0x0f, 0xae, 0x15, 0xf0, 0xff, 0xff, 0xff};
	static const uint8_t sib[] = {0x65, 0x43, 0x0f, 0xae, 0x94, 0xbe, 0x00, 0x01, 0, 0};
	static const uint8_t reg[] = {0x0f, 0xae, 0xd0}; /* mod 3: not ldmxcsr */
	static const uint8_t stmxcsr[] = {0x0f, 0xae, 0x5c, 0x24, 0x04};
	bool ok;
	struct fixup f;

	f = decode(stack, sizeof(stack), &ok);
	CHECK(ok && f.kind == FIXUP_LDMXCSR && f.len == 5);
	CHECK(f.op.base == 4 && f.op.index == -1 && f.op.disp == 4 && !f.op.seg && !f.op.reg);
	f = decode(rip_rel, sizeof(rip_rel), &ok);
	CHECK(ok && f.len == 7 && f.op.base == FIXUP_BASE_RIP && f.op.disp == -16);
	/* gs: REX.XB: (%r14 + %r15 * 4 + 0x100) */
	f = decode(sib, sizeof(sib), &ok);
	CHECK(ok && f.len == 10 && f.op.seg == 0x65);
	CHECK(f.op.base == 14 && f.op.index == 15 && f.op.scale == 4 && f.op.disp == 0x100);
	bad(reg, sizeof(reg));
	bad(stmxcsr, sizeof(stmxcsr));
	bad(sib, 9);
}

static void test_others_refused(void)
{
	static const uint8_t xrstor[] = {0x48, 0x0f, 0xae, 0x2f};
	static const uint8_t cx16[] = {0x48, 0x0f, 0xc7, 0x0e};
	static const uint8_t popcnt[] = {0xf3, 0x48, 0x0f, 0xb8, 0xc7};
	static const uint8_t hlt[] = {0xf4};
	struct kvm_run run;

	bad(xrstor, sizeof(xrstor));
	bad(cx16, sizeof(cx16));
	bad(popcnt, sizeof(popcnt));
	bad(hlt, sizeof(hlt));

	/* exits that are not emulation failures with bytes are never touched (fd -1) */
	memset(&run, 0, sizeof(run));
	run.exit_reason = KVM_EXIT_HLT;
	CHECK_EQ(fixup_emulation_failure(-1, &run, NULL, NULL), -ENOTSUP);
	run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
	run.emulation_failure.ndata = 3;
	run.emulation_failure.insn_size = 1;
	run.emulation_failure.insn_bytes[0] = 0xcc;
	CHECK_EQ(fixup_emulation_failure(-1, &run, NULL, NULL), -ENOTSUP); /* no bytes flag */
	run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
	run.emulation_failure.insn_bytes[0] = 0xf4;
	CHECK_EQ(fixup_emulation_failure(-1, &run, NULL, NULL), -ENOTSUP);
	run.emulation_failure.insn_bytes[0] = 0xcc;
	CHECK_EQ(fixup_emulation_failure(-1, &run, NULL, NULL), -EBADF); /* decoded, then ioctl */
}

int main(void)
{
	test_simple();
	test_verw();
	test_ldmxcsr();
	test_others_refused();
	return check_done("test_fixup");
}
