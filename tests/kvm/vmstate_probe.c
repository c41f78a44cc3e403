/* vmstate_probe.c - proof on real KVM that vmm/vmstate and vmm/snapfile carry a running
 * guest over: guest A (long mode, CPL0, in-kernel irqchip and PIT) counts in rbx and in
 * xmm0 and reports rbx and its TSC on port 0x10 every 4096 iterations. After a few reports
 * A is saved (vCPU + VM state) into a snapshot with its RAM, and goes on. Guest B is a
 * second VM built from the snapshot only; it must go on exactly where A was saved: the
 * same registers at once, the same sequence of reports as A after the save (none
 * repeated: the OUT that parked A was completed before the save), the same xmm0, a TSC
 * and kvmclock that did not go back. Usage: vmstate_probe SNAPDIR (must not exist).
 * Exit 0: carried over; 1: a check failed; 77: no /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

/* The guest: xmm1 = {1, 1}; loop { rbx++, xmm0 += xmm1; every 4096: r8 = TSC, out ebx }. */
extern const uint8_t guest_code[], guest_code_end[];
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
	"  jmp 1b\n"
	"guest_code_end:\n"
	".popsection\n");

struct probe_vm {
	int vm, vcpu;
	uint8_t *ram;
	struct kvm_run *run;
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
	if (ioctl(p->vm, KVM_CREATE_IRQCHIP, 0) || ioctl(p->vm, KVM_CREATE_PIT2, &pit))
		die("irqchip/PIT");
	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0ul);
	if (p->vcpu < 0)
		die("KVM_CREATE_VCPU");
	p->run = mmap(NULL, kvm_run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
	if (p->run == MAP_FAILED)
		die("mmap kvm_run");
}

static void boot_long_mode(struct probe_vm *p)
{
	struct guest_mem m = {.ram_size = RAM_SIZE, .nr_regions = 1};
	struct kvm_segment code = {.limit = 0xffffffff,
				   .selector = X86_SEL_KCODE,
				   .type = 11,
				   .present = 1,
				   .s = 1,
				   .l = 1,
				   .g = 1};
	struct kvm_segment data = code;
	struct kvm_regs regs = {.rip = CODE_GPA, .rsp = 0x7000, .rflags = 2};
	struct kvm_sregs s;
	const struct kvm_cpuid2 *c = kvm_supported_cpuid();

	m.regions[0] = (struct mem_region){0, RAM_SIZE, p->ram};
	if (x86_build_gdt(&m, GDT_GPA) || x86_build_identity_map(&m, PT_GPA, 1ull << 30, false))
		die("page tables");
	memcpy(p->ram + CODE_GPA, guest_code, (size_t) (guest_code_end - guest_code));
	if (ioctl(p->vcpu, KVM_SET_CPUID2, c) || ioctl(p->vcpu, KVM_GET_SREGS, &s))
		die("cpuid/sregs");
	data.selector = X86_SEL_KDATA;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.gdt.base = GDT_GPA;
	s.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
	s.cr0 = 0x80050033; /* PG WP NE ET MP PE */
	s.cr3 = PT_GPA;
	s.cr4 = 0x620;	/* OSXMMEXCPT OSFXSR PAE */
	s.efer = 0x500; /* LMA LME */
	if (ioctl(p->vcpu, KVM_SET_SREGS, &s) || ioctl(p->vcpu, KVM_SET_REGS, &regs))
		die("KVM_SET_SREGS/REGS");
}

