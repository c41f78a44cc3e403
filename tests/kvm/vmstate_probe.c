/* vmstate_probe.c - proof on real KVM that vmm/vmstate and vmm/snapfile carry a running
 * guest over: guest A (long mode, CPL3, in-kernel irqchip and PIT) counts in rbx and in
 * xmm0 and reports rbx and its TSC on port 0x10 every 4096 iterations. After a few reports
 * A is saved (vCPU + VM state) into a snapshot with its RAM, and goes on. Guest B is a
 * second VM built from the snapshot only; it must go on exactly where A was saved: the
 * same registers at once, the same sequence of reports as A after the save (none
 * repeated: the OUT that parked A was completed before the save), the same xmm0, a TSC
 * and kvmclock that did not go back. Done with the in-kernel irqchip and PIT (as for Linux
 * guests) and without (the workload guest). Usage: vmstate_probe DIR (must not exist).
 * Exit 0: carried over; 1: a check failed; 77: no /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sbuf.h"
#include "vmm/kvm.h"
#include "vmm/snapfile.h"
#include "vmm/vmstate.h"
#include "vmm/x86.h"

#define RAM_SIZE (2ull << 20)
#define GDT_GPA 0x1000
#define CODE_GPA 0x8000
#define PT_GPA 0x10000
#define PORT 0x10
#define WARM 5	 /* reports before the save */
#define AFTER 12 /* reports compared after it */
#define NVCPU 2	 /* vCPU 0 is compared in detail; both must go on */

/* The guest: xmm1 = {1, 1}; loop { rbx++, xmm0 += xmm1; every 4096: r8 = TSC, out ebx }. */
extern const uint8_t guest_code[], guest_code_out[], guest_code_end[];
__asm__(".pushsection .rodata\n"
	"guest_code:\n"
	"  mov $1, %eax\n"
	"  movq %rax, %xmm1\n"
	"  punpcklqdq %xmm1, %xmm1\n"
	"  pxor %xmm0, %xmm0\n"
	"  xor %ebx, %ebx\n"
	"1: inc %rbx\n"
	"  paddq %xmm1, %xmm0\n"
	"  test $0xfff, %ebx\n"
	"  jnz 1b\n"
	"  rdtsc\n"
	"  shl $32, %rdx\n"
	"  or %rax, %rdx\n"
	"  mov %rdx, %r8\n"
	"  mov %ebx, %eax\n"
	"  out %eax, $0x10\n"
	"guest_code_out:\n"
	"  jmp 1b\n"
	"guest_code_end:\n"
	".popsection\n");

/* The same with AVX where the CPU has it: ymm1 = {1.0 x 4} (from CONST_GPA), ymm0 += ymm1,
 * so the upper halves of the ymm registers (XSAVE state beyond the legacy area, and XCR0)
 * must be carried too. */
extern const uint8_t guest_avx[], guest_avx_out[], guest_avx_end[];
__asm__(".pushsection .rodata\n"
	"guest_avx:\n"
	"  vmovupd 0x9000, %ymm1\n"
	"  vxorpd %ymm0, %ymm0, %ymm0\n"
	"  xor %ebx, %ebx\n"
	"1: inc %rbx\n"
	"  vaddpd %ymm1, %ymm0, %ymm0\n"
	"  test $0xfff, %ebx\n"
	"  jnz 1b\n"
	"  rdtsc\n"
	"  shl $32, %rdx\n"
	"  or %rax, %rdx\n"
	"  mov %rdx, %r8\n"
	"  mov %ebx, %eax\n"
	"  out %eax, $0x10\n"
	"guest_avx_out:\n"
	"  jmp 1b\n"
	"guest_avx_end:\n"
	".popsection\n");
#define CONST_GPA 0x9000
#define XSAVE_YMM_HI 576 /* offset of ymm0's upper half in the XSAVE area */

static bool avx; /* the guests use guest_avx */
/* This host's KVM ignores the VMM's writes of a vCPU's TSC (PVM: the guest reads the
 * host's TSC), so a TSC cannot be carried over, only checked not to go back. */
static bool tsc_fixed;

