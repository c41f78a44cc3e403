/* stats.c - the "stats" reply: merge figures per guest and for the engine (docs/stats.md). */
#include "vmm/control/stats.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "ksm/ksm.h"
#include "lib/page.h"
#include "vmm/control/protocol.h"
#include "vmm/control/protocol_json.h"
#include "vmm/fleet.h"
#include "vmm/options.h"

#define STATS_VERSION 1

static void add_ram(JsonBuilder *b, const struct fleet_guest_info *info)
{
	json_builder_set_member_name(b, "ram");
	json_builder_begin_array(b);
	for (unsigned r = 0; r < info->nr_ram; r++) {
		json_builder_begin_object(b);
		proto_add_uint(b, "gpa", info->ram[r].gpa);
		proto_add_uint(b, "hva", info->ram[r].hva);
		proto_add_uint(b, "size", info->ram[r].size);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void add_guest_figures(JsonBuilder *b, const struct ksm_vm_stats *s)
{
	proto_add_uint(b, "pages_total", s->pages_total);
	proto_add_uint(b, "pages_merged", s->pages_merged);
	proto_add_uint(b, "pages_zero", s->pages_zero);
	proto_add_uint(b, "pages_empty", s->pages_empty);
	proto_add_uint(b, "pages_reported", s->pages_reported);
	proto_add_uint(b, "reports", s->reports);
	proto_add_uint(b, "pages_unique", s->pages_unique);
	proto_add_uint(b, "pages_volatile", s->pages_volatile);
	proto_add_uint(b, "pages_unscanned", s->pages_unscanned);
	proto_add_uint(b, "merges", s->merges);
	proto_add_uint(b, "cow_breaks", s->cow_breaks);
	proto_add_uint(b, "bytes_saved", s->bytes_saved);
	proto_add_uint(b, "pages_private", s->pages_private);
	proto_add_uint(b, "cost_bytes", s->cost_bytes);
}

static void add_guest(JsonBuilder *b, const struct fleet_guest_info *info,
		      const struct ksm_vm_stats *s)
{
	json_builder_begin_object(b);
	proto_add_string(b, "name", info->name);
	proto_add_string(b, "uuid", info->uuid_str);
	proto_add_string(b, "group", info->group);
	proto_add_string(b, "state", guest_state_name(info->state));
	if (s)
		add_guest_figures(b, s);
	else
		proto_add_uint(b, "pages_total", info->mem_bytes / PAGE_SIZE);
	add_ram(b, info);
	json_builder_end_object(b);
}

const char *control_stats_budget_state(const struct ksm_stats *s)
{
	if (s->budget_full)
		return "full";
	return s->budget_isolated_paused ? "isolated-paused" : "ok";
}

static void add_tunables(JsonBuilder *b, const struct ksm_tunables *t)
{
	json_builder_set_member_name(b, "tunables");
	json_builder_begin_object(b);
	proto_add_uint(b, "interval_ms", t->interval_ms);
	proto_add_uint(b, "batch_pages", t->batch_pages);
	proto_add_uint(b, "max_stall_us", t->max_stall_us);
	proto_add_uint(b, "scan_rate", t->scan_rate);
	json_builder_end_object(b);
}

static void add_stall(JsonBuilder *b, const struct ksm_stats *s)
{
	json_builder_set_member_name(b, "stall_us");
	json_builder_begin_object(b);
	proto_add_uint(b, "p50", s->stall_p50_us);
	proto_add_uint(b, "p99", s->stall_p99_us);
	proto_add_uint(b, "max", s->stall_max_us);
	proto_add_uint(b, "count", s->stalls);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "pause_us");
	json_builder_begin_object(b);
	proto_add_uint(b, "p99", s->pause_p99_us);
	proto_add_uint(b, "max", s->pause_max_us);
	json_builder_end_object(b);
}

void control_stats_add_engine(JsonBuilder *b, const struct ksm_stats *s)
{
	proto_add_uint(b, "passes", s->passes);
	proto_add_uint(b, "pages_scanned", s->pages_scanned);
	proto_add_uint(b, "pages_hashed", s->pages_hashed);
	proto_add_uint(b, "merges", s->merges);
	proto_add_uint(b, "zero_released", s->zero_released);
	proto_add_uint(b, "cow_breaks", s->cow_breaks);
	proto_add_uint(b, "pool_pages", s->pool_pages);
	proto_add_uint(b, "pool_freed", s->pool_freed);
	proto_add_uint(b, "mappings_used", s->mappings_used);
	proto_add_uint(b, "mappings_limit", s->mappings_limit);
	proto_add_string(b, "budget_state", control_stats_budget_state(s));
	proto_add_double(b, "cpu_seconds", s->cpu_seconds);
}

static void add_engine(JsonBuilder *b, const struct ksm_stats *s)
{
	json_builder_set_member_name(b, "engine");
	json_builder_begin_object(b);
	control_stats_add_engine(b, s);
	proto_add_uint(b, "passes_held", s->passes_held);
	proto_add_uint(b, "compare_fail", s->compare_fail);
	proto_add_uint(b, "budget_skips", s->budget_skips);
	add_stall(b, s);
	proto_add_uint(b, "bytes_saved", s->bytes_saved);
	add_tunables(b, &s->tun);
	json_builder_end_object(b);
}

static const char *mode_name(enum merge_mode m)
{
	return m == MERGE_VMM ? "vmm" : m == MERGE_HOST ? "host" : "off";
}

char *control_stats_reply(struct fleet *f)
{
	size_t n = fleet_count(f);
	struct ksm_vm_stats *vms = calloc(n ? n : 1, sizeof(*vms));
	struct ksm_stats s;
	JsonBuilder *b;
	int got;

	if (!vms)
		return proto_reply_error("out of memory");
	got = fleet_merge_stats(f, &s, vms, n);
	b = proto_begin(true);
	proto_add_uint(b, "version", STATS_VERSION);
	proto_add_string(b, "merge", mode_name(fleet_merge_mode(f)));
	json_builder_set_member_name(b, "guests");
	json_builder_begin_array(b);
	for (size_t i = 0; i < n; i++) {
		struct fleet_guest_info info;

		if (fleet_info(f, i, &info) == 0)
			add_guest(b, &info, got > (int) i ? &vms[i] : NULL);
	}
	json_builder_end_array(b);
	if (got >= 0) {
		add_engine(b, &s);
	} else {
		json_builder_set_member_name(b, "engine");
		json_builder_add_null_value(b);
	}
	free(vms);
	return proto_finish(b);
}

static void add_probe(JsonBuilder *b, const char *name, int err, const struct fleet_probe *p)
{
	json_builder_begin_object(b);
	proto_add_string(b, "name", name);
	if (err) {
		proto_add_string(b, "error", strerror(-err));
	} else {
		proto_add_uint(b, "samples", p->samples);
		proto_add_uint(b, "p50_ns", p->p50_ns);
		proto_add_uint(b, "p99_ns", p->p99_ns);
		proto_add_uint(b, "max_ns", p->max_ns);
	}
	json_builder_end_object(b);
}

char *control_stats_probe_reply(struct fleet *f)
{
	JsonBuilder *b = proto_begin(true);

	json_builder_set_member_name(b, "probes");
	json_builder_begin_array(b);
	for (size_t i = 0; i < fleet_count(f); i++) {
		struct fleet_guest_info info;
		struct fleet_probe p;
		int err;

		if (fleet_info(f, i, &info) || !info.workload || info.state != GUEST_RUNNING)
			continue;
		err = fleet_probe_guest(f, i, CONTROL_PROBE_PAGES, 120000, &p);
		add_probe(b, info.name, err, &p);
	}
	json_builder_end_array(b);
	return proto_finish(b);
}

char *control_stats_watch_reply(struct fleet *f, size_t i, const char *name, uint32_t ms,
				uint32_t threshold_us, int *err)
{
	struct fleet_watch *w = g_new(struct fleet_watch, 1);
	JsonBuilder *b;

	*err = fleet_watch_guest(f, i, ms, threshold_us, w);
	if (*err) {
		g_free(w);
		return NULL;
	}
	b = proto_begin(true);
	proto_add_string(b, "name", name);
	proto_add_uint(b, "threshold_ns", w->threshold_ns);
	proto_add_uint(b, "watched_ns", w->watched_ns);
	proto_add_uint(b, "reads", w->reads);
	proto_add_uint(b, "stalls", w->stalls);
	proto_add_uint(b, "stalled_ns", w->stalled_ns);
	proto_add_uint(b, "p50_ns", w->p50_ns);
	proto_add_uint(b, "p99_ns", w->p99_ns);
	proto_add_uint(b, "max_ns", w->max_ns);
	json_builder_set_member_name(b, "stall_ns");
	json_builder_begin_array(b);
	for (size_t j = 0; j < w->nsamples; j++)
		json_builder_add_int_value(b, w->stall_ns[j]);
	json_builder_end_array(b);
	g_free(w);
	return proto_finish(b);
}

char *control_stats_set_reply(struct fleet *f, const char *key, uint64_t value)
{
	int ret = fleet_set_tunable(f, key, value);

	switch (ret) {
	case 0: return proto_reply_ok();
	case -ENOTSUP: return proto_reply_error("the merge engine is not running (--merge=vmm)");
	case -ENOENT:
		return proto_reply_error("unknown tunable \"%s\" (interval_ms, batch_pages, "
					 "max_stall_us, scan_rate)",
					 key);
	default:
		return proto_reply_error("value %llu out of range for %s",
					 (unsigned long long) value, key);
	}
}
