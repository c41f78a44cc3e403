/* fleet.c - the guests of one ksmvmm process, created alike and addressed by name. */
#define pr_fmt(fmt) "fleet: " fmt
#include "vmm/fleet.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksm/ksm.h"
#include "vmm/guest.h"
#include "vmm/guest_abi.h"
#include "vmm/vcpu.h"
#include "lib/log.h"
#include "lib/page.h"
#include "vmm/devices/table.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/workload.h"

/* Refuse fleets promising more than this many times the host's RAM: a typo guard. */
#define MAX_OVERCOMMIT 8

#define MAX_GROUPS OPT_MAX_GROUP_RULES + 1

struct fleet {
	size_t nr;
	struct guest **guests;
	enum merge_mode merge;
	struct ksm *ksm; /* the merge engine (--merge=vmm), else NULL */
	unsigned nr_groups;
	char groups[MAX_GROUPS][OPT_GROUP_NAME_MAX]; /* group id -> name */
	void (*end_cb)(void *opaque);
	void *end_opaque;
};

static int check_host_memory(const struct options *o)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	unsigned long long host = (unsigned long long) pages * (unsigned long long) psize;
	unsigned long long want = (unsigned long long) o->count * o->mem;

	if (pages > 0 && psize > 0 && want / MAX_OVERCOMMIT > host) {
		pr_err(
		    "%u guests x %llu MiB = %llu GiB is more than %dx this host's %llu GiB of RAM",
		    o->count, (unsigned long long) (o->mem >> 20), want >> 30, MAX_OVERCOMMIT,
		    host >> 30);
		return -ENOMEM;
	}
	return 0;
}

/* --merge=host only helps if ksmd runs: say so when it does not. */
static void check_host_ksm(void)
{
	FILE *fp = fopen("/sys/kernel/mm/ksm/run", "r");
	int run = -1;

	if (fp) {
		if (fscanf(fp, "%d", &run) != 1)
			run = -1;
		fclose(fp);
	}
	if (run != 1)
		pr_warn("--merge=host: the host's KSM is not running (/sys/kernel/mm/ksm/run is "
			"%d); an administrator must enable it for pages to merge",
			run);
}

static int make_console_dir(const char *dir)
{
	struct stat st;

	if (!dir)
		return 0;
	if (mkdir(dir, 0755) && errno != EEXIST) {
		int err = errno;

		pr_err("cannot create console directory %s: %s", dir, strerror(err));
		return -err;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		pr_err("console path %s is not a directory", dir);
		return -ENOTDIR;
	}
	if (access(dir, W_OK | X_OK)) {
		int err = errno;

		pr_err("console directory %s is not writable: %s", dir, strerror(err));
		return -EACCES;
	}
	return 0;
}

/* The engine's view of a guest (ksm_vm_ops): its pause and its dirty pages. */
static void op_request_pause(void *g)
{
	pause_request(&((struct guest *) g)->pause);
}

static void op_wait_paused(void *g)
{
	pause_wait(&((struct guest *) g)->pause);
}

static void op_resume(void *g)
{
	pause_resume(&((struct guest *) g)->pause);
}

static int op_fetch_dirty(void *g, unsigned r, uint64_t *bitmap)
{
	return ram_fetch_dirty(&((struct guest *) g)->ram, r, bitmap);
}

static int op_fetch_reported(void *g, unsigned r, uint64_t *bitmap)
{
	return ram_fetch_reported(&((struct guest *) g)->ram, r, bitmap);
}

static const struct ksm_vm_ops guest_ksm_ops = {
    .request_pause = op_request_pause,
    .wait_paused = op_wait_paused,
    .resume = op_resume,
    .fetch_dirty = op_fetch_dirty,
    .fetch_reported = op_fetch_reported,
};

/* Id of sharing group @name ("none" opts out). */
static uint32_t group_id(struct fleet *f, const char *name)
{
	unsigned i;

	if (!strcmp(name, "none"))
		return KSM_GROUP_NONE;
	for (i = 0; i < f->nr_groups; i++)
		if (!strcmp(f->groups[i], name))
			return i;
	snprintf(f->groups[i], sizeof(f->groups[i]), "%s", name);
	f->nr_groups++;
	return i;
}

