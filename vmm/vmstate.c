/* vmstate.c - read a parked vCPU's and a VM's state out of KVM and write it back into fresh
 * ones (the contract is in vmstate.h; the saved form in vmstate_codec.c). */
#define pr_fmt(fmt) "vmstate: " fmt
#include "vmm/vmstate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "lib/log.h"
#include "vmm/kvm.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* KVM's list of saveable MSRs, read from /dev/kvm once. */
static struct kvm_msr_list *msr_list;
static int msr_list_err;
static pthread_once_t msr_list_once = PTHREAD_ONCE_INIT;

static void msr_list_read(void)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	struct kvm_msr_list *l;

	if (ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
		msr_list_err = -errno;
		return;
	}
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l) {
		msr_list_err = -ENOMEM;
		return;
	}
	l->nmsrs = probe.nmsrs;
	if (ioctl(kvm_fd(), KVM_GET_MSR_INDEX_LIST, l) < 0) {
		msr_list_err = -errno;
		free(l);
		return;
	}
	msr_list = l;
}

static int fail(const char *what, int err)
{
	pr_err("%s: %s", what, strerror(-err));
	return err;
}

static int call(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0)
		return fail(what, -errno);
	return 0;
}

static bool has_cap(int cap)
{
	return kvm_fd() >= 0 && ioctl(kvm_fd(), KVM_CHECK_EXTENSION, cap) > 0;
}

/* Bytes KVM_GET_XSAVE2 writes (at least struct kvm_xsave); 0 without XSAVE. */
static uint32_t xsave_size(unsigned long *get_req)
{
	int n = kvm_fd() >= 0 ? ioctl(kvm_fd(), KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2) : 0;

	*get_req = KVM_GET_XSAVE2;
	if (n > 0)
		return (uint32_t) n < sizeof(struct kvm_xsave) ? sizeof(struct kvm_xsave)
							       : (uint32_t) n;
	*get_req = KVM_GET_XSAVE;
	return has_cap(KVM_CAP_XSAVE) ? sizeof(struct kvm_xsave) : 0;
}

static int get_fpu(int fd, struct vmstate_vcpu *st)
{
	unsigned long req;
	uint32_t n = xsave_size(&req);

	if (!n)
		return call(fd, KVM_GET_FPU, &st->fpu, "KVM_GET_FPU");
	if (n > VMSTATE_MAX_XSAVE)
		return fail("xsave area too large", -E2BIG);
	st->xsave = calloc(1, n);
	if (!st->xsave)
		return -ENOMEM;
	st->xsave_len = n;
	st->has_xsave = true;
	return call(fd, req, st->xsave, "KVM_GET_XSAVE");
}

/* KVM_GET_MSRS stops at the first MSR it cannot read: keep what it read, skip that one,
 * go on after it. */
static int get_msrs(int fd, struct vmstate_vcpu *st)
{
	uint32_t total, done = 0;
	struct kvm_msrs *m;
	int r = 0;

	pthread_once(&msr_list_once, msr_list_read);
	if (!msr_list)
		return fail("KVM_GET_MSR_INDEX_LIST", msr_list_err ? msr_list_err : -ENODEV);
	total = msr_list->nmsrs;
	m = calloc(1, sizeof(*m) + total * sizeof(m->entries[0]));
	st->msrs = calloc(total ? total : 1, sizeof(*st->msrs));
	if (!m || !st->msrs) {
		free(m);
		return -ENOMEM;
	}
	while (done < total && r >= 0) {
		m->nmsrs = total - done;
		for (uint32_t i = 0; i < m->nmsrs; i++)
			m->entries[i] =
			    (struct kvm_msr_entry){.index = msr_list->indices[done + i]};
		r = ioctl(fd, KVM_GET_MSRS, m);
		if (r < 0)
			break;
		memcpy(st->msrs + st->nr_msrs, m->entries, (size_t) r * sizeof(m->entries[0]));
		st->nr_msrs += (uint32_t) r;
		done += (uint32_t) r;
		if (done < total)
			pr_debug("MSR 0x%x cannot be read: not saved", msr_list->indices[done++]);
	}
	r = r < 0 ? fail("KVM_GET_MSRS", -errno) : 0;
	free(m);
	return r;
}

