/* lvstats.c - a domain's figures in libvirt's words: memory stats from the balloon,
 * typed parameters for CONNECT_GET_ALL_DOMAIN_STATS with the engine's sharing figures,
 * the host-KSM parameters of NODE_GET/SET_MEMORY_PARAMETERS mapped onto the engine, and
 * a disk's counters for DOMAIN_BLOCK_STATS from its virtio-blk device.
 *
 * The node parameters (libvirt names them after the host's KSM; see docs/libvirt.md):
 *   shm_pages_shared    pool pages in use (distinct merged contents)
 *   shm_pages_sharing   guest pages mapped onto pool pages, minus one per pool page
 *                       (how many pages merging saves, as KSM counts them)
 *   shm_pages_unshared  pages hashed and found unique
 *   shm_pages_volatile  pages written during the last pass
 *   shm_full_scans      engine passes
 *   shm_sleep_millisecs the engine's pause between passes (interval_ms)
 *   shm_pages_to_scan   pages hashed per pass at most: scan_rate x interval; 0 = no limit
 */
#define pr_fmt(fmt) "libvirt: " fmt
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ksm/ksm.h"
#include "lib/page.h"
#include "vmm/libvirt/lvfleet_internal.h"

/* virDomainMemoryStatTags */
enum {
	LV_MEM_SWAP_IN = 0,
	LV_MEM_SWAP_OUT = 1,
	LV_MEM_MAJOR_FAULT = 2,
	LV_MEM_MINOR_FAULT = 3,
	LV_MEM_UNUSED = 4,
	LV_MEM_AVAILABLE = 5,
	LV_MEM_ACTUAL_BALLOON = 6,
	LV_MEM_RSS = 7,
	LV_MEM_USABLE = 8,
	LV_MEM_LAST_UPDATE = 9,
	LV_MEM_DISK_CACHES = 10,
	LV_MEM_HUGETLB_PGALLOC = 11,
	LV_MEM_HUGETLB_PGFAIL = 12,
};

/* virtio-balloon statistics tag -> libvirt's tag, and whether it is in bytes. */
static const struct {
	int tag;
	bool bytes;
} balloon_tags[] = {
    {LV_MEM_SWAP_IN, true},	    {LV_MEM_SWAP_OUT, true},	{LV_MEM_MAJOR_FAULT, false},
    {LV_MEM_MINOR_FAULT, false},    {LV_MEM_UNUSED, true},	{LV_MEM_AVAILABLE, true},
    {LV_MEM_USABLE, true},	    {LV_MEM_DISK_CACHES, true}, {LV_MEM_HUGETLB_PGALLOC, false},
    {LV_MEM_HUGETLB_PGFAIL, false},
};

/* virDomainStatsTypes */
enum { LV_STATS_STATE = 1, LV_STATS_BALLOON = 4, LV_STATS_VCPU = 8, LV_STATS_MEMORY = 256 };

uint64_t lvstats_balloon_kib(struct lvfleet *lf, const struct lvdom *d)
{
	struct fleet_balloon_stats b;

	if (d->slot < 0 || fleet_balloon_stats(lf->fleet, (size_t) d->slot, false, &b))
		return 0;
	return b.actual_bytes / 1024;
}

/* Resident guest RAM in KiB, as the host's page tables say (mincore). */
static uint64_t rss_kib(const struct fleet_guest_info *gi)
{
	uint64_t pages = 0;

	for (unsigned r = 0; r < gi->nr_ram && r < 2; r++) {
		size_t n = gi->ram[r].size / PAGE_SIZE;
		unsigned char *vec = malloc(n ? n : 1);

		if (vec && !mincore((void *) (uintptr_t) gi->ram[r].hva, gi->ram[r].size, vec))
			for (size_t i = 0; i < n; i++)
				pages += vec[i] & 1;
		free(vec);
	}
	return pages * (PAGE_SIZE / 1024);
}

static void add_stat(struct lv_memstat *out, size_t max, size_t *n, int tag, uint64_t val)
{
	if (*n < max)
		out[(*n)++] = (struct lv_memstat){.tag = tag, .val = val};
}