/* Guest address of the instruction after the OUT: where A must be once it is saved. */
static uint64_t after_out(void)
{
	return CODE_GPA +
	       (uint64_t) (avx ? guest_avx_out - guest_avx : guest_code_out - guest_code);
}

struct probe_vm {
	bool irqchip; /* in-kernel PIC, IOAPIC, LAPIC and PIT (Linux guests); none: workload */
	int vm, vcpu[NVCPU];
	uint8_t *ram;
	struct kvm_run *run[NVCPU];
};

static int failures;

#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			printf("MISMATCH: " __VA_ARGS__);                                          \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

static void die(const char *what)
{
	printf("probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void vm_create(struct probe_vm *p)
{
	struct kvm_userspace_memory_region slot = {.memory_size = RAM_SIZE};
	struct kvm_pit_config pit = {0};

	p->vm = ioctl(kvm_fd(), KVM_CREATE_VM, 0);
	if (p->vm < 0)
		die("KVM_CREATE_VM");
	ioctl(p->vm, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	p->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->ram == MAP_FAILED)
		die("mmap");
	slot.userspace_addr = (uintptr_t) p->ram;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &slot))
		die("KVM_SET_USER_MEMORY_REGION");
	if (p->irqchip &&
	    (ioctl(p->vm, KVM_CREATE_IRQCHIP, 0) || ioctl(p->vm, KVM_CREATE_PIT2, &pit)))
		die("irqchip/PIT");
	for (unsigned i = 0; i < NVCPU; i++) {
		p->vcpu[i] = ioctl(p->vm, KVM_CREATE_VCPU, (unsigned long) i);
		if (p->vcpu[i] < 0)
			die("KVM_CREATE_VCPU");
		p->run[i] =
		    mmap(NULL, kvm_run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu[i], 0);
		if (p->run[i] == MAP_FAILED)
			die("mmap kvm_run");
	}
}

static void boot_long_mode(struct probe_vm *p)
{
	struct guest_mem m = {.ram_size = RAM_SIZE, .nr_regions = 1};
	struct kvm_segment code = {.limit = 0xffffffff,
				   .selector = X86_SEL_UCODE,
				   .type = 11,
				   .present = 1,
				   .dpl = 3,
				   .s = 1,
				   .l = 1,
				   .g = 1};
	struct kvm_segment data = code;
	/* CPL3 with IOPL 3, as the workload guest runs: PVM interprets CPL0 code and its
	 * emulator has no SSE (KVM_EXIT_INTERNAL_ERROR at the first movq to xmm1). */
	struct kvm_regs regs = {.rip = CODE_GPA, .rsp = 0x7000, .rflags = 2 | 3u << 12};
	struct kvm_sregs s;
	const struct kvm_cpuid2 *c = kvm_supported_cpuid();
	struct kvm_mp_state runnable = {KVM_MP_STATE_RUNNABLE};
	struct kvm_xcrs xcrs = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 7}}};

	m.regions[0] = (struct mem_region){0, RAM_SIZE, p->ram};
	if (x86_build_gdt(&m, GDT_GPA) || x86_build_identity_map(&m, PT_GPA, 1ull << 30, true))
		die("page tables");
	if (avx) {
		for (unsigned i = 0; i < 4; i++)
			memcpy(p->ram + CONST_GPA + 8 * i, &(double){1.0}, 8);
		memcpy(p->ram + CODE_GPA, guest_avx, (size_t) (guest_avx_end - guest_avx));
	} else {
		memcpy(p->ram + CODE_GPA, guest_code, (size_t) (guest_code_end - guest_code));
	}
	if (ioctl(p->vcpu[0], KVM_GET_SREGS, &s))
		die("KVM_GET_SREGS");
	data.selector = X86_SEL_UDATA;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = GDT_GPA;
	s.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
	s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	s.cr3 = PT_GPA;
	s.cr4 = 0x620 | (avx ? 1u << 18 : 0); /* (OSXSAVE) OSXMMEXCPT OSFXSR PAE */
	s.efer = 0x500;			      /* LMA LME */
	for (unsigned i = 0; i < NVCPU; i++) {
		if (ioctl(p->vcpu[i], KVM_SET_CPUID2, c) || ioctl(p->vcpu[i], KVM_SET_SREGS, &s) ||
		    ioctl(p->vcpu[i], KVM_SET_REGS, &regs))
			die("KVM_SET_CPUID2/SREGS/REGS");
		if (avx && ioctl(p->vcpu[i], KVM_SET_XCRS, &xcrs))
			die("KVM_SET_XCRS");
		/* With the in-kernel LAPIC an AP would wait for INIT/SIPI: start it at once. */
		if (p->irqchip && ioctl(p->vcpu[i], KVM_SET_MP_STATE, &runnable))
			die("KVM_SET_MP_STATE");
	}
}

