/* workload.c - load the workload guest and serve its command and wait ports.
 *
 * The guest runs entirely at CPL3: the VMM writes its GDT, identity page tables and a
 * parameter block, and enters every vCPU at the image's first byte. The guest reports
 * through WL_PORT_CMD and sleeps in WL_PORT_WAIT, where this device blocks the vCPU
 * thread until a request (verify, fault) arrives or the guest's own timeout passes.
 */
#define pr_fmt(fmt) "workload: " fmt
#include "vmm/workload.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/guest.h"
#include "vmm/guest_abi.h"
#include "vmm/kvm.h"
#include "lib/log.h"
#include "vmm/vcpu.h"

#define MIB (1ull << 20)

struct wl_dev {
	struct guest *g;
	struct wl_params *params;	  /* host view of the guest's parameter block */
	pthread_mutex_t lock;		  /* protects everything below */
	pthread_cond_t cond;		  /* signalled on every change below */
	uint32_t timeout_us[WL_MAX_CPUS]; /* armed by each vCPU for its next wait */
	uint32_t pending[WL_MAX_CPUS];	  /* request waiting for each vCPU */
	bool shutdown;			  /* guest is stopping: waits return at once */
	uint32_t round;			  /* request of the round in flight, or 0 */
	bool round_done;		  /* the guest reported the round */
	unsigned warnings;		  /* rate limit for reports of guest mistakes */
	uint64_t verify_ok;		  /* totals copied from the guest at VERIFY_DONE */
	uint64_t verify_bad;
};

const char *workload_default_image(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return "build/guest/workload.bin";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/guest/workload.bin", exe);
	return path;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int workload_regions(const struct guest_mem *m, struct wl_region *out, unsigned *nr,
		     uint64_t *total_pages)
{
	uint64_t ram_pages = m->ram_size / MEM_PAGE_SIZE;
	uint64_t start = WL_VERSIONS_GPA + align_up(ram_pages * 4, 2 * MIB);

	*nr = 0;
	*total_pages = 0;
	if (m->nr_regions == 0 || m->regions[0].size <= start + 16 * MEM_PAGE_SIZE)
		return -EINVAL;
	for (unsigned i = 0; i < m->nr_regions; i++) {
		uint64_t from = i == 0 ? start : m->regions[i].gpa;
		uint64_t end = m->regions[i].gpa + m->regions[i].size;

		out[*nr] = (struct wl_region){.gpa = from, .npages = (end - from) / MEM_PAGE_SIZE};
		*total_pages += out[*nr].npages;
		(*nr)++;
	}
	return 0;
}

static int read_image(const char *path, struct guest *g)
{
	void *dst = mem_gpa(&g->mem, WL_LOAD_GPA, WL_IMAGE_MAX);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		pr_err("cannot open workload image %s: %s (run make?)", path, strerror(errno));
		return -ENOENT;
	}
	if (fstat(fd, &st) || st.st_size == 0 || st.st_size > (off_t) WL_IMAGE_MAX || !dst) {
		pr_err("workload image %s: empty or larger than %llu KiB", path,
		       WL_IMAGE_MAX >> 10);
		close(fd);
		return -EINVAL;
	}
	n = read(fd, dst, (size_t) st.st_size);
	close(fd);
	if (n != st.st_size) {
		pr_err("cannot read workload image %s", path);
		return -EIO;
	}
	return 0;
}

static void fill_params(struct wl_params *p, const struct guest *g, const struct options *o)
{
	memset(p, 0, sizeof(*p));
	p->magic = WL_MAGIC;
	p->abi_version = WL_ABI_VERSION;
	p->nr_cpus = o->cpus;
	p->guest_index = g->index;
	p->has_avx = kvm_has_avx();
	p->seed = options_seed_of(o, g->name);
	p->pct_zero = o->profile.zero;
	p->pct_shared = o->profile.shared;
	p->pct_dup = o->profile.dup;
	p->placement = o->profile.placement;
	p->mutate_pct = o->profile.mutate_pct;
	p->mutate_rate = o->profile.mutate_rate;
	p->shuffle_extent = o->profile.extent;
}