int lvstats_memory(struct lvfleet *lf, struct lvdom *d, struct lv_memstat *out, size_t max)
{
	struct fleet_guest_info gi;
	struct fleet_balloon_stats b;
	size_t n = 0;
	bool balloon;

	if (fleet_info(lf->fleet, (size_t) d->slot, &gi))
		return 0;
	balloon = fleet_balloon_stats(lf->fleet, (size_t) d->slot, true, &b) == 0;
	for (unsigned t = 0; balloon && t < G_N_ELEMENTS(balloon_tags); t++)
		if (b.valid & (1u << t))
			add_stat(out, max, &n, balloon_tags[t].tag,
				 balloon_tags[t].bytes ? b.val[t] / 1024 : b.val[t]);
	add_stat(out, max, &n, LV_MEM_ACTUAL_BALLOON,
		 gi.mem_bytes / 1024 - (balloon ? b.actual_bytes / 1024 : 0));
	if (balloon && b.age_us != UINT64_MAX)
		add_stat(out, max, &n, LV_MEM_LAST_UPDATE,
			 (uint64_t) time(NULL) - b.age_us / 1000000);
	add_stat(out, max, &n, LV_MEM_RSS, rss_kib(&gi));
	return (int) n;
}

/* ---- Typed parameters ---- */

struct params {
	struct lv_param *p;
	size_t n, max;
};

static struct lv_param *param(struct params *ps, const char *field, int type)
{
	struct lv_param *p;

	if (!ps->p || ps->n == ps->max)
		return NULL;
	p = &ps->p[ps->n++];
	memset(p, 0, sizeof(*p));
	snprintf(p->field, sizeof(p->field), "%s", field);
	p->type = type;
	return p;
}

static void param_int(struct params *ps, const char *field, int32_t v)
{
	struct lv_param *p = param(ps, field, LV_PARAM_INT);

	if (p)
		p->v.i = v;
}

static void param_uint(struct params *ps, const char *field, uint32_t v)
{
	struct lv_param *p = param(ps, field, LV_PARAM_UINT);

	if (p)
		p->v.ui = v;
}

static void param_ull(struct params *ps, const char *field, uint64_t v)
{
	struct lv_param *p = param(ps, field, LV_PARAM_ULLONG);

	if (p)
		p->v.ul = v;
}

static void param_str(struct params *ps, const char *field, const char *v)
{
	struct lv_param *p = param(ps, field, LV_PARAM_STRING);

	if (p)
		snprintf(p->v.s, sizeof(p->v.s), "%s", v);
}

/* The engine's figures of slot @slot; false without the engine or the guest. */
static bool vm_stats(struct lvfleet *lf, int slot, struct ksm_vm_stats *out)
{
	size_t n = fleet_count(lf->fleet);
	struct ksm_vm_stats *vms = calloc(n ? n : 1, sizeof(*vms));
	struct ksm_stats s;
	bool ok = false;

	if (vms && slot >= 0 && fleet_merge_stats(lf->fleet, &s, vms, n) > slot &&
	    vms[slot].pages_total) {
		*out = vms[slot];
		ok = true;
	}
	free(vms);
	return ok;
}

/* Our sharing figures, in bytes (ksmctl report's columns). */
static void sharing_params(struct params *ps, const struct ksm_vm_stats *v, const char *group)
{
	uint64_t priv = v->pages_private * PAGE_SIZE;

	param_ull(ps, "ksmvmm.cost", v->cost_bytes);
	param_ull(ps, "ksmvmm.private", priv);
	param_ull(ps, "ksmvmm.shared", v->pages_merged * PAGE_SIZE);
	param_ull(ps, "ksmvmm.pool_share", v->cost_bytes > priv ? v->cost_bytes - priv : 0);
	param_ull(ps, "ksmvmm.saved", v->bytes_saved);
	param_ull(ps, "ksmvmm.zero", v->pages_zero * PAGE_SIZE);
	param_ull(ps, "ksmvmm.reported_free", v->pages_reported * PAGE_SIZE);
	param_ull(ps, "ksmvmm.cow_breaks", v->cow_breaks);
	param_ull(ps, "ksmvmm.merges", v->merges);
	param_str(ps, "ksmvmm.group", group);
}

int lvstats_domain(struct lvfleet *lf, struct lvdom *d, struct lv_dom *info, unsigned stats,
		   struct lv_param *out, size_t max)
{
	struct params ps = {.p = out, .max = max};
	struct fleet_guest_info gi;
	struct ksm_vm_stats v;
	bool all = stats == 0;