/* Run to the next report; its value, and the registers at that exit in *@r. */
static uint32_t next_report(struct probe_vm *p, unsigned i, struct kvm_regs *r)
{
	struct kvm_run *run = p->run[i];
	uint32_t v;

	if (ioctl(p->vcpu[i], KVM_RUN, 0) < 0)
		die("KVM_RUN");
	if (run->exit_reason != KVM_EXIT_IO || run->io.port != PORT) {
		printf("probe: unexpected exit %u\n", run->exit_reason);
		exit(1);
	}
	memcpy(&v, (uint8_t *) run + run->io.data_offset, sizeof(v));
	if (ioctl(p->vcpu[i], KVM_GET_REGS, r))
		die("KVM_GET_REGS");
	return v;
}

static uint64_t xmm0_low(int vcpu)
{
	struct kvm_fpu f;
	uint64_t v;

	if (ioctl(vcpu, KVM_GET_FPU, &f))
		die("KVM_GET_FPU");
	memcpy(&v, f.xmm[0], sizeof(v));
	return v;
}

static uint64_t kvmclock(int vm)
{
	struct kvm_clock_data c = {0};

	if (ioctl(vm, KVM_GET_CLOCK, &c))
		die("KVM_GET_CLOCK");
	return c.clock;
}

/* The low 8 bytes of ymm0's upper half (0 without AVX). */
static uint64_t ymm0_high(int vcpu)
{
	struct kvm_xsave x;
	uint64_t v = 0;

	if (avx && ioctl(vcpu, KVM_GET_XSAVE, &x))
		die("KVM_GET_XSAVE");
	if (avx)
		memcpy(&v, (uint8_t *) x.region + XSAVE_YMM_HI, sizeof(v));
	return v;
}

static uint64_t guest_tsc(int vcpu)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e.index = 0x10 /* IA32_TSC */};

	if (ioctl(vcpu, KVM_GET_MSRS, &m) != 1)
		die("KVM_GET_MSRS");
	return m.e.data;
}

/* A host write of the TSC within a second of what KVM expects is taken as a vCPU
 * synchronization and ignored (see vmm/vmstate.c, put_tsc): write far away first. */
static void set_guest_tsc(int vcpu, uint64_t v)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e = {.index = 0x10, .data = v + (100ull << 30)}};

	if (ioctl(vcpu, KVM_SET_MSRS, &m) != 1)
		die("KVM_SET_MSRS");
	m.e.data = v;
	if (ioctl(vcpu, KVM_SET_MSRS, &m) != 1)
		die("KVM_SET_MSRS");
}

static void add_section(struct snap_writer *w, uint32_t tag, uint32_t index, struct sbuf *b)
{
	if (snapfile_add(w, tag, index, b)) {
		printf("probe: snapfile_add failed\n");
		exit(1);
	}
	sbuf_free(b);
}

