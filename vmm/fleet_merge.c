/* fleet_merge.c - the fleet and its merging: the engine's view of a guest (its pause and
 * its dirty pages), sharing groups, registering guests with the engine, creating the
 * engine (--merge=vmm) or checking that the host's KSM runs (--merge=host). */
#define pr_fmt(fmt) "fleet: " fmt
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ksm/ksm.h"
#include "lib/log.h"
#include "lib/page.h"
#include "vmm/fleet.h"
#include "vmm/fleet_internal.h"
#include "vmm/guest.h"

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

/* Id of sharing group @name ("none" opts out), UINT32_MAX when the table is full.
 * Caller holds f->lock once guests come and go. */
uint32_t fleet_group_id(struct fleet *f, const char *name)
{
	unsigned i;

	if (!strcmp(name, "none"))
		return KSM_GROUP_NONE;
	for (i = 0; i < f->nr_groups; i++)
		if (!strcmp(f->groups[i], name))
			return i;
	if (i == FLEET_MAX_GROUPS)
		return UINT32_MAX;
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

int fleet_register_guest(struct fleet *f, struct guest *g)
{
	struct ksm_region r[MEM_MAX_REGIONS];
	uint32_t group;

	pthread_mutex_lock(&f->lock);
	group = fleet_group_id(f, g->group);
	pthread_mutex_unlock(&f->lock);
	if (group == UINT32_MAX) {
		pr_err("%s: too many sharing groups (at most %d)", g->name, FLEET_MAX_GROUPS);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < g->mem.nr_regions; i++)
		r[i] = (struct ksm_region){.hva = g->mem.regions[i].hva,
					   .gpa = g->mem.regions[i].gpa,
					   .npages = g->mem.regions[i].size / PAGE_SIZE};
	g->ksm_vm = ksm_add_vm(f->ksm, g->name, group, r, g->mem.nr_regions, &guest_ksm_ops, g);
	return g->ksm_vm ? 0 : -ENOMEM;
}

int fleet_setup_merging(struct fleet *f, const struct options *o, uint64_t max_pages)
{
	struct ksm_tunables t;

	f->merge = o->merge;
	if (o->merge == MERGE_HOST)
		check_host_ksm();
	if (o->merge != MERGE_VMM)
		return 0;
	engine_tunables(o, &t);
	f->ksm = ksm_create(max_pages, &t);
	if (!f->ksm) {
		int err = errno;

		pr_err("cannot create the merge engine: %s", strerror(err));
		return -ENOMEM;
	}
	for (size_t i = 0; i < f->nr; i++) {
		struct guest *g = f->slots[i] ? f->slots[i]->g : NULL;

		if (g && fleet_register_guest(f, g)) {
			pr_err("cannot register %s with the merge engine", g->name);
			return -ENOMEM;
		}
	}
	return 0;
}

enum merge_mode fleet_merge_mode(struct fleet *f)
{
	return f->merge;
}
