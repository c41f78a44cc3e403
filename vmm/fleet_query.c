/* fleet_query.c - what one guest of the fleet is (fleet_info), requests to it (devices,
 * balloon, the workload guest's verify, probe and watch) and the merge engine's figures
 * in fleet order. */
#define pr_fmt(fmt) "fleet: " fmt
#include <errno.h>
#include <glib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksm/ksm.h"
#include "lib/clock.h"
#include "lib/errbuf.h"
#include "lib/page.h"
#include "virtio/balloon.h"
#include "vmm/devices/table.h"
#include "vmm/devices/wl_dev.h"
#include "vmm/fleet.h"
#include "vmm/fleet_internal.h"
#include "vmm/guest.h"
#include "vmm/snapshot.h"
#include "vmm/vcpu.h"

static void uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static void fill_info(struct guest *g, struct fleet_guest_info *out)
{
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
}

int fleet_info(struct fleet *f, size_t i, struct fleet_guest_info *out)
{
	struct fleet_entry *e = fleet_get(f, i);

	if (!e)
		return -ENOENT;
	fill_info(e->g, out);
	fleet_put(f, e);
	return 0;
}

int fleet_devices(struct fleet *f, size_t i, struct fleet_device *out, size_t max)
{
	struct fleet_entry *e = fleet_get(f, i);
	int n;

	if (!e)
		return -ENOENT;
	n = (int) devices_info(e->g->devices, out, max);
	fleet_put(f, e);
	return n;
}

int fleet_balloon(struct fleet *f, size_t i, uint64_t bytes)
{
	struct fleet_entry *e = fleet_get(f, i);
	int ret;

	if (!e)
		return -ENOENT;
	if (bytes > e->g->mem.ram_size)
		ret = -ERANGE;
	else if (guest_get_state(e->g) != GUEST_RUNNING)
		ret = -ESRCH;
	else
		ret = devices_balloon_target(e->g->devices, (uint32_t) (bytes / PAGE_SIZE));
	fleet_put(f, e);
	return ret;
}

int fleet_balloon_stats(struct fleet *f, size_t i, bool refresh, struct fleet_balloon_stats *out)
{
	struct fleet_entry *e = fleet_get(f, i);
	struct virtio_balloon_guest_stats g;
	uint32_t actual = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!e)
		return -ENOENT;
	ret = devices_balloon_stats(e->g->devices, refresh, &actual, &g);
	fleet_put(f, e);
	if (ret)
		return ret;
	out->actual_bytes = (uint64_t) actual * PAGE_SIZE;
	for (unsigned t = 0; t < VIRTIO_BALLOON_STATS_NR && t < G_N_ELEMENTS(out->val); t++)
		out->val[t] = g.val[t];
	out->valid = g.valid;
	out->age_us = g.time_us ? clock_now_us() - g.time_us : UINT64_MAX;
	return 0;
}

/* Running workload guest @i with a reference taken (fleet_put it), or NULL with *err. */
static struct fleet_entry *running_workload(struct fleet *f, size_t i, int *err)
{
	struct fleet_entry *e = fleet_get(f, i);

	*err = !e					? -ENOENT
	       : !e->g->wl				? -ENOTSUP
	       : guest_get_state(e->g) != GUEST_RUNNING ? -ESRCH
							: 0;
	if (*err) {
		fleet_put(f, e);
		return NULL;
	}
	return e;
}