/* KVM_GET_CPUID2 fails (E2BIG) iff nent is below the vCPU's count, and tells the count in
 * neither case (seen on 6.1: nent comes back as passed): the smallest nent that succeeds
 * is the count, found by bisection in @c (room for VMSTATE_MAX_CPUID entries). */
static int cpuid_count(int fd, struct kvm_cpuid2 *c, uint32_t *count)
{
	uint32_t lo = 1, hi = VMSTATE_MAX_CPUID;

	c->nent = hi;
	if (ioctl(fd, KVM_GET_CPUID2, c) < 0)
		return fail("KVM_GET_CPUID2", -errno);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		c->nent = mid;
		if (ioctl(fd, KVM_GET_CPUID2, c) == 0)
			hi = mid;
		else if (errno == E2BIG)
			lo = mid + 1;
		else
			return fail("KVM_GET_CPUID2", -errno);
	}
	*count = lo;
	return 0;
}

static int get_cpuid(int fd, struct vmstate_vcpu *st)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + VMSTATE_MAX_CPUID * sizeof(c->entries[0]));
	uint32_t n = 0;
	int ret = c ? cpuid_count(fd, c, &n) : -ENOMEM;

	if (!ret) {
		c->nent = n;
		ret = call(fd, KVM_GET_CPUID2, c, "KVM_GET_CPUID2");
	}
	if (!ret) {
		st->cpuid = malloc(n * sizeof(c->entries[0]));
		ret = st->cpuid ? 0 : -ENOMEM;
	}
	if (!ret) {
		memcpy(st->cpuid, c->entries, n * sizeof(c->entries[0]));
		st->nr_cpuid = n;
	}
	free(c);
	return ret;
}

static int get_basics(int fd, struct vmstate_vcpu *st)
{
	int ret = call(fd, KVM_GET_REGS, &st->regs, "KVM_GET_REGS");
	int khz;

	if (!ret)
		ret = call(fd, KVM_GET_SREGS, &st->sregs, "KVM_GET_SREGS");
	if (!ret)
		ret = get_fpu(fd, st);
	st->has_xcrs = has_cap(KVM_CAP_XCRS);
	if (!ret && st->has_xcrs)
		ret = call(fd, KVM_GET_XCRS, &st->xcrs, "KVM_GET_XCRS");
	khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
	st->tsc_khz = khz > 0 ? (uint32_t) khz : 0;
	return ret;
}

int vmstate_vcpu_get(int vcpu_fd, bool irqchip, struct vmstate_vcpu *st)
{
	int ret;

	memset(st, 0, sizeof(*st));
	st->irqchip = irqchip;
	ret = get_basics(vcpu_fd, st);
	if (!ret)
		ret = get_msrs(vcpu_fd, st);
	if (!ret)
		ret = get_cpuid(vcpu_fd, st);
	if (!ret && irqchip)
		ret = call(vcpu_fd, KVM_GET_LAPIC, &st->lapic, "KVM_GET_LAPIC");
	if (!ret && irqchip)
		ret = call(vcpu_fd, KVM_GET_MP_STATE, &st->mp_state, "KVM_GET_MP_STATE");
	if (!ret)
		ret = call(vcpu_fd, KVM_GET_VCPU_EVENTS, &st->events, "KVM_GET_VCPU_EVENTS");
	if (!ret)
		ret = call(vcpu_fd, KVM_GET_DEBUGREGS, &st->debugregs, "KVM_GET_DEBUGREGS");
	if (ret)
		vmstate_vcpu_free(st);
	return ret;
}

/* A load failure: the message goes to the caller's reader (its first failure wins). */
static int refuse(struct sbuf_reader *why, int err, const char *what)
{
	sbuf_check(why, false, "%s: %s", what, strerror(-err));
	why->err = err;
	return err;
}