	if (all || (stats & LV_STATS_STATE)) {
		param_int(&ps, "state.state", info->state);
		param_int(&ps, "state.reason", info->reason);
	}
	if (all || (stats & LV_STATS_BALLOON)) {
		param_ull(&ps, "balloon.current", info->cur_kib);
		param_ull(&ps, "balloon.maximum", info->max_kib);
	}
	if (all || (stats & LV_STATS_VCPU)) {
		param_uint(&ps, "vcpu.current", info->vcpus);
		param_uint(&ps, "vcpu.maximum", info->vcpus);
	}
	if ((all || (stats & (LV_STATS_MEMORY | LV_STATS_BALLOON))) && d->slot >= 0 &&
	    fleet_info(lf->fleet, (size_t) d->slot, &gi) == 0) {
		param_ull(&ps, "balloon.rss", rss_kib(&gi));
		if (vm_stats(lf, d->slot, &v))
			sharing_params(&ps, &v, gi.group);
	}
	return (int) ps.n;
}

/* ---- Disks ---- */

/* The disks a domain was started with: its definition, or the options of `run`. */
static const struct opt_disk *dom_disks(struct lvfleet *lf, const struct lvdom *d, unsigned *n)
{
	*n = d->has_def ? d->def.nr_disks : lf->base.nr_disks;
	return d->has_def ? d->def.disks : lf->base.disks;
}

/* Which disk @path names: its target dev (vda, vdb, ... in table order, as the XML of
 * lvxml.c and libvirt's sorted targets have them) or its source file; -1 if none. */
static int disk_index(struct lvfleet *lf, const struct lvdom *d, const char *path)
{
	unsigned n;
	const struct opt_disk *disks = dom_disks(lf, d, &n);

	for (unsigned i = 0; i < n && i < 26; i++) {
		char dev[4] = {'v', 'd', (char) ('a' + i), 0};

		if (!strcmp(path, dev) || !strcmp(path, disks[i].path))
			return (int) i;
	}
	return -1;
}

static int64_t counter(const struct fleet_device *dev, const char *key)
{
	for (unsigned i = 0; i < dev->nr_counters && i < FLEET_DEV_COUNTERS; i++)
		if (!strcmp(dev->counters[i].key, key))
			return (int64_t) MIN(dev->counters[i].value, (uint64_t) INT64_MAX);
	return -1;
}

/* The virtio-blk device of disk @idx: the (@idx + 1)-th "blk" in the table. */
static const struct fleet_device *blk_device(const struct fleet_device *devs, int n, int idx)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(devs[i].kind, "blk") && idx-- == 0)
			return &devs[i];
	return NULL;
}

int lvstats_block(struct lvfleet *lf, struct lvdom *d, const char *path, struct lv_blkstat *out,
		  struct lv_err *e)
{
	struct fleet_device devs[FLEET_DEV_MAX];
	const struct fleet_device *dev;
	int idx = disk_index(lf, d, path), n;

	n = idx < 0 ? 0 : fleet_devices(lf->fleet, (size_t) d->slot, devs, FLEET_DEV_MAX);
	dev = n > 0 ? blk_device(devs, n, idx) : NULL;
	if (!dev) {
		e->code = LV_ERR_INVALID_ARG;
		snprintf(e->msg, sizeof(e->msg), "invalid argument: invalid path: %s", path);
		return -1;
	}
	out->rd_req = counter(dev, "reads");
	out->rd_bytes = counter(dev, "bytes_read");
	out->wr_req = counter(dev, "writes");
	out->wr_bytes = counter(dev, "bytes_written");
	out->flush_req = counter(dev, "flushes");
	out->errs = counter(dev, "errors");
	return 0;
}

/* ---- Node memory parameters ---- */

static uint64_t sysfs_ksm(const char *name)
{
	char path[128];
	unsigned long long v = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	fp = fopen(path, "r");
	if (fp) {
		if (fscanf(fp, "%llu", &v) != 1)
			v = 0;
		fclose(fp);
	}
	return v;
}

/* Without our engine the figures are the host KSM's own (what libvirt reports). */
static int node_from_host(struct params *ps)
{
	static const char *const names[] = {"pages_to_scan", "sleep_millisecs",	  "pages_shared",
					    "pages_sharing", "pages_unshared",	  "pages_volatile",
					    "full_scans",    "merge_across_nodes"};

	for (unsigned i = 0; i < G_N_ELEMENTS(names); i++) {
		char field[LV_PARAM_FIELD_MAX];
		uint64_t v = sysfs_ksm(names[i]);

		snprintf(field, sizeof(field), "shm_%s", names[i]);
		if (i < 2 || i == 7)
			param_uint(ps, field, (uint32_t) v);
		else
			param_ull(ps, field, v);
	}
	return (int) ps->n;
}