/* Save A (parked after a report) into @dir. */
static void snapshot(struct probe_vm *a, const char *dir)
{
	struct snap_region reg = {a->ram, RAM_SIZE};
	struct sbuf vcpu, vm;
	char err[256];
	struct snap_writer *w = snapfile_create(dir, err, sizeof(err));

	sbuf_init(&vcpu);
	sbuf_init(&vm);
	if (!w || snapfile_write_memory(w, &reg, 1, NULL, NULL, err, sizeof(err)))
		goto err_snap;
	for (unsigned i = 0; i < NVCPU; i++) {
		if (vmstate_save_vcpu(a->vcpu[i], a->irqchip, &vcpu)) {
			printf("probe: save of vCPU %u failed\n", i);
			exit(1);
		}
		printf("saved: vCPU %u section %zu bytes\n", i, vcpu.len);
		add_section(w, SNAP_SEC_VCPU, i, &vcpu);
	}
	if (vmstate_save_vm(a->vm, a->irqchip, &vm)) {
		printf("probe: save of the VM failed\n");
		exit(1);
	}
	printf("saved: VM section %zu bytes\n", vm.len);
	add_section(w, SNAP_SEC_VM, 0, &vm);
	if (snapfile_commit(w, err, sizeof(err)))
		goto err_snap;
	return;
err_snap:
	printf("probe: %s\n", err);
	exit(1);
}

/* Print what the vCPU section holds; its TSC and TSC rate in *@tsc, *@khz. */
static void describe(const struct snapshot *s, unsigned i, uint64_t *tsc, uint32_t *khz)
{
	struct sbuf_reader r;
	struct vmstate_vcpu st;

	snapfile_reader(s, SNAP_SEC_VCPU, i, &r);
	if (vmstate_vcpu_decode(&r, &st)) {
		printf("probe: decode: %s\n", r.why);
		exit(1);
	}
	printf("vCPU %u state: %u MSRs, xsave %u bytes, %u CPUID entries, TSC %u kHz\n", i,
	       st.nr_msrs, st.xsave_len, st.nr_cpuid, st.tsc_khz);
	for (uint32_t j = 0; j < st.nr_msrs; j++)
		if (st.msrs[j].index == 0x10)
			*tsc = st.msrs[j].data;
	*khz = st.tsc_khz;
	vmstate_vcpu_free(&st);
}

/* vCPU @i of B from its section; its TSC right after the load must be the saved one. */
static uint64_t load_vcpu(struct probe_vm *b, const struct snapshot *s, unsigned i)
{
	struct sbuf_reader r;
	uint64_t tsc = 0, now;
	uint32_t khz = 0;

	describe(s, i, &tsc, &khz);
	snapfile_reader(s, SNAP_SEC_VCPU, i, &r);
	if (vmstate_load_vcpu(b->vcpu[i], b->irqchip, &r)) {
		printf("probe: load vCPU %u: %s\n", i, r.why);
		exit(1);
	}
	now = guest_tsc(b->vcpu[i]);
	printf("B's vCPU %u TSC right after the load: saved %llu, now %llu (%+lld)\n", i,
	       (unsigned long long) tsc, (unsigned long long) now, (long long) (now - tsc));
	EXPECT(now >= tsc && (tsc_fixed || now - tsc < 50ull * khz),
	       "B's TSC is not the saved one");
	return 50ull * khz;
}

/* B from the snapshot only: RAM copied from its memory file, then the state. */
static void restore(struct probe_vm *b, const char *dir)
{
	char err[256];
	struct snapshot *s = snapfile_open(dir, err, sizeof(err));
	struct sbuf_reader r;
	uint64_t t0, t1, ms50 = 0;

	if (!s) {
		printf("probe: %s\n", err);
		exit(1);
	}
	vm_create(b);
	memcpy(b->ram, snapfile_memory_map(s), RAM_SIZE);
	for (unsigned i = 0; i < NVCPU; i++)
		ms50 = load_vcpu(b, s, i);
	snapfile_reader(s, SNAP_SEC_VM, 0, &r);
	if (vmstate_load_vm(b->vm, b->irqchip, &r)) {
		printf("probe: load VM: %s\n", r.why);
		exit(1);
	}
	t0 = guest_tsc(b->vcpu[0]);
	t1 = guest_tsc(b->vcpu[1]);
	printf("B's vCPU TSCs: %llu, %llu\n", (unsigned long long) t0, (unsigned long long) t1);
	EXPECT((t1 > t0 ? t1 - t0 : t0 - t1) < ms50, "B's vCPUs' TSCs are apart");
	snapfile_close(s);
}

