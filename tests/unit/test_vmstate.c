/* test_vmstate.c - the saved form of vCPU and VM state, without KVM: round trips keep
 * every byte, and a bad section (wrong version, unknown parts, bad lengths and counts,
 * any truncation, trailing bytes, irqchip mismatch) is refused with its message before
 * any ioctl; a load KVM refuses names the ioctl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "tests/unit/check.h"
#include "vmm/vmstate.h"

static void fill(void *p, size_t n, uint8_t seed)
{
	uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t) (seed + i * 7);
}

/* A state with every part, arrays on the heap. */
static void make_vcpu(struct vmstate_vcpu *st, bool irqchip, bool xsave)
{
	memset(st, 0, sizeof(*st));
	st->irqchip = irqchip;
	st->has_xsave = xsave;
	st->has_xcrs = xsave;
	fill(&st->regs, sizeof(st->regs), 1);
	fill(&st->sregs, sizeof(st->sregs), 2);
	fill(&st->fpu, sizeof(st->fpu), 3);
	if (xsave) {
		st->xsave_len = 4096 + 64;
		st->xsave = malloc(st->xsave_len);
		fill(st->xsave, st->xsave_len, 4);
		st->xcrs.nr_xcrs = 1;
		st->xcrs.xcrs[0].value = 7;
	}
	st->tsc_khz = 2100000;
	st->nr_msrs = 3;
	st->msrs = calloc(3, sizeof(*st->msrs));
	for (unsigned i = 0; i < 3; i++)
		st->msrs[i] = (struct kvm_msr_entry){.index = 0x10 + i, .data = 1000 + i};
	st->nr_cpuid = 2;
	st->cpuid = calloc(2, sizeof(*st->cpuid));
	fill(st->cpuid, 2 * sizeof(*st->cpuid), 5);
	if (irqchip) {
		fill(&st->lapic, sizeof(st->lapic), 6);
		st->mp_state.mp_state = KVM_MP_STATE_HALTED;
	}
	fill(&st->events, sizeof(st->events), 8);
	fill(&st->debugregs, sizeof(st->debugregs), 9);
}

static bool vcpu_equal(const struct vmstate_vcpu *a, const struct vmstate_vcpu *b)
{
	return a->irqchip == b->irqchip && a->has_xsave == b->has_xsave &&
	       a->has_xcrs == b->has_xcrs && !memcmp(&a->regs, &b->regs, sizeof(a->regs)) &&
	       !memcmp(&a->sregs, &b->sregs, sizeof(a->sregs)) &&
	       (a->has_xsave
		    ? a->xsave_len == b->xsave_len && !memcmp(a->xsave, b->xsave, a->xsave_len)
		    : !memcmp(&a->fpu, &b->fpu, sizeof(a->fpu))) &&
	       (!a->has_xcrs || !memcmp(&a->xcrs, &b->xcrs, sizeof(a->xcrs))) &&
	       a->tsc_khz == b->tsc_khz && a->nr_msrs == b->nr_msrs &&
	       !memcmp(a->msrs, b->msrs, a->nr_msrs * sizeof(a->msrs[0])) &&
	       a->nr_cpuid == b->nr_cpuid &&
	       !memcmp(a->cpuid, b->cpuid, a->nr_cpuid * sizeof(a->cpuid[0])) &&
	       (!a->irqchip || (!memcmp(&a->lapic, &b->lapic, sizeof(a->lapic)) &&
				a->mp_state.mp_state == b->mp_state.mp_state)) &&
	       !memcmp(&a->events, &b->events, sizeof(a->events)) &&
	       !memcmp(&a->debugregs, &b->debugregs, sizeof(a->debugregs));
}

static void test_vcpu_round_trip(bool irqchip, bool xsave)
{
	struct vmstate_vcpu a, b;
	struct sbuf out;
	struct sbuf_reader r;

	make_vcpu(&a, irqchip, xsave);
	sbuf_init(&out);
	vmstate_vcpu_encode(&a, &out);
	CHECK_EQ(out.err, 0);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vcpu_decode(&r, &b), 0);
	CHECK(vcpu_equal(&a, &b));
	vmstate_vcpu_free(&b);
	CHECK(b.msrs == NULL && b.nr_msrs == 0);
	/* Every truncation is refused, with nothing left allocated. */
	for (size_t n = 0; n < out.len; n++) {
		sbuf_reader_init(&r, out.data, n);
		CHECK_EQ(vmstate_vcpu_decode(&r, &b), -EINVAL);
		CHECK(b.msrs == NULL && b.xsave == NULL && b.cpuid == NULL);
	}
	sbuf_free(&out);
	vmstate_vcpu_free(&a);
}

/* Encode @st, apply @patch to the bytes at @off (4 bytes, little-endian), decode: the
 * message must contain @why. */
static void refused_vcpu(const struct vmstate_vcpu *st, size_t off, uint32_t patch, const char *why)
{
	struct sbuf out;
	struct sbuf_reader r;
	struct vmstate_vcpu b;

	sbuf_init(&out);
	vmstate_vcpu_encode(st, &out);
	for (unsigned i = 0; i < 4 && off != (size_t) -1; i++)
		out.data[off + i] = (uint8_t) (patch >> (8 * i));
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vcpu_decode(&r, &b), -EINVAL);
	CHECK(strstr(r.why, why) != NULL);
	if (!strstr(r.why, why))
		fprintf(stderr, "got \"%s\", wanted \"%s\"\n", r.why, why);
	sbuf_free(&out);
}

