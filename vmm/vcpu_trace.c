/* vcpu_trace.c - the last exits of a vCPU and its register state, for the log of a fatal exit. */
#define pr_fmt(fmt) "vcpu: " fmt
#include "vmm/vcpu_trace.h"

#include <sys/ioctl.h>

#include "lib/log.h"

void vcpu_trace_record(struct vcpu_trace *t, const struct kvm_run *run)
{
	struct vcpu_trace_exit *e = &t->exits[t->count++ % VCPU_TRACE_LEN];

	*e = (struct vcpu_trace_exit){.reason = run->exit_reason};
	if (run->exit_reason == KVM_EXIT_IO) {
		e->write = run->io.direction == KVM_EXIT_IO_OUT;
		e->size = run->io.size;
		e->addr = run->io.port;
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		e->write = run->mmio.is_write;
		e->size = (uint8_t) run->mmio.len;
		e->addr = run->mmio.phys_addr;
	}
}

static void dump_regs(int fd, const char *name, unsigned id)
{
	struct kvm_regs r;

	if (ioctl(fd, KVM_GET_REGS, &r) < 0)
		return;
	pr_err("%s: vCPU %u: rip %#llx rsp %#llx rflags %#llx rax %#llx rbx %#llx rcx %#llx", name,
	       id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx);
	pr_err("%s: vCPU %u: rdx %#llx rsi %#llx rdi %#llx rbp %#llx r8 %#llx r9 %#llx", name, id,
	       r.rdx, r.rsi, r.rdi, r.rbp, r.r8, r.r9);
}

static void dump_sregs(int fd, const char *name, unsigned id)
{
	struct kvm_sregs s;

	if (ioctl(fd, KVM_GET_SREGS, &s) < 0)
		return;
	pr_err("%s: vCPU %u: cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx", name, id, s.cr0,
	       s.cr2, s.cr3, s.cr4, s.efer);
	pr_err("%s: vCPU %u: cs %#x (dpl %u l %u) ss %#x gdt %#llx/%#x idt %#llx/%#x", name, id,
	       s.cs.selector, s.cs.dpl, s.cs.l, s.ss.selector, s.gdt.base, s.gdt.limit, s.idt.base,
	       s.idt.limit);
}

static void dump_events(int fd, const char *name, unsigned id)
{
	struct kvm_vcpu_events ev;

	if (ioctl(fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return;
	pr_err("%s: vCPU %u: exception %s%s nr %u error %#x, interrupt %s nr %u, nmi %s", name, id,
	       ev.exception.injected ? "injected" : "-", ev.exception.pending ? " pending" : "",
	       ev.exception.nr, ev.exception.has_error_code ? ev.exception.error_code : 0,
	       ev.interrupt.injected ? "injected" : "-", ev.interrupt.nr,
	       ev.nmi.injected || ev.nmi.pending ? "yes" : "-");
}

static void dump_exits(const struct vcpu_trace *t, const char *name, unsigned id)
{
	uint64_t first = t->count > VCPU_TRACE_LEN ? t->count - VCPU_TRACE_LEN : 0;

	for (uint64_t n = first; n < t->count; n++) {
		const struct vcpu_trace_exit *e = &t->exits[n % VCPU_TRACE_LEN];

		pr_err("%s: vCPU %u: exit #%llu reason %u %s %u bytes at %#llx", name, id,
		       (unsigned long long) n, e->reason, e->write ? "write" : "read", e->size,
		       (unsigned long long) e->addr);
	}
}

void vcpu_trace_dump(const struct vcpu_trace *t, int fd, const char *name, unsigned id)
{
	dump_regs(fd, name, id);
	dump_sregs(fd, name, id);
	dump_events(fd, name, id);
	dump_exits(t, name, id);
}