static void engine_tunables(const struct options *o, struct ksm_tunables *t)
{
	ksm_default_tunables(t);
	if (o->ksm_interval_ms)
		t->interval_ms = (uint32_t) o->ksm_interval_ms;
	if (o->ksm_batch_pages)
		t->batch_pages = (uint32_t) o->ksm_batch_pages;
	if (o->ksm_max_stall_us)
		t->max_stall_us = (uint32_t) o->ksm_max_stall_us;
	t->scan_rate = o->ksm_scan_rate;
}

static int register_guest(struct fleet *f, struct guest *g)
{
	struct ksm_region r[MEM_MAX_REGIONS];

	for (unsigned i = 0; i < g->mem.nr_regions; i++)
		r[i] = (struct ksm_region){.hva = g->mem.regions[i].hva,
					   .gpa = g->mem.regions[i].gpa,
					   .npages = g->mem.regions[i].size / PAGE_SIZE};
	g->ksm_vm = ksm_add_vm(f->ksm, g->name, group_id(f, g->group), r, g->mem.nr_regions,
			       &guest_ksm_ops, g);
	return g->ksm_vm ? 0 : -ENOMEM;
}

static int setup_merging(struct fleet *f, const struct options *o)
{
	struct ksm_tunables t;

	f->merge = o->merge;
	if (o->merge == MERGE_HOST)
		check_host_ksm();
	if (o->merge != MERGE_VMM)
		return 0;
	engine_tunables(o, &t);
	f->ksm = ksm_create((uint64_t) o->count * (o->mem / PAGE_SIZE), &t);
	if (!f->ksm) {
		int err = errno;

		pr_err("cannot create the merge engine: %s", strerror(err));
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->nr; i++) {
		if (register_guest(f, f->guests[i])) {
			pr_err("cannot register %s with the merge engine", f->guests[i]->name);
			return -ENOMEM;
		}
	}
	return 0;
}

static void on_guest_end(void *opaque, struct guest *g)
{
	struct fleet *f = opaque;

	(void) g;
	if (f->end_cb)
		f->end_cb(f->end_opaque);
}

struct fleet *fleet_create(const struct options *o)
{
	struct fleet *f;

	if (check_host_memory(o) || make_console_dir(o->console_dir))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->guests = calloc(o->count, sizeof(*f->guests)))) {
		pr_err("out of memory");
		free(f);
		return NULL;
	}
	for (unsigned i = 0; i < o->count; i++) {
		f->guests[i] = guest_create(o, i, o->count == 1);
		if (!f->guests[i]) {
			fleet_destroy(f);
			return NULL;
		}
		snprintf(f->guests[i]->group, sizeof(f->guests[i]->group), "%s",
			 options_group_of(o, f->guests[i]->name));
		f->guests[i]->on_end = on_guest_end;
		f->guests[i]->on_end_opaque = f;
		f->nr++;
	}
	if (setup_merging(f, o)) {
		fleet_destroy(f);
		return NULL;
	}
	return f;
}

int fleet_start(struct fleet *f)
{
	for (size_t i = 0; i < f->nr; i++) {
		int ret = guest_start(f->guests[i]);

		if (ret) {
			fleet_stop_all(f);
			return ret;
		}
	}
	if (f->ksm && ksm_start(f->ksm)) {
		pr_err("cannot start the merge engine thread");
		fleet_stop_all(f);
		return -EAGAIN;
	}
	pr_info("%zu guest%s running, merging: %s", f->nr, f->nr == 1 ? "" : "s",
		f->merge == MERGE_VMM	 ? "in the VMM"
		: f->merge == MERGE_HOST ? "host KSM"
					 : "off");
	return 0;
}

void fleet_set_end_callback(struct fleet *f, void (*cb)(void *opaque), void *opaque)
{
	f->end_cb = cb;
	f->end_opaque = opaque;
}

size_t fleet_count(struct fleet *f)
{
	return f->nr;
}

int fleet_find(struct fleet *f, const char *name)
{
	for (size_t i = 0; i < f->nr; i++)
		if (!strcmp(f->guests[i]->name, name))
			return (int) i;
	return -ENOENT;
}

static void uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