/* Offset of the n-th u32 field after the version: regs blob starts at 8. */
static void test_vcpu_refusals(void)
{
	struct vmstate_vcpu st;
	size_t regs_len = 4 + sizeof(struct kvm_regs), sregs_len = 4 + sizeof(struct kvm_sregs);
	size_t xsave_off = 8 + regs_len + sregs_len;
	size_t xcrs_off = xsave_off + 4 + 4096 + 64;
	size_t msr_off = xcrs_off + 4 + sizeof(struct kvm_xcrs) + 4;
	size_t cpuid_off = msr_off + 4 + 3 * 12;

	make_vcpu(&st, true, true);
	refused_vcpu(&st, 0, 9, "vCPU state version 9, this ksmvmm reads 1");
	refused_vcpu(&st, 4, 0x80, "unknown vCPU state parts 0x80");
	refused_vcpu(&st, 8, 12, "regs: 12 bytes, expected");
	refused_vcpu(&st, xsave_off, 100, "xsave area of 100 bytes");
	refused_vcpu(&st, xsave_off, 0xffffff00, "more wanted"); /* a blob beyond the end */
	refused_vcpu(&st, msr_off, 0xffffffff, "4294967295 MSRs");
	refused_vcpu(&st, msr_off, 4, "truncated"); /* the 4th MSR eats the CPUID count */
	refused_vcpu(&st, cpuid_off, 3, "3 CPUID entries in 80 bytes");
	refused_vcpu(&st, cpuid_off, 0, "0 CPUID entries");
	st.xcrs.nr_xcrs = 99;
	refused_vcpu(&st, (size_t) -1, 0, "99 XCRs");
	vmstate_vcpu_free(&st);
}

static void test_vcpu_trailing(void)
{
	struct vmstate_vcpu st, b;
	struct sbuf out;
	struct sbuf_reader r;

	make_vcpu(&st, false, false);
	sbuf_init(&out);
	vmstate_vcpu_encode(&st, &out);
	sbuf_put_u8(&out, 0);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vcpu_decode(&r, &b), -EINVAL);
	CHECK(strstr(r.why, "1 bytes after the vCPU state") != NULL);
	sbuf_free(&out);
	vmstate_vcpu_free(&st);
}

/* The load checks before it touches KVM; what KVM refuses is named. fd -1: EBADF. */
static void test_vcpu_load_errors(void)
{
	struct vmstate_vcpu st;
	struct sbuf out;
	struct sbuf_reader r;

	make_vcpu(&st, true, false);
	sbuf_init(&out);
	vmstate_vcpu_encode(&st, &out);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_load_vcpu(-1, false, &r), -EINVAL);
	CHECK(strstr(r.why, "vCPU state has an in-kernel LAPIC, the guest has none") != NULL);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_load_vcpu(-1, true, &r), -EBADF);
	CHECK(strstr(r.why, "KVM_SET_CPUID2: Bad file descriptor") != NULL);
	sbuf_free(&out);
	vmstate_vcpu_free(&st);
}

static void make_vm(struct vmstate_vm *st, bool irqchip)
{
	memset(st, 0, sizeof(*st));
	st->irqchip = irqchip;
	for (unsigned i = 0; i < 3; i++) {
		fill(&st->chip[i], sizeof(st->chip[i]), (uint8_t) i);
		st->chip[i].chip_id = i;
	}
	fill(&st->pit, sizeof(st->pit), 11);
	st->clock.clock = 123456789;
}

static void test_vm(void)
{
	struct vmstate_vm a, b;
	struct sbuf out;
	struct sbuf_reader r;

	make_vm(&a, true);
	sbuf_init(&out);
	vmstate_vm_encode(&a, &out);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vm_decode(&r, &b), 0);
	CHECK(!memcmp(&a, &b, sizeof(a)));
	for (size_t n = 0; n < out.len; n++) {
		sbuf_reader_init(&r, out.data, n);
		CHECK_EQ(vmstate_vm_decode(&r, &b), -EINVAL);
	}
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_load_vm(-1, false, &r), -EINVAL);
	CHECK(strstr(r.why, "VM state has an in-kernel irqchip, the guest has none") != NULL);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_load_vm(-1, true, &r), -EBADF);
	CHECK(strstr(r.why, "KVM_SET_IRQCHIP") != NULL);
	out.data[0] = 2;
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vm_decode(&r, &b), -EINVAL);
	CHECK(strstr(r.why, "VM state version 2, this ksmvmm reads 1") != NULL);
	sbuf_free(&out);
	a.chip[1].chip_id = 0;
	sbuf_init(&out);
	vmstate_vm_encode(&a, &out);
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vm_decode(&r, &b), -EINVAL);
	CHECK(strstr(r.why, "irqchip 1 has id 0") != NULL);
	sbuf_free(&out);
	make_vm(&a, false);
	sbuf_init(&out);
	vmstate_vm_encode(&a, &out);
	CHECK_EQ(out.len, 8 + 4 + sizeof(struct kvm_clock_data));
	sbuf_reader_init(&r, out.data, out.len);
	CHECK_EQ(vmstate_vm_decode(&r, &b), 0);
	CHECK(!b.irqchip && b.clock.clock == 123456789);
	sbuf_free(&out);
}

int main(void)
{
	log_level = 0;
	test_vcpu_round_trip(true, true);
	test_vcpu_round_trip(false, false);
	test_vcpu_refusals();
	test_vcpu_trailing();
	test_vcpu_load_errors();
	test_vm();
	return check_done("test_vmstate");
}
