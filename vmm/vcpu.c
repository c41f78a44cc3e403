/* vcpu.c - vCPU creation, long-mode register setup and the KVM_RUN exit loop. */
#define pr_fmt(fmt) "vcpu: " fmt
#include "vmm/vcpu.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/fixup.h"
#include "vmm/kvm.h"
#include "vmm/vcpu_trace.h"
#include "lib/log.h"

#define SIG_KICK SIGUSR1

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define RFLAGS_IOPL3 (3ull << 12)

struct vcpu {
	struct vcpu_host host;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	atomic_bool stop;	 /* set by vcpu_request_stop, read before each KVM_RUN */
	bool exit_pending;	 /* the last exit waits for KVM_RUN to complete it */
	unsigned mmio_warnings;	 /* rate limit for wild MMIO reports */
	unsigned io_warnings;	 /* rate limit for unclaimed port reports */
	unsigned fixups;	 /* instructions performed for the guest (vmm/fixup.c) */
	struct vcpu_trace trace; /* the last exits, logged with a fatal one */
};

static __thread unsigned self_id;

unsigned vcpu_self_id(void)
{
	return self_id;
}

static void kick_handler(int sig)
{
	(void) sig;
}

int vcpu_init_signals(void)
{
	struct sigaction sa = {.sa_handler = kick_handler};

	sigemptyset(&sa.sa_mask);
	return sigaction(SIG_KICK, &sa, NULL) ? -errno : 0;
}

static void filter_cpuid(struct kvm_cpuid2 *c, unsigned id, bool linux_guest)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffff) | (id << 24);
			/* PVM's emulator lacks cmpxchg16b and xsave/xrstor at CPL0. */
			if (linux_guest)
				e->ecx &= ~((1u << 13) | (1u << 26) | (1u << 27) | (1u << 28));
		}
		if (e->function == 7 && e->index == 0 && linux_guest)
			e->ebx &= ~(1u << 5); /* AVX2 needs the xsave we hid */
		if (e->function == 0xd && linux_guest)
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
}

static int set_cpuid(struct vcpu *v, const struct x86_boot *boot)
{
	const struct kvm_cpuid2 *sup = kvm_supported_cpuid();
	size_t sz = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, sup, sz);
	filter_cpuid(c, v->id, boot->linux_cpuid);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

static void long_mode_segments(struct kvm_sregs *s, int cpl)
{
	struct kvm_segment code = {
	    .limit = 0xffffffff,
	    .selector = cpl ? X86_SEL_UCODE : X86_SEL_KCODE,
	    .type = 11,
	    .present = 1,
	    .dpl = (uint8_t) cpl,
	    .s = 1,
	    .l = 1,
	    .g = 1,
	};
	struct kvm_segment data = code;

	data.selector = cpl ? X86_SEL_UDATA : X86_SEL_KDATA;
	data.type = 3;
	data.l = 0;
	data.db = 1;
	s->cs = code;
	s->ds = s->es = s->fs = s->gs = s->ss = data;
}

static int set_sregs(struct vcpu *v, const struct x86_boot *boot)
{
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	long_mode_segments(&s, boot->cpl);
	s.gdt.base = boot->gdt_gpa;
	s.gdt.limit = X86_GDT_ENTRIES * 8 - 1;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr3 = boot->cr3;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (boot->enable_avx ? CR4_OSXSAVE : 0);
	s.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return -errno;
	return 0;
}

static int set_regs(struct vcpu *v, const struct x86_boot *boot)
{
	struct kvm_regs r = {
	    .rip = boot->rip,
	    .rsp = boot->rsp - v->id * boot->stack_stride,
	    .rsi = boot->rsi,
	    .rdi = boot->rdi + (boot->stack_stride ? v->id : 0),
	    .rflags = 2 | (boot->cpl == 3 ? RFLAGS_IOPL3 : 0),
	};
	struct kvm_xcrs x = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = 7}}};

	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	if (boot->enable_avx && ioctl(v->fd, KVM_SET_XCRS, &x) < 0)
		return -errno;
	return 0;
}