static void compare_regs(const struct kvm_regs *a, const struct kvm_regs *b)
{
	EXPECT(a->rip == b->rip, "rip A 0x%llx B 0x%llx", a->rip, b->rip);
	EXPECT(a->rbx == b->rbx, "rbx A %llu B %llu", a->rbx, b->rbx);
	EXPECT(a->r8 == b->r8, "r8 A %llu B %llu", a->r8, b->r8);
	EXPECT(a->rsp == b->rsp && a->rflags == b->rflags, "rsp/rflags differ");
}

/* What A did around its save, for B to match. */
struct probe_record {
	struct kvm_regs saved;	/* right after the save */
	uint32_t after[AFTER];	/* A's reports after the save */
	uint32_t after1[AFTER]; /* those of A's vCPU 1 */
	uint64_t xmm0;		/* A's xmm0 after them */
	uint64_t ymm0_hi;	/* and the upper half of its ymm0 */
	uint64_t clock;		/* kvmclock just before the save */
	uint64_t tsc;		/* A's TSC at its last report before the save */
	uint64_t next_tsc;	/* A's TSC at its first report after the save */
	uint64_t last_tsc;	/* A's TSC at its last report */
};

static void vm_destroy(struct probe_vm *p)
{
	for (unsigned i = 0; i < NVCPU; i++) {
		munmap(p->run[i], kvm_run_size());
		close(p->vcpu[i]);
	}
	munmap(p->ram, RAM_SIZE);
	close(p->vm);
}

static void run_a(struct probe_vm *a, const char *dir, struct probe_record *rec)
{
	struct kvm_regs at_exit, r;
	uint32_t v = 0;

	vm_create(a);
	boot_long_mode(a);
	/* A guest half a second old: young enough for KVM's TSC heuristic to bite on B. */
	for (unsigned i = 0; i < NVCPU; i++)
		set_guest_tsc(a->vcpu[i], (uint64_t) ioctl(a->vcpu[i], KVM_GET_TSC_KHZ, 0) * 500);
	/* Half a second old, give or take ten seconds: else the write was ignored. */
	tsc_fixed =
	    guest_tsc(a->vcpu[0]) > (uint64_t) ioctl(a->vcpu[0], KVM_GET_TSC_KHZ, 0) * 10500;
	if (tsc_fixed)
		printf("NOTE: this host's KVM ignores writes of a vCPU's TSC (PVM): B's TSC is "
		       "checked only not to go back, not to be A's\n");
	for (int i = 0; i < WARM; i++) {
		next_report(a, 1, &r);
		v = next_report(a, 0, &at_exit);
	}
	rec->clock = kvmclock(a->vm);
	snapshot(a, dir);
	ioctl(a->vcpu[0], KVM_GET_REGS, &rec->saved);
	rec->tsc = rec->saved.r8;
	printf("A parked at report %u: rip 0x%llx at the exit, 0x%llx after the save (OUT "
	       "completed), rbx %llu, xmm0 %llu\n",
	       v, at_exit.rip, rec->saved.rip, rec->saved.rbx,
	       (unsigned long long) xmm0_low(a->vcpu[0]));
	/* KVM leaves rip on the OUT until the next KVM_RUN completes it; PVM has moved it on
	 * at the exit already. Either way the save must leave A after it. */
	EXPECT(rec->saved.rip == after_out(), "the save did not complete the OUT");
	for (int i = 0; i < AFTER; i++) {
		rec->after1[i] = next_report(a, 1, &r);
		rec->after[i] = next_report(a, 0, &r);
		if (i == 0)
			rec->next_tsc = r.r8;
	}
	rec->xmm0 = xmm0_low(a->vcpu[0]);
	rec->ymm0_hi = ymm0_high(a->vcpu[0]);
	rec->last_tsc = r.r8;
	printf("A went on: reports %u .. %u, xmm0 %llu\n", rec->after[0], rec->after[AFTER - 1],
	       (unsigned long long) rec->xmm0);
}

/* B's first report: its TSC went on from the saved one as A's did (A's first report after
 * the save and B's are the same work after the same saved TSC), not counting the time
 * between A's save and B's start. */