static int put(int fd, unsigned long req, const void *arg, const char *what,
	       struct sbuf_reader *why)
{
	if (ioctl(fd, req, arg) < 0)
		return refuse(why, -errno, what);
	return 0;
}

static int put_cpuid(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	size_t n = st->nr_cpuid * sizeof(st->cpuid[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n);
	int ret;

	if (!c)
		return refuse(why, -ENOMEM, "CPUID");
	c->nent = st->nr_cpuid;
	memcpy(c->entries, st->cpuid, n);
	ret = put(fd, KVM_SET_CPUID2, c, "KVM_SET_CPUID2", why);
	free(c);
	return ret;
}

/* The TSC rate goes first: KVM converts the TSC value written next with it. */
static int put_tsc_khz(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	int cur = ioctl(fd, KVM_GET_TSC_KHZ, 0);

	if (!st->tsc_khz || cur == (int) st->tsc_khz)
		return 0;
	if (ioctl(fd, KVM_SET_TSC_KHZ, (unsigned long) st->tsc_khz) == 0)
		return 0;
	sbuf_check(why, false, "TSC of %u kHz, this host runs %d kHz and cannot scale it",
		   st->tsc_khz, cur);
	return why->err;
}

static int put_fpu(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	unsigned long req;
	uint32_t n = xsave_size(&req);
	uint8_t *area;
	int ret;

	if (!st->has_xsave)
		return put(fd, KVM_SET_FPU, &st->fpu, "KVM_SET_FPU", why);
	/* KVM_SET_XSAVE reads as many bytes as this host's area has: never more than ours. */
	if (!sbuf_check(why, n && st->xsave_len <= n, "xsave area of %u bytes, this host's has %u",
			st->xsave_len, n))
		return why->err;
	area = calloc(1, n);
	if (!area)
		return refuse(why, -ENOMEM, "xsave");
	memcpy(area, st->xsave, st->xsave_len);
	ret = put(fd, KVM_SET_XSAVE, area, "KVM_SET_XSAVE", why);
	free(area);
	return ret;
}

/* The MSRs with (index == TSC_DEADLINE) == @deadline. KVM_SET_MSRS stops at an MSR it
 * refuses: that one is skipped (it was readable but is not writable from the host) and the
 * rest still go in. */
static int put_msrs(int fd, const struct vmstate_vcpu *st, bool deadline, struct sbuf_reader *why)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (st->nr_msrs + 1) * sizeof(m->entries[0]));
	struct kvm_msr_entry *sel = calloc(st->nr_msrs + 1, sizeof(*sel));
	uint32_t n = 0, done = 0;
	int r = 0;

	for (uint32_t i = 0; m && sel && i < st->nr_msrs; i++)
		if ((st->msrs[i].index == MSR_IA32_TSC_DEADLINE) == deadline)
			sel[n++] = st->msrs[i];
	while (m && sel && done < n) {
		m->nmsrs = n - done;
		memcpy(m->entries, sel + done, m->nmsrs * sizeof(*sel));
		r = ioctl(fd, KVM_SET_MSRS, m);
		if (r < 0)
			break;
		done += (uint32_t) r;
		if (done < n)
			pr_debug("MSR 0x%x refused by KVM: not restored", sel[done++].index);
	}
	r = !m || !sel ? -ENOMEM : r < 0 ? -errno : 0;
	free(m);
	free(sel);
	return r ? refuse(why, r, "KVM_SET_MSRS") : 0;
}

static int msr_rw(int fd, unsigned long req, uint32_t index, uint64_t *v)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e = {.index = index, .data = *v}};

	if (ioctl(fd, req, &m) != 1)
		return -EIO;
	*v = m.e.data;
	return 0;
}