static int vcpu_setup(struct vcpu *v, const struct x86_boot *boot)
{
	int ret;

	v->run = mmap(NULL, kvm_run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	ret = set_cpuid(v, boot);
	if (!ret)
		ret = set_sregs(v, boot);
	if (!ret)
		ret = set_regs(v, boot);
	return ret;
}

struct vcpu *vcpu_create(const struct vcpu_host *host, unsigned id, const struct x86_boot *boot)
{
	struct vcpu *v;
	int ret;

	if (id >= PAUSE_MAX_VCPUS) {
		pr_err("%s: vCPU %u: at most %u vCPUs", host->name, id, PAUSE_MAX_VCPUS);
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->host = *host;
	v->id = id;
	v->fd = ioctl(host->vm_fd, KVM_CREATE_VCPU, (unsigned long) id);
	if (v->fd < 0) {
		int err = errno;

		pr_err("%s: cannot create vCPU %u: %s", host->name, id, strerror(err));
		free(v);
		return NULL;
	}
	ret = vcpu_setup(v, boot);
	if (ret) {
		pr_err("%s: cannot set up vCPU %u: %s", host->name, id, strerror(-ret));
		vcpu_destroy(v);
		return NULL;
	}
	return v;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *) r + r->io.data_offset;
	bool write = r->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		if (!bus_dispatch(v->host.bus, BUS_PIO, r->io.port, write, data, r->io.size) &&
		    v->io_warnings < 8 && !v->host.linux_guest) {
			v->io_warnings++;
			pr_warn("%s: vCPU %u: %s of unclaimed port 0x%x ignored", v->host.name,
				v->id, write ? "write" : "read", r->io.port);
		}
	}
}

/* KVM says len <= 8; the bound keeps a bad value from reaching a handler. */
static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	unsigned len = r->mmio.len < sizeof(r->mmio.data) ? r->mmio.len : sizeof(r->mmio.data);
	bool write = r->mmio.is_write;

	if (bus_dispatch(v->host.bus, BUS_MMIO, r->mmio.phys_addr, write, r->mmio.data, len))
		return;
	if (!write)
		memset(r->mmio.data, 0xff, sizeof(r->mmio.data));
	if (v->mmio_warnings < 8) {
		v->mmio_warnings++;
		pr_warn("%s: vCPU %u: %s of %u bytes at unbacked address 0x%llx ignored%s",
			v->host.name, v->id, r->mmio.is_write ? "write" : "read", r->mmio.len,
			(unsigned long long) r->mmio.phys_addr,
			v->mmio_warnings == 8 ? " (further reports suppressed)" : "");
	}
}

static void describe_fatal(struct vcpu *v, char *buf, size_t len)
{
	struct kvm_run *r = v->run;
	struct kvm_regs regs = {0};

	ioctl(v->fd, KVM_GET_REGS, &regs);
	switch (r->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		snprintf(buf, len, "triple fault (KVM_EXIT_SHUTDOWN) on vCPU %u at rip 0x%llx",
			 v->id, (unsigned long long) regs.rip);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(buf, len, "KVM internal error %u on vCPU %u at rip 0x%llx",
			 r->internal.suberror, v->id, (unsigned long long) regs.rip);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf, len, "VM entry failed (reason 0x%llx) on vCPU %u",
			 (unsigned long long) r->fail_entry.hardware_entry_failure_reason, v->id);
		break;
	default:
		snprintf(buf, len, "unexpected exit %u on vCPU %u at rip 0x%llx", r->exit_reason,
			 v->id, (unsigned long long) regs.rip);
	}
}

/* A Linux guest hit an instruction PVM's emulator lacks: do its work (vmm/fixup.c).
 * Returns true if the guest can go on. */