int lvstats_node_get(struct lvfleet *lf, struct lv_param *out, size_t max)
{
	struct params ps = {.p = out, .max = max};
	size_t n = fleet_count(lf->fleet);
	struct ksm_vm_stats *vms = calloc(n ? n : 1, sizeof(*vms));
	uint64_t merged = 0, unique = 0, vol = 0;
	struct ksm_stats s;
	int got = vms ? fleet_merge_stats(lf->fleet, &s, vms, n) : -ENOMEM;

	if (got < 0) {
		free(vms);
		return node_from_host(&ps);
	}
	for (int i = 0; i < got; i++) {
		merged += vms[i].pages_merged;
		unique += vms[i].pages_unique;
		vol += vms[i].pages_volatile;
	}
	free(vms);
	param_uint(&ps, "shm_pages_to_scan",
		   (uint32_t) MIN(s.tun.scan_rate * s.tun.interval_ms / 1000, UINT32_MAX));
	param_uint(&ps, "shm_sleep_millisecs", s.tun.interval_ms);
	param_ull(&ps, "shm_pages_shared", s.pool_pages);
	param_ull(&ps, "shm_pages_sharing", merged > s.pool_pages ? merged - s.pool_pages : 0);
	param_ull(&ps, "shm_pages_unshared", unique);
	param_ull(&ps, "shm_pages_volatile", vol);
	param_ull(&ps, "shm_full_scans", s.passes);
	param_uint(&ps, "shm_merge_across_nodes", 1);
	return (int) ps.n;
}

static bool param_u64(const struct lv_param *p, uint64_t *v)
{
	switch (p->type) {
	case LV_PARAM_UINT: *v = p->v.ui; return true;
	case LV_PARAM_ULLONG: *v = p->v.ul; return true;
	case LV_PARAM_INT: *v = (uint64_t) p->v.i; return p->v.i >= 0;
	case LV_PARAM_LLONG: *v = (uint64_t) p->v.l; return p->v.l >= 0;
	default: return false;
	}
}

/* Apply one parameter; 0, or -1 with @e. */
static int node_set_one(struct lvfleet *lf, const struct lv_param *p, uint32_t interval,
			struct lv_err *e)
{
	uint64_t v;
	int ret;

	e->code = LV_ERR_INVALID_ARG;
	if (!param_u64(p, &v)) {
		snprintf(e->msg, sizeof(e->msg), "invalid argument: %s must be a number", p->field);
		return -1;
	}
	if (!strcmp(p->field, "shm_sleep_millisecs"))
		ret = fleet_set_tunable(lf->fleet, "interval_ms", v);
	else if (!strcmp(p->field, "shm_pages_to_scan"))
		ret =
		    fleet_set_tunable(lf->fleet, "scan_rate", v * 1000 / (interval ? interval : 1));
	else if (!strcmp(p->field, "shm_merge_across_nodes"))
		ret = v == 1 ? 0 : -ERANGE;
	else
		ret = -ENOENT;
	if (ret == -ENOTSUP)
		snprintf(e->msg, sizeof(e->msg),
			 "this VMM does not run its merge engine (--merge=vmm): nothing to tune");
	else if (ret == -ENOENT)
		snprintf(e->msg, sizeof(e->msg),
			 "argument unsupported: parameter '%s' not supported", p->field);
	else if (ret)
		snprintf(e->msg, sizeof(e->msg), "invalid argument: %s: value out of range",
			 p->field);
	if (ret)
		e->code = ret == -ENOTSUP ? LV_ERR_NO_SUPPORT : LV_ERR_INVALID_ARG;
	return ret ? -1 : 0;
}

int lvstats_node_set(struct lvfleet *lf, const struct lv_param *in, size_t n, struct lv_err *e)
{
	struct lv_param cur[16];
	uint32_t interval = 0;
	int got = lvstats_node_get(lf, cur, G_N_ELEMENTS(cur));

	for (int i = 0; i < got; i++)
		if (!strcmp(cur[i].field, "shm_sleep_millisecs"))
			interval = cur[i].v.ui;
	/* The new sleep first: pages_to_scan is a rate over the interval in force. */
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		if (strcmp(in[i].field, "shm_sleep_millisecs"))
			continue;
		if (node_set_one(lf, &in[i], interval, e))
			return -1;
		if (param_u64(&in[i], &v))
			interval = (uint32_t) v;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(in[i].field, "shm_sleep_millisecs") &&
		    node_set_one(lf, &in[i], interval, e))
			return -1;
	e->code = 0;
	return 0;
}