static uint64_t tsc_distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* KVM takes a host write of the TSC that lands within a second of what it expects (the
 * last write plus the time since; a fresh vCPU's is 0 at its creation) for an attempt to
 * synchronize vCPUs, and keeps the old offset instead of the value: a guest saved in its
 * first second would restart its TSC from the restore's creation time (seen nested on
 * 6.1). Then one write far away (not "synchronizing") and the value again put it exactly.
 * The further vCPUs of a guest are matched to the first one's offset on purpose (their
 * TSCs stay in sync), and land within a millisecond: left alone. */
static int put_tsc(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	uint64_t ms = st->tsc_khz ? st->tsc_khz : 1000000, want = 0, got = 0, far;

	for (uint32_t i = 0; i < st->nr_msrs; i++)
		if (st->msrs[i].index == MSR_IA32_TSC)
			want = st->msrs[i].data;
	if (!want || msr_rw(fd, KVM_GET_MSRS, MSR_IA32_TSC, &got) || tsc_distance(got, want) <= ms)
		return 0;
	far = want + 10000 * ms;
	if (msr_rw(fd, KVM_SET_MSRS, MSR_IA32_TSC, &far) ||
	    msr_rw(fd, KVM_SET_MSRS, MSR_IA32_TSC, &want) ||
	    msr_rw(fd, KVM_GET_MSRS, MSR_IA32_TSC, &got))
		return refuse(why, -EIO, "setting the TSC");
	if (tsc_distance(got, want) > ms)
		pr_warn("vCPU TSC restored %llu cycles off", (unsigned long long) (got - want));
	return 0;
}