static void check_tsc(const struct probe_vm *a, const struct probe_record *rec, uint64_t tsc)
{
	uint64_t a_now = guest_tsc(a->vcpu[0]);

	printf("TSC at the report before the save %llu; first report after it: A %llu, B %llu "
	       "(B-A %+lld)\n",
	       (unsigned long long) rec->tsc, (unsigned long long) rec->next_tsc,
	       (unsigned long long) tsc, (long long) (tsc - rec->next_tsc));
	printf("A's TSC from its last report to B's first: +%llu\n",
	       (unsigned long long) (a_now - rec->last_tsc));
	EXPECT(tsc > rec->tsc, "B's TSC went back");
	/* A went on (and then waited 500 ms) before B started: B must not count that. */
	EXPECT(tsc_fixed || tsc < rec->next_tsc + (a_now - rec->last_tsc) / 2,
	       "B's TSC counted the time it was saved");
}

static void run_b(struct probe_vm *b, const struct probe_vm *a, const char *dir,
		  const struct probe_record *rec)
{
	struct kvm_regs r;
	uint32_t v = 0;

	restore(b, dir);
	ioctl(b->vcpu[0], KVM_GET_REGS, &r);
	compare_regs(&rec->saved, &r);
	EXPECT(kvmclock(b->vm) >= rec->clock, "kvmclock went back");
	for (int i = 0; i < AFTER; i++) {
		v = next_report(b, 1, &r);
		EXPECT(v == rec->after1[i], "vCPU 1 report %d: A %u, B %u", i, rec->after1[i], v);
		v = next_report(b, 0, &r);
		EXPECT(v == rec->after[i], "report %d: A %u, B %u", i, rec->after[i], v);
		if (i == 0)
			check_tsc(a, rec, r.r8);
	}
	EXPECT(xmm0_low(b->vcpu[0]) == rec->xmm0, "xmm0 A %llu B %llu",
	       (unsigned long long) rec->xmm0, (unsigned long long) xmm0_low(b->vcpu[0]));
	EXPECT(ymm0_high(b->vcpu[0]) == rec->ymm0_hi, "ymm0 upper half differs");
	if (avx) {
		double want = (double) r.rbx, got;
		uint64_t hi = ymm0_high(b->vcpu[0]);

		memcpy(&got, &hi, sizeof(got));
		printf("B's ymm0 upper half %.0f (rbx %llu)\n", got, r.rbx);
		EXPECT(got == want, "ymm0 upper half %.0f, not rbx", got);
	}
	printf("B went on: reports %u .. %u, xmm0 %llu, rbx %llu\n", rec->after[0], v,
	       (unsigned long long) xmm0_low(b->vcpu[0]), r.rbx);
}

/* One round: A saved into @dir, B restored from it, compared. */
static void probe(const char *dir, bool irqchip)
{
	struct probe_vm a = {.irqchip = irqchip}, b = {.irqchip = irqchip};
	struct probe_record rec;

	printf("== %s in-kernel irqchip and PIT: %s\n", irqchip ? "with" : "without", dir);
	run_a(&a, dir, &rec);
	usleep(500 * 1000); /* time B must not see */
	run_b(&b, &a, dir, &rec);
	vm_destroy(&a);
	vm_destroy(&b);
}

int main(int argc, char **argv)
{
	char dir[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR (made; snapshots go to DIR/irqchip, DIR/plain)\n",
			argv[0]);
		return 2;
	}
	log_level = 3; /* show which MSRs were skipped */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (access(kvm_device_path(), R_OK | W_OK)) {
		printf("SKIPPED: no %s\n", kvm_device_path());
		return 77;
	}
	if (kvm_open() < 0)
		return 1;
	avx = kvm_has_avx();
	printf("guest code: %s\n", avx ? "AVX (ymm)" : "SSE (xmm)");
	if (mkdir(argv[1], 0700))
		die(argv[1]);
	snprintf(dir, sizeof(dir), "%s/irqchip", argv[1]);
	probe(dir, true);
	snprintf(dir, sizeof(dir), "%s/plain", argv[1]);
	probe(dir, false);
	printf(failures ? "vmstate probe FAILED (%d mismatches)\n" : "vmstate probe ok%.0d\n",
	       failures);
	return failures ? 1 : 0;
}