/* Run to the next report; its value, and the registers at that exit in *@r. */
static uint32_t next_report(struct probe_vm *p, struct kvm_regs *r)
{
	uint32_t v;

	if (ioctl(p->vcpu, KVM_RUN, 0) < 0)
		die("KVM_RUN");
	if (p->run->exit_reason != KVM_EXIT_IO || p->run->io.port != PORT) {
		printf("probe: unexpected exit %u\n", p->run->exit_reason);
		exit(1);
	}
	memcpy(&v, (uint8_t *) p->run + p->run->io.data_offset, sizeof(v));
	if (ioctl(p->vcpu, KVM_GET_REGS, r))
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

static void add_section(struct snap_writer *w, uint32_t tag, struct sbuf *b)
{
	if (snapfile_add(w, tag, 0, b)) {
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
	if (vmstate_save_vcpu(a->vcpu, true, &vcpu) || vmstate_save_vm(a->vm, true, &vm)) {
		printf("probe: save failed\n");
		exit(1);
	}
	printf("saved: vCPU section %zu bytes, VM section %zu bytes\n", vcpu.len, vm.len);
	add_section(w, SNAP_SEC_VCPU, &vcpu);
	add_section(w, SNAP_SEC_VM, &vm);
	if (snapfile_commit(w, err, sizeof(err)))
		goto err_snap;
	return;
err_snap:
	printf("probe: %s\n", err);
	exit(1);
}

static void describe(const struct snapshot *s)
{
	struct sbuf_reader r;
	struct vmstate_vcpu st;

	snapfile_reader(s, SNAP_SEC_VCPU, 0, &r);
	if (vmstate_vcpu_decode(&r, &st)) {
		printf("probe: decode: %s\n", r.why);
		exit(1);
	}
	printf("vCPU state: %u MSRs, xsave %u bytes, %u CPUID entries, TSC %u kHz\n", st.nr_msrs,
	       st.xsave_len, st.nr_cpuid, st.tsc_khz);
	vmstate_vcpu_free(&st);
}

/* B from the snapshot only: RAM copied from its memory file, then the state. */
static void restore(struct probe_vm *b, const char *dir)
{
	char err[256];
	struct snapshot *s = snapfile_open(dir, err, sizeof(err));
	struct sbuf_reader r;

	if (!s) {
		printf("probe: %s\n", err);
		exit(1);
	}
	describe(s);
	vm_create(b);
	memcpy(b->ram, snapfile_memory_map(s), RAM_SIZE);
	snapfile_reader(s, SNAP_SEC_VCPU, 0, &r);
	if (vmstate_load_vcpu(b->vcpu, true, &r)) {
		printf("probe: load vCPU: %s\n", r.why);
		exit(1);
	}
	snapfile_reader(s, SNAP_SEC_VM, 0, &r);
	if (vmstate_load_vm(b->vm, true, &r)) {
		printf("probe: load VM: %s\n", r.why);
		exit(1);
	}
	snapfile_close(s);
}

static void compare_regs(const struct kvm_regs *a, const struct kvm_regs *b)
{
	EXPECT(a->rip == b->rip, "rip A 0x%llx B 0x%llx", a->rip, b->rip);
	EXPECT(a->rbx == b->rbx, "rbx A %llu B %llu", a->rbx, b->rbx);
	EXPECT(a->r8 == b->r8, "r8 A %llu B %llu", a->r8, b->r8);
	EXPECT(a->rsp == b->rsp && a->rflags == b->rflags, "rsp/rflags differ");
}

int main(int argc, char **argv)
{
	struct probe_vm a, b;
	struct kvm_regs at_exit, saved, r;
	uint32_t a_vals[AFTER], v;
	uint64_t a_xmm, clock_saved, tsc_saved, a_last_tsc, a_now;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SNAPDIR\n", argv[0]);
		return 2;
	}
	log_level = 3; /* show which MSRs were skipped */
	if (access(kvm_device_path(), R_OK | W_OK)) {
		printf("SKIPPED: no %s\n", kvm_device_path());
		return 77;
	}
	if (kvm_open() < 0)
		return 1;
	vm_create(&a);
	boot_long_mode(&a);
	for (int i = 0; i < WARM; i++)
		v = next_report(&a, &at_exit);
	clock_saved = kvmclock(a.vm);
	snapshot(&a, argv[1]);
	ioctl(a.vcpu, KVM_GET_REGS, &saved);
	tsc_saved = saved.r8;
	printf("A parked at report %u: rip 0x%llx at the exit, 0x%llx after the save (OUT "
	       "completed), rbx %llu, xmm0 %llu\n",
	       v, at_exit.rip, saved.rip, saved.rbx, (unsigned long long) xmm0_low(a.vcpu));
	EXPECT(saved.rip == at_exit.rip + 2, "the save did not complete the OUT");
	for (int i = 0; i < AFTER; i++) {
		a_vals[i] = next_report(&a, &r);
		if (i == 0)
			printf("A's next report %u, TSC %llu (+%lld: the TSC a report takes)\n",
			       a_vals[0], r.r8, (long long) (r.r8 - tsc_saved));
	}
	a_xmm = xmm0_low(a.vcpu);
	a_last_tsc = r.r8;
	printf("A went on: reports %u .. %u, xmm0 %llu\n", a_vals[0], a_vals[AFTER - 1],
	       (unsigned long long) a_xmm);

	usleep(500 * 1000); /* time B must not see */
	restore(&b, argv[1]);
	ioctl(b.vcpu, KVM_GET_REGS, &r);
	compare_regs(&saved, &r);
	EXPECT(kvmclock(b.vm) >= clock_saved, "kvmclock went back");
	for (int i = 0; i < AFTER; i++) {
		v = next_report(&b, &r);
		EXPECT(v == a_vals[i], "report %d: A %u, B %u", i, a_vals[i], v);
		if (i == 0) {
			printf("B's first report %u, TSC %llu (saved %llu: +%lld)\n", v, r.r8,
			       (unsigned long long) tsc_saved, (long long) (r.r8 - tsc_saved));
			EXPECT(r.r8 > tsc_saved, "B's TSC went back");
			a_now = guest_tsc(a.vcpu);
			printf("A's TSC meanwhile %llu (+%lld since A's last report)\n",
			       (unsigned long long) a_now, (long long) (a_now - a_last_tsc));
			EXPECT(r.r8 < a_last_tsc, "B's TSC counted the time it was saved");
		}
	}
	EXPECT(xmm0_low(b.vcpu) == a_xmm, "xmm0 A %llu B %llu", (unsigned long long) a_xmm,
	       (unsigned long long) xmm0_low(b.vcpu));
	printf("B went on: reports %u .. %u, xmm0 %llu, rbx %llu\n", a_vals[0], v,
	       (unsigned long long) xmm0_low(b.vcpu), r.rbx);
	printf(failures ? "vmstate probe FAILED (%d mismatches)\n" : "vmstate probe ok%.0d\n",
	       failures);
	return failures ? 1 : 0;
}