/* Read up to @len bytes of @fd into guest RAM at @gpa. Returns bytes read or -errno. */
static int64_t read_into(struct guest *g, int fd, uint64_t gpa, uint64_t len)
{
	uint8_t *dst = mem_gpa(&g->mem, gpa, len);
	uint64_t done = 0;

	while (dst && done < len) {
		ssize_t n = read(fd, dst + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (uint64_t) n;
	}
	return dst ? (int64_t) done : -EFAULT;
}

/* --ram-image: the profile pages come from a file (a memory dump), in page order. */
static int load_ram_image(struct guest *g, const char *pattern, const struct wl_params *p)
{
	char path[4096];
	int64_t got = 0, n = 0;
	int fd;

	snprintf(path, sizeof(path), pattern, g->index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("%s: cannot open RAM image %s: %s", g->name, path, strerror(errno));
		return -errno;
	}
	for (unsigned r = 0; r < p->nr_regions && n >= 0; r++) {
		n = read_into(g, fd, p->regions[r].gpa, p->regions[r].npages * MEM_PAGE_SIZE);
		got += n > 0 ? n : 0;
		if (n >= 0 && (uint64_t) n < p->regions[r].npages * MEM_PAGE_SIZE)
			break;
	}
	close(fd);
	if (n < 0 || got == 0) {
		pr_err("%s: RAM image %s is %s", g->name, path,
		       n < 0 ? strerror((int) -n) : "empty");
		return -EINVAL;
	}
	pr_info("%s: loaded %lld MiB of RAM image %s", g->name, (long long) (got >> 20), path);
	return 0;
}

int workload_load(struct guest *g, const struct options *o, const char *image,
		  struct x86_boot *boot)
{
	const struct mem_region *last = &g->mem.regions[g->mem.nr_regions - 1];
	struct wl_params *p = mem_gpa(&g->mem, WL_PARAMS_GPA, sizeof(*p));
	int ret;

	if (!p || read_image(image, g))
		return -EINVAL;
	fill_params(p, g, o);
	if (workload_regions(&g->mem, p->regions, &p->nr_regions, &p->total_pages)) {
		pr_err("%s: %llu MiB is too small for the workload guest", g->name,
		       (unsigned long long) (g->mem.ram_size / MIB));
		return -EINVAL;
	}
	if (o->ram_image) {
		p->image_mode = 1;
		if (load_ram_image(g, o->ram_image, p))
			return -EINVAL;
	}
	ret = x86_build_gdt(&g->mem, WL_GDT_GPA);
	if (!ret)
		ret = x86_build_identity_map(&g->mem, WL_PT_GPA, last->gpa + last->size, true);
	if (ret) {
		pr_err("%s: cannot build page tables: %s", g->name, strerror(-ret));
		return ret;
	}
	*boot = (struct x86_boot){
	    .rip = WL_LOAD_GPA,
	    .rsp = WL_STACK_TOP,
	    .rsi = WL_PARAMS_GPA,
	    .rdi = 0,
	    .cr3 = WL_PT_GPA,
	    .gdt_gpa = WL_GDT_GPA,
	    .cpl = 3,
	    .enable_avx = p->has_avx,
	    .stack_stride = WL_STACK_SIZE,
	};
	return 0;
}

static void deadline_after(struct timespec *ts, uint32_t us)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += us / 1000000;
	ts->tv_nsec += (long) (us % 1000000) * 1000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* The vCPU blocks here until a request, the armed timeout, or shutdown. */
static uint32_t wait_request(struct wl_dev *d, unsigned id)
{
	struct timespec deadline;
	uint32_t timeout = d->timeout_us[id], req;
	int rc = 0;

	deadline_after(&deadline, timeout);
	while (!d->pending[id] && !d->shutdown && rc != ETIMEDOUT) {
		if (timeout)
			rc = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
		else
			pthread_cond_wait(&d->cond, &d->lock);
	}
	req = d->pending[id];
	d->pending[id] = WL_REQ_NONE;
	d->timeout_us[id] = 0;
	return req;
}

/* The guest finished round @req. */
static void on_round_done(struct wl_dev *d, uint32_t req)
{
	/* Guest-written values: copy once, then use the copies. */
	uint64_t ok = __atomic_load_n(&d->params->verify_ok, __ATOMIC_ACQUIRE);
	uint64_t bad = __atomic_load_n(&d->params->verify_bad, __ATOMIC_ACQUIRE);

	if (d->round != req) {
		if (d->warnings++ < 8)
			pr_warn("%s: unsolicited report %u ignored", d->g->name, req);
		return;
	}
	d->verify_ok = ok;
	d->verify_bad = bad;
	d->round_done = true;
	pthread_cond_broadcast(&d->cond);
}

static void on_command(struct wl_dev *d, uint32_t cmd)
{
	switch (cmd) {
	case WL_CMD_READY:
		if (guest_mark_ready(d->g)) {
			pr_info("%s: ready (%llu pages filled)", d->g->name,
				(unsigned long long) d->params->pages_filled);
		}
		break;
	case WL_CMD_VERIFY_DONE: on_round_done(d, WL_REQ_VERIFY); break;
	case WL_CMD_PROBE_DONE: on_round_done(d, WL_REQ_PROBE); break;
	case WL_CMD_WATCH_DONE: on_round_done(d, WL_REQ_WATCH); break;
	case WL_CMD_PANIC:
		pthread_mutex_unlock(&d->lock);
		guest_die(d->g, "workload guest panicked (see its console)");
		pthread_mutex_lock(&d->lock);
		break;
	default:
		if (d->warnings++ < 8)
			pr_warn("%s: unknown workload command %u ignored%s", d->g->name, cmd,
				d->warnings == 8 ? " (further reports suppressed)" : "");
	}
}

static void wl_io(void *opaque, uint64_t port, bool write, uint8_t *data, unsigned size)
{
	struct wl_dev *d = opaque;
	unsigned id = vcpu_self_id();
	uint32_t val = 0;

	memcpy(&val, data, size < 4 ? size : 4);
	pthread_mutex_lock(&d->lock);
	if (port == WL_PORT_CMD && write)
		on_command(d, val);
	else if (port == WL_PORT_WAIT && write)
		d->timeout_us[id] = val;
	else if (port == WL_PORT_WAIT)
		val = wait_request(d, id);
	else if (port == WL_PORT_TSC_KHZ && !write && id < d->g->nr_vcpus)
		val = (uint32_t) vcpu_tsc_khz(d->g->vcpus[id]);
	pthread_mutex_unlock(&d->lock);
	if (!write)
		memcpy(data, &val, size < 4 ? size : 4);
}

struct wl_dev *wl_dev_create(struct guest *g)
{
	struct wl_dev *d = calloc(1, sizeof(*d));
	pthread_condattr_t attr;

	if (!d)
		return NULL;
	d->g = g;
	d->params = mem_gpa(&g->mem, WL_PARAMS_GPA, sizeof(*d->params));
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (bus_register(&g->bus, BUS_PIO, WL_PORT_CMD, WL_PORT_TSC_KHZ + 4 - WL_PORT_CMD, wl_io,
			 d)) {
		wl_dev_destroy(d);
		return NULL;
	}
	return d;
}

void wl_dev_shutdown(struct wl_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->shutdown = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static int wait_round(struct wl_dev *d, int timeout_ms)
{
	struct timespec deadline;
	int rc = 0;

	deadline_after(&deadline, (uint32_t) timeout_ms * 1000u);
	while (!d->round_done && !d->shutdown && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&d->cond, &d->lock, &deadline);
	if (d->round_done)
		return 0;
	return d->shutdown ? -ESRCH : -ETIMEDOUT;
}

/* What a round asks of the guest besides its request. */
struct wl_round_args {
	uint32_t probe_pages;
	uint32_t watch_ms;
	uint32_t watch_threshold_us;
};

/* The guest only adds to these after it sees the request posted next; the write goes
 * through the guard so the merge engine never replaces the page under it. */
static void reset_counters(struct wl_dev *d, const struct wl_round_args *a)
{
	struct wl_params *p = ram_write_begin(&d->g->ram, WL_PARAMS_GPA, sizeof(*p));

	if (!p)
		return;
	p->verify_cpus = 0;
	p->verify_ok = 0;
	p->verify_bad = 0;
	p->probe_pages = a->probe_pages;
	p->probe_cpus = 0;
	p->probe_count = 0;
	p->watch_ms = a->watch_ms;
	p->watch_threshold_us = a->watch_threshold_us;
	p->watch_cpus = 0;
	p->watch_count = 0;
	p->watch_stall_ticks = 0;
	p->watch_ticks = 0;
	p->watch_reads = 0;
	ram_write_end(&d->g->ram, WL_PARAMS_GPA, sizeof(*p));
}

/* Post request @req to every vCPU and wait for the guest's report. Caller holds d->lock. */
static int run_round(struct wl_dev *d, uint32_t req, const struct wl_round_args *a, int timeout_ms)
{
	int ret;

	if (d->shutdown || d->round)
		return d->shutdown ? -ESRCH : -EBUSY;
	d->round = req;
	d->round_done = false;
	reset_counters(d, a);
	for (unsigned i = 0; i < d->g->nr_vcpus; i++)
		d->pending[i] = req;
	pthread_cond_broadcast(&d->cond);
	ret = wait_round(d, timeout_ms);
	d->round = 0;
	return ret;
}

int wl_dev_verify(struct wl_dev *d, int timeout_ms, uint64_t *ok, uint64_t *bad)
{
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = run_round(d, WL_REQ_VERIFY, &(struct wl_round_args){0}, timeout_ms);
	*ok = d->verify_ok;
	*bad = d->verify_bad;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_probe(struct wl_dev *d, uint32_t pages, int timeout_ms, uint32_t *ticks, size_t max,
		 size_t *n)
{
	const uint32_t *samples = mem_gpa(&d->g->mem, WL_PROBE_GPA, WL_PROBE_MAX * 4);
	int ret;

	*n = 0;
	pthread_mutex_lock(&d->lock);
	ret = run_round(d, WL_REQ_PROBE, &(struct wl_round_args){.probe_pages = pages}, timeout_ms);
	if (!ret && samples) {
		uint64_t count = __atomic_load_n(&d->params->probe_count, __ATOMIC_ACQUIRE);

		*n = count < WL_PROBE_MAX ? count : WL_PROBE_MAX;
		*n = *n < max ? *n : max;
		memcpy(ticks, samples, *n * sizeof(*ticks));
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_watch(struct wl_dev *d, uint32_t ms, uint32_t threshold_us, uint32_t *ticks, size_t max,
		 struct wl_watch *out)
{
	const uint32_t *samples = mem_gpa(&d->g->mem, WL_WATCH_GPA, WL_WATCH_MAX * 4);
	struct wl_round_args a = {.watch_ms = ms, .watch_threshold_us = threshold_us};
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&d->lock);
	/* The guest spins for @ms: allow that plus the usual slack for a busy host. */
	ret = run_round(d, WL_REQ_WATCH, &a, (int) ms + 30000);
	if (!ret && samples) {
		/* Guest-written values: copied once, bounded before use. */
		uint64_t count = __atomic_load_n(&d->params->watch_count, __ATOMIC_ACQUIRE);

		out->stalls = count;
		out->stall_ticks = __atomic_load_n(&d->params->watch_stall_ticks, __ATOMIC_ACQUIRE);
		out->ticks = __atomic_load_n(&d->params->watch_ticks, __ATOMIC_ACQUIRE);
		out->reads = __atomic_load_n(&d->params->watch_reads, __ATOMIC_ACQUIRE);
		out->nsamples = count < WL_WATCH_MAX ? count : WL_WATCH_MAX;
		out->nsamples = out->nsamples < max ? out->nsamples : max;
		memcpy(ticks, samples, out->nsamples * sizeof(*ticks));
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int wl_dev_fault(struct wl_dev *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (d->shutdown)
		ret = -ESRCH;
	else
		d->pending[0] = WL_REQ_FAULT;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void wl_dev_destroy(struct wl_dev *d)
{
	if (!d)
		return;
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}