int fleet_verify_guest(struct fleet *f, size_t i, int timeout_ms, uint64_t *ok, uint64_t *bad)
{
	int err = 0;
	struct fleet_entry *e = running_workload(f, i, &err);

	if (!e)
		return err;
	err = wl_dev_verify(e->g->wl, timeout_ms, ok, bad);
	fleet_put(f, e);
	return err;
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

/* The running workload guest @i (referenced) and its TSC rate, for the timed requests
 * (probe, watch); NULL with *@err set when it has none. */
static struct fleet_entry *timed_workload(struct fleet *f, size_t i, unsigned long *khz, int *err)
{
	struct fleet_entry *e = running_workload(f, i, err);

	if (!e)
		return NULL;
	*khz = vcpu_tsc_khz(e->g->vcpus[0]);
	if (!*khz) {
		*err = -ENODATA;
		fleet_put(f, e);
		return NULL;
	}
	return e;
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
	struct fleet_entry *e = timed_workload(f, i, &khz, &err);
	uint32_t ticks[WL_PROBE_MAX];
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	if (!e)
		return err;
	err = wl_dev_probe(e->g->wl, pages, timeout_ms, ticks, WL_PROBE_MAX, &n);
	fleet_put(f, e);
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
	struct fleet_entry *e = timed_workload(f, i, &khz, &err);
	struct wl_watch w;

	memset(out, 0, offsetof(struct fleet_watch, stall_ns));
	if (!e)
		return err;
	err = wl_dev_watch(e->g->wl, ms, threshold_us, out->stall_ns, WL_WATCH_MAX, &w);
	fleet_put(f, e);
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
	struct fleet_entry *e = running_workload(f, i, &err);

	if (!e)
		return err;
	err = wl_dev_fault(e->g->wl);
	fleet_put(f, e);
	return err;
}

/* Slot of the guest the engine knows by @opaque, or -1. */
static long slot_of(struct fleet *f, const void *opaque)
{
	long slot = -1;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->nr && slot < 0; i++)
		if (f->slots[i] && f->slots[i]->g == opaque)
			slot = (long) i;
	pthread_mutex_unlock(&f->lock);
	return slot;
}

/* The engine can know more VMs than slots are filled: removed guests stay registered
 * until their last user lets go. */
static size_t engine_vms_max(struct fleet *f)
{
	return 2 * f->nr + 1;
}

int fleet_merge_stats(struct fleet *f, struct ksm_stats *s, struct ksm_vm_stats *vms, size_t max)
{
	size_t n = f->nr < max ? f->nr : max, nvm = engine_vms_max(f), got;
	struct ksm_vm_stats *all;

	if (!f->ksm)
		return -ENOTSUP;
	all = calloc(nvm, sizeof(*all));
	if (!all)
		return -ENOMEM;
	got = ksm_get_stats(f->ksm, s, all, nvm);
	memset(vms, 0, n * sizeof(*vms));
	for (size_t j = 0; j < got; j++) {
		long slot = slot_of(f, all[j].opaque);

		if (slot >= 0 && (size_t) slot < n)
			vms[slot] = all[j];
	}
	free(all);
	return (int) n;
}

int fleet_merge_matrix(struct fleet *f, uint64_t *out, size_t n)
{
	size_t nvm = engine_vms_max(f);
	uint64_t *m = f->ksm ? calloc(nvm * nvm, sizeof(*m)) : NULL;
	void **who = f->ksm ? calloc(nvm, sizeof(*who)) : NULL;
	long *slot = f->ksm ? calloc(nvm, sizeof(*slot)) : NULL;
	int got = -ENOMEM;

	if (!f->ksm)
		return -ENOTSUP;
	if (m && who && slot)
		got = ksm_matrix(f->ksm, m, who, nvm);
	memset(out, 0, n * n * sizeof(*out));
	for (int a = 0; a < got; a++)
		slot[a] = slot_of(f, who[a]);
	for (int a = 0; a < got; a++)
		for (int b = 0; b < got; b++)
			if (slot[a] >= 0 && slot[b] >= 0 && (size_t) slot[a] < n &&
			    (size_t) slot[b] < n)
				out[(size_t) slot[a] * n + (size_t) slot[b]] =
				    m[(size_t) a * (size_t) got + (size_t) b];
	free(m);
	free(who);
	free(slot);
	return got < 0 ? got : (int) n;
}

int fleet_set_tunable(struct fleet *f, const char *key, uint64_t value)
{
	return f->ksm ? ksm_set_tunable(f->ksm, key, value) : -ENOTSUP;
}

int fleet_hostile_guest(struct fleet *f, size_t i, uint32_t dev, uint32_t kind)
{
	int err = 0;
	struct fleet_entry *e = running_workload(f, i, &err);

	if (!e)
		return err;
	err = wl_dev_hostile(e->g->wl, dev, kind);
	fleet_put(f, e);
	return err;
}

int fleet_snapshot_guest(struct fleet *f, size_t i, const char *dir, char *err, size_t len)
{
	struct fleet_entry *e = fleet_get(f, i);
	int ret;

	if (!e)
		return errbuf_set(err, len, -ENOENT, "no guest in slot %zu", i);
	ret = snapshot_save(e->g, dir, err, len);
	fleet_put(f, e);
	return ret;
}