static int put_events(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	struct kvm_vcpu_events ev = st->events;
	struct kvm_debugregs dr = st->debugregs;
	int ret;

	/* Take the pending NMI and SIPI vector too (KVM leaves them alone without these). */
	ev.flags = (ev.flags & (KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM)) |
		   KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ret = put(fd, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS", why);
	dr.flags = 0;
	return ret ? ret : put(fd, KVM_SET_DEBUGREGS, &dr, "KVM_SET_DEBUGREGS", why);
}

/* The order KVM needs: CPUID first (which MSRs and xsave features exist), the TSC rate
 * before the TSC, sregs (EFER, APIC base) before the MSRs that depend on them, the LAPIC
 * after the APIC base, the TSC deadline after the LAPIC (it needs its timer mode),
 * pending events last. */
int vmstate_vcpu_put(int fd, const struct vmstate_vcpu *st, struct sbuf_reader *why)
{
	int ret = put_cpuid(fd, st, why);

	if (!ret)
		ret = put_tsc_khz(fd, st, why);
	if (!ret)
		ret = put(fd, KVM_SET_SREGS, &st->sregs, "KVM_SET_SREGS", why);
	if (!ret)
		ret = put(fd, KVM_SET_REGS, &st->regs, "KVM_SET_REGS", why);
	if (!ret)
		ret = put_fpu(fd, st, why);
	if (!ret && st->has_xcrs)
		ret = put(fd, KVM_SET_XCRS, &st->xcrs, "KVM_SET_XCRS", why);
	if (!ret)
		ret = put_msrs(fd, st, false, why);
	if (!ret)
		ret = put_tsc(fd, st, why);
	if (!ret && st->irqchip)
		ret = put(fd, KVM_SET_MP_STATE, &st->mp_state, "KVM_SET_MP_STATE", why);
	if (!ret && st->irqchip)
		ret = put(fd, KVM_SET_LAPIC, &st->lapic, "KVM_SET_LAPIC", why);
	if (!ret && st->irqchip)
		ret = put_msrs(fd, st, true, why);
	return ret ? ret : put_events(fd, st, why);
}

/* A vCPU parked after an I/O or MMIO exit has not finished that instruction: KVM does it on
 * the next KVM_RUN (an OUT's RIP is not advanced yet, an IN's data not in its register),
 * and that pending work is in no state userspace can read. So enter KVM_RUN once with
 * immediate_exit set: KVM finishes the operation, then returns EINTR without running a
 * guest instruction. Harmless when nothing is pending. */
int vmstate_vcpu_settle(int vcpu_fd)
{
	struct kvm_run *run =
	    mmap(NULL, kvm_run_size(), PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
	uint8_t was;
	int rc, err = 0;

	if (run == MAP_FAILED)
		return fail("mmap of kvm_run", -errno);
	was = __atomic_exchange_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	rc = ioctl(vcpu_fd, KVM_RUN, 0);
	if (rc < 0 && errno != EINTR)
		err = fail("KVM_RUN to complete a pending exit", -errno);
	else if (rc == 0)
		err = fail("KVM_RUN with immediate_exit ran the guest", -EIO);
	/* The vCPU thread's own kick protocol may have set it: leave it as found. */
	__atomic_store_n(&run->immediate_exit, was, __ATOMIC_SEQ_CST);
	munmap(run, kvm_run_size());
	return err;
}

int vmstate_save_vcpu(int vcpu_fd, bool irqchip, struct sbuf *out)
{
	struct vmstate_vcpu st;
	int ret = vmstate_vcpu_settle(vcpu_fd);

	if (ret)
		return ret;
	ret = vmstate_vcpu_get(vcpu_fd, irqchip, &st);

	if (ret)
		return ret;
	vmstate_vcpu_encode(&st, out);
	vmstate_vcpu_free(&st);
	return out->err;
}

int vmstate_load_vcpu(int vcpu_fd, bool irqchip, struct sbuf_reader *in)
{
	struct vmstate_vcpu st;
	int ret = vmstate_vcpu_decode(in, &st);

	if (ret)
		return ret;
	if (sbuf_check(in, st.irqchip == irqchip, "vCPU state %s an in-kernel LAPIC, the guest %s",
		       st.irqchip ? "has" : "lacks", irqchip ? "has one" : "has none"))
		ret = vmstate_vcpu_put(vcpu_fd, &st, in);
	else
		ret = sbuf_error(in);
	vmstate_vcpu_free(&st);
	return ret;
}

int vmstate_save_vm(int vm_fd, bool irqchip, struct sbuf *out)
{
	struct vmstate_vm st = {.irqchip = irqchip};
	int ret = 0;

	for (unsigned i = 0; irqchip && i < 3 && !ret; i++) {
		st.chip[i].chip_id = i;
		ret = call(vm_fd, KVM_GET_IRQCHIP, &st.chip[i], "KVM_GET_IRQCHIP");
	}
	if (!ret && irqchip)
		ret = call(vm_fd, KVM_GET_PIT2, &st.pit, "KVM_GET_PIT2");
	if (!ret)
		ret = call(vm_fd, KVM_GET_CLOCK, &st.clock, "KVM_GET_CLOCK");
	if (ret)
		return ret;
	vmstate_vm_encode(&st, out);
	return out->err;
}

/* The kvmclock is set to the value saved, with no flags: KVM_CLOCK_REALTIME would add the
 * wall-clock time since the save, and the guest would see its clock jump. */
int vmstate_load_vm(int vm_fd, bool irqchip, struct sbuf_reader *in)
{
	struct vmstate_vm st;
	struct kvm_clock_data clock = {0};
	int ret = vmstate_vm_decode(in, &st);

	if (ret)
		return ret;
	if (!sbuf_check(in, st.irqchip == irqchip, "VM state %s an in-kernel irqchip, the guest %s",
			st.irqchip ? "has" : "lacks", irqchip ? "has one" : "has none"))
		return sbuf_error(in);
	for (unsigned i = 0; irqchip && i < 3 && !ret; i++)
		ret = put(vm_fd, KVM_SET_IRQCHIP, &st.chip[i], "KVM_SET_IRQCHIP", in);
	if (!ret && irqchip)
		ret = put(vm_fd, KVM_SET_PIT2, &st.pit, "KVM_SET_PIT2", in);
	clock.clock = st.clock.clock;
	return ret ? ret : put(vm_fd, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK", in);
}