int fleet_info(struct fleet *f, size_t i, struct fleet_guest_info *out)
{
	struct guest *g;

	if (i >= f->nr)
		return -ENOENT;
	g = f->guests[i];
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", g->name);
	memcpy(out->uuid, g->uuid, sizeof(out->uuid));
	uuid_format(g->uuid, out->uuid_str);
	out->mem_bytes = g->mem.ram_size;
	out->cpus = g->nr_vcpus;
	out->workload = g->kind == GUEST_KIND_WORKLOAD;
	snprintf(out->group, sizeof(out->group), "%s", g->group);
	out->nr_ram = g->mem.nr_regions;
	for (unsigned r = 0; r < g->mem.nr_regions && r < 2; r++) {
		out->ram[r].gpa = g->mem.regions[r].gpa;
		out->ram[r].hva = (uintptr_t) g->mem.regions[r].hva;
		out->ram[r].size = g->mem.regions[r].size;
	}
	pthread_mutex_lock(&g->lock);
	out->state = g->state;
	out->ready = g->ready;
	snprintf(out->reason, sizeof(out->reason), "%s", g->reason);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static bool live(enum guest_state s)
{
	return s != GUEST_STOPPED && s != GUEST_DEAD;
}

size_t fleet_live(struct fleet *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->nr; i++)
		n += live(guest_get_state(f->guests[i]));
	return n;
}

int fleet_stop_guest(struct fleet *f, size_t i)
{
	if (i >= f->nr)
		return -ENOENT;
	return guest_request_stop(f->guests[i]);
}

void fleet_stop_all(struct fleet *f)
{
	for (size_t i = 0; i < f->nr; i++)
		guest_request_stop(f->guests[i]);
}

int fleet_devices(struct fleet *f, size_t i, struct fleet_device *out, size_t max)
{
	if (i >= f->nr)
		return -ENOENT;
	return (int) devices_info(f->guests[i]->devices, out, max);
}

int fleet_balloon(struct fleet *f, size_t i, uint64_t bytes)
{
	struct guest *g;

	if (i >= f->nr)
		return -ENOENT;
	g = f->guests[i];
	if (bytes > g->mem.ram_size)
		return -ERANGE;
	if (guest_get_state(g) != GUEST_RUNNING)
		return -ESRCH;
	return devices_balloon_target(g->devices, (uint32_t) (bytes / PAGE_SIZE));
}

/* The workload device of a running guest @i, or NULL with *err set. */
static struct wl_dev *running_workload(struct fleet *f, size_t i, int *err)
{
	enum guest_state s;

	if (i >= f->nr) {
		*err = -ENOENT;
		return NULL;
	}
	if (!f->guests[i]->wl) {
		*err = -ENOTSUP;
		return NULL;
	}
	s = guest_get_state(f->guests[i]);
	if (s != GUEST_RUNNING) {
		*err = -ESRCH;
		return NULL;
	}
	return f->guests[i]->wl;
}

int fleet_verify_guest(struct fleet *f, size_t i, int timeout_ms, uint64_t *ok, uint64_t *bad)
{
	int err = 0;
	struct wl_dev *d = running_workload(f, i, &err);

	return d ? wl_dev_verify(d, timeout_ms, ok, bad) : err;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

static uint64_t ticks_to_ns(uint64_t ticks, unsigned long khz)
{
	return (uint64_t) ((unsigned __int128) ticks * 1000000 / khz);
}

/* The running workload guest @i and its TSC rate, for the timed requests (probe,
 * watch); NULL with *@err set when it has none. */
static struct wl_dev *timed_workload(struct fleet *f, size_t i, unsigned long *khz, int *err)
{
	struct wl_dev *d = running_workload(f, i, err);

	if (!d)
		return NULL;
	*khz = vcpu_tsc_khz(f->guests[i]->vcpus[0]);
	if (!*khz) {
		*err = -ENODATA;
		return NULL;
	}
	return d;
}

/* Sort @n > 0 guest-timed samples (TSC ticks); their p50, p99 and max in ns. */
static void tick_percentiles(uint32_t *ticks, size_t n, unsigned long khz, uint64_t *p50,
			     uint64_t *p99, uint64_t *max)
{
	qsort(ticks, n, sizeof(ticks[0]), cmp_u32);
	*p50 = ticks_to_ns(ticks[n / 2], khz);
	*p99 = ticks_to_ns(ticks[n * 99 / 100], khz);
	*max = ticks_to_ns(ticks[n - 1], khz);
}

int fleet_probe_guest(struct fleet *f, size_t i, uint32_t pages, int timeout_ms,
		      struct fleet_probe *out)
{
	int err = 0;
	unsigned long khz = 0;
	struct wl_dev *d = timed_workload(f, i, &khz, &err);
	uint32_t ticks[WL_PROBE_MAX];
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!d)
		return err;
	err = wl_dev_probe(d, pages, timeout_ms, ticks, WL_PROBE_MAX, &n);
	if (err || n == 0)
		return err;
	out->samples = n;
	tick_percentiles(ticks, n, khz, &out->p50_ns, &out->p99_ns, &out->max_ns);
	return 0;
}