static bool fixup_vcpu(struct vcpu *v)
{
	const char *name = NULL;

	if (fixup_emulation_failure(v->fd, v->run, v->host.mem, &name))
		return false;
	if (v->fixups++ == 0)
		pr_debug("%s: vCPU %u: performed %s for the guest (PVM cannot emulate it)",
			 v->host.name, v->id, name);
	return true;
}

/* A fatal exit: the host ends the guest (and with it this vCPU). */
static void die(struct vcpu *v, const char *why)
{
	v->host.die(v->host.opaque, why);
}

/* Handle one exit. Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	char why[160];

	switch (v->run->exit_reason) {
	case KVM_EXIT_IO: handle_io(v); return true;
	case KVM_EXIT_MMIO: handle_mmio(v); return true;
	case KVM_EXIT_HLT: die(v, "halted (hlt with no interrupt source)"); return false;
	case KVM_EXIT_SYSTEM_EVENT:
		snprintf(why, sizeof(why), "system event %u (shutdown or reset) on vCPU %u",
			 v->run->system_event.type, v->id);
		die(v, why);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		if (v->host.linux_guest && fixup_vcpu(v))
			return true;
		/* fall through */
	default:
		describe_fatal(v, why, sizeof(why));
		vcpu_trace_dump(&v->trace, v->fd, v->host.name, v->id);
		die(v, why);
		return false;
	}
}

/* One KVM_RUN, bracketed by the pause protocol (vmm/pause.c): pause_enter announces the
 * entry and parks while a pause is requested; pause_leave tells a pausing engine. */
static bool run_once(struct vcpu *v)
{
	char why[160];
	int rc, err;

	switch (pause_enter_exit(v->host.pause, v->id, &v->stop, v->exit_pending)) {
	case PAUSE_STOP: return false;
	case PAUSE_COMPLETE:
		/* A snapshot waits for final registers: let KVM take the exit's data back
		 * without running guest code (KVM API: immediate_exit). */
		v->run->immediate_exit = 1;
		ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		v->exit_pending = false;
		return true;
	case PAUSE_RUN: break;
	}
	rc = ioctl(v->fd, KVM_RUN, 0);
	err = errno;
	pause_leave(v->host.pause, v->id);
	v->exit_pending = rc == 0;
	if (rc == 0) {
		vcpu_trace_record(&v->trace, v->run);
		return handle_exit(v);
	}
	if (err == EINTR || err == EAGAIN) {
		v->run->immediate_exit = 0;
		return true;
	}
	snprintf(why, sizeof(why), "KVM_RUN failed on vCPU %u: %s", v->id, strerror(err));
	die(v, why);
	return false;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	self_id = v->id;
	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (run_once(v))
		;
	v->host.exited(v->host.opaque);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	char name[16]; /* the kernel's limit for thread names */
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (ret)
		return -ret;
	snprintf(name, sizeof(name), "vcpu%u-%.9s", v->id, v->host.name);
	pthread_setname_np(v->thread, name);
	v->started = true;
	return 0;
}

int vcpu_fd(const struct vcpu *v)
{
	return v->fd;
}

unsigned long vcpu_tsc_khz(struct vcpu *v)
{
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? (unsigned long) khz : 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* Pairs with KVM's check of immediate_exit on entry to KVM_RUN; the signal covers a
	 * vCPU already inside. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->started)
		pthread_kill(v->thread, SIG_KICK);
}

void vcpu_request_stop(struct vcpu *v)
{
	atomic_store(&v->stop, true);
	/* Pairs with the load of stop in pause_enter (vmm/pause.c) before each KVM_RUN:
	 * either the thread sees stop, or KVM_RUN sees immediate_exit, or the signal
	 * interrupts it. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->started)
		pthread_kill(v->thread, SIG_KICK);
}

void vcpu_destroy(struct vcpu *v)
{
	if (!v)
		return;
	if (v->started)
		pthread_join(v->thread, NULL);
	if (v->run)
		munmap(v->run, kvm_run_size());
	close(v->fd);
	free(v);
}