int fleet_watch_guest(struct fleet *f, size_t i, uint32_t ms, uint32_t threshold_us,
		      struct fleet_watch *out)
{
	int err = 0;
	unsigned long khz = 0;
	struct wl_dev *d = timed_workload(f, i, &khz, &err);
	struct wl_watch w;

	memset(out, 0, offsetof(struct fleet_watch, stall_ns));
	if (!d)
		return err;
	err = wl_dev_watch(d, ms, threshold_us, out->stall_ns, WL_WATCH_MAX, &w);
	if (err)
		return err;
	if (w.nsamples)
		tick_percentiles(out->stall_ns, w.nsamples, khz, &out->p50_ns, &out->p99_ns,
				 &out->max_ns);
	for (size_t j = 0; j < w.nsamples; j++) {
		uint64_t ns = ticks_to_ns(out->stall_ns[j], khz);

		out->stall_ns[j] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t) ns;
	}
	out->threshold_ns = (uint64_t) threshold_us * 1000;
	out->watched_ns = ticks_to_ns(w.ticks, khz);
	out->reads = w.reads;
	out->stalls = w.stalls;
	out->stalled_ns = ticks_to_ns(w.stall_ticks, khz);
	out->nsamples = w.nsamples;
	return 0;
}

int fleet_fault_guest(struct fleet *f, size_t i)
{
	int err = 0;
	struct wl_dev *d = running_workload(f, i, &err);

	return d ? wl_dev_fault(d) : err;
}

int fleet_hostile_guest(struct fleet *f, size_t i, uint32_t dev, uint32_t kind)
{
	int err = 0;
	struct wl_dev *d = running_workload(f, i, &err);

	return d ? wl_dev_hostile(d, dev, kind) : err;
}

int fleet_exit_status(struct fleet *f)
{
	for (size_t i = 0; i < f->nr; i++)
		if (guest_get_state(f->guests[i]) == GUEST_DEAD)
			return 1;
	return 0;
}

void fleet_destroy(struct fleet *f)
{
	if (!f)
		return;
	fleet_stop_all(f);
	if (f->ksm)
		ksm_stop(f->ksm);
	for (size_t i = 0; i < f->nr; i++) {
		struct ksm_vm *vm = f->guests[i]->ksm_vm;

		/* The engine lets go of the RAM before it is unmapped, and of the pool
		 * pages after. */
		if (vm)
			ksm_vm_detach(f->ksm, vm);
		guest_destroy(f->guests[i]);
		if (vm)
			ksm_vm_free(f->ksm, vm);
	}
	ksm_destroy(f->ksm);
	free(f->guests);
	free(f);
}

int fleet_merge_stats(struct fleet *f, struct ksm_stats *s, struct ksm_vm_stats *vms, size_t max)
{
	if (!f->ksm)
		return -ENOTSUP;
	/* Guests registered in fleet order, and the engine reports them in that order. */
	return (int) ksm_get_stats(f->ksm, s, vms, max);
}

int fleet_merge_matrix(struct fleet *f, uint64_t *out, size_t n)
{
	return f->ksm ? ksm_matrix(f->ksm, out, n) : -ENOTSUP;
}

int fleet_set_tunable(struct fleet *f, const char *key, uint64_t value)
{
	return f->ksm ? ksm_set_tunable(f->ksm, key, value) : -ENOTSUP;
}

enum merge_mode fleet_merge_mode(struct fleet *f)
{
	return f->merge;
}
