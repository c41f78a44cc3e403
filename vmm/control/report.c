/* report.c - the "report" reply: fair per-guest cost, sharing matrix, host check.
 *
 * A report is built on a worker thread from three sources: the engine's published
 * per-guest figures (a snapshot copy), the sharing matrix (ksm_matrix, under the engine
 * lock), and the host's accounting of this process (/proc/self/smaps_rollup). Guests
 * that ended are listed by name only: they have no figures, but their memory stays
 * mapped until the process exits, so the host comparison counts their cost too.
 * The schema is docs/report-schema.json; the figures are explained in docs/reports.md.
 */
#include "vmm/control/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ksm/ksm.h"
#include "lib/page.h"
#include "vmm/control/devices.h"
#include "vmm/control/history.h"
#include "vmm/control/protocol.h"
#include "vmm/control/protocol_json.h"
#include "vmm/control/stats.h"
#include "vmm/fleet.h"

#define MIB (1ull << 20)

/* Everything one report is made of. */
struct report {
	size_t n;		       /* guest slots */
	struct fleet_guest_info *info; /* n */
	struct ksm_vm_stats *vms;      /* n (engine order = fleet order) */
	struct ksm_stats engine;
	uint64_t *matrix; /* n x n */
	double *cow_rate; /* n: breaks per second */
	double fleet_cow_rate;
	bool *live;		  /* n: running or starting, with figures */
	struct fleet_device *dev; /* n x FLEET_DEV_MAX: each guest's devices */
	int *ndev;		  /* n: how many of them (0 if unknown) */
	struct control_report_host host;
	int host_err; /* 0, or why host is unknown */
};

/* ---- Host accounting ---- */

int control_report_read_host(struct control_report_host *out)
{
	static const char *const keys[] = {"Rss:", "Pss:", "Pss_Anon:", "Pss_Shmem:", "Pss_File:"};
	uint64_t *dst[] = {&out->rss, &out->pss, &out->pss_anon, &out->pss_shmem, &out->pss_file};
	unsigned found = 0;
	char line[256];
	FILE *fp = fopen("/proc/self/smaps_rollup", "re");

	memset(out, 0, sizeof(*out));
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		for (unsigned k = 0; k < G_N_ELEMENTS(keys); k++) {
			unsigned long long kb;

			if (!strncmp(line, keys[k], strlen(keys[k])) &&
			    sscanf(line + strlen(keys[k]), "%llu", &kb) == 1) {
				*dst[k] = kb * 1024;
				found |= 1u << k;
			}
		}
	}
	fclose(fp);
	return found == (1u << G_N_ELEMENTS(keys)) - 1 ? 0 : -ENODATA;
}

uint64_t control_report_tolerance(uint64_t guest_ram)
{
	return 16 * MIB + guest_ram / 32;
}

bool control_report_agrees(uint64_t pss, uint64_t accounted, uint64_t tolerance)
{
	return (pss > accounted ? pss - accounted : accounted - pss) <= tolerance;
}

/* ---- Gathering ---- */

static void report_free(struct report *r)
{
	free(r->info);
	free(r->vms);
	free(r->matrix);
	free(r->cow_rate);
	free(r->live);
	free(r->dev);
	free(r->ndev);
}

/* Whether guest @i has figures: it runs (or starts) and the engine knows it. */
static bool report_is_live(const struct fleet_guest_info *info, int got, size_t i)
{
	return (int) i < got && (info->state == GUEST_STARTING || info->state == GUEST_RUNNING);
}

/* Keep the guests of the slots in @present[0..r->n) only, in slot order (a dynamic fleet
 * has empty slots). */
static void report_compact(struct report *r, const bool *present)
{
	size_t n = r->n, k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = 0;

		if (!present[i])
			continue;
		for (size_t j = 0; j < n; j++)
			if (present[j])
				r->matrix[k * n + l++] = r->matrix[i * n + j];
		r->info[k] = r->info[i];
		r->vms[k] = r->vms[i];
		r->cow_rate[k] = r->cow_rate[i];
		r->live[k] = r->live[i];
		r->ndev[k] = r->ndev[i];
		memmove(&r->dev[k * FLEET_DEV_MAX], &r->dev[i * FLEET_DEV_MAX],
			FLEET_DEV_MAX * sizeof(*r->dev));
		k++;
	}
	/* The matrix rows were packed with stride n: repack them with stride k. */
	for (size_t a = 0; a < k; a++)
		memmove(&r->matrix[a * k], &r->matrix[a * n], k * sizeof(*r->matrix));
	r->n = k;
}

/* Fill @r for fleet @f. Returns 0 or -errno (-ENOTSUP without the engine). */
static int report_gather(struct report *r, struct fleet *f, struct history *h)
{
	size_t n = fleet_count(f), m = n ? n : 1;
	bool *present;
	int got;

	r->n = n;
	r->info = calloc(m, sizeof(*r->info));
	r->vms = calloc(m, sizeof(*r->vms));
	r->matrix = calloc(m * m, sizeof(*r->matrix));
	r->cow_rate = calloc(m, sizeof(*r->cow_rate));
	r->live = calloc(m, sizeof(*r->live));
	r->dev = calloc(m * FLEET_DEV_MAX, sizeof(*r->dev));
	r->ndev = calloc(m, sizeof(*r->ndev));
	if (!r->info || !r->vms || !r->matrix || !r->cow_rate || !r->live || !r->dev || !r->ndev)
		return -ENOMEM;
	got = fleet_merge_stats(f, &r->engine, r->vms, n);
	if (got < 0)
		return got;
	if (fleet_merge_matrix(f, r->matrix, n) < 0)
		return -ENOMEM;
	present = calloc(m, sizeof(*present));
	if (!present)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		present[i] = fleet_info(f, i, &r->info[i]) == 0;
		if (present[i])
			r->live[i] = report_is_live(&r->info[i], got, i);
		r->ndev[i] = fleet_devices(f, i, &r->dev[i * FLEET_DEV_MAX], FLEET_DEV_MAX);
		r->ndev[i] = CLAMP(r->ndev[i], 0, FLEET_DEV_MAX);
		if (h && history_cow_rate(h, i, REPORT_COW_WINDOW_S, &r->cow_rate[i]))
			r->cow_rate[i] = 0;
	}
	report_compact(r, present);
	free(present);
	if (!h || history_cow_rate(h, SIZE_MAX, REPORT_COW_WINDOW_S, &r->fleet_cow_rate))
		r->fleet_cow_rate = 0;
	r->host_err = control_report_read_host(&r->host);
	return 0;
}

/* ---- JSON helpers ---- */

/* ---- Guests and totals ---- */

/* Figures of one guest, or a sum of several (totals, groups). */
struct report_sum {
	uint64_t guests, mem_bytes, cost_bytes, private_pages, shared_pages, shared_cost_bytes;
	uint64_t zero_pages, empty_pages, saved_bytes, merges, cow_breaks;
	double cow_per_s;
};

static void report_sum_add(struct report_sum *t, const struct ksm_vm_stats *s, double cow)
{
	uint64_t priv = s->pages_private * PAGE_SIZE;

	t->guests++;
	t->mem_bytes += s->pages_total * PAGE_SIZE;
	t->cost_bytes += s->cost_bytes;
	t->private_pages += s->pages_private;
	t->shared_pages += s->pages_merged;
	t->shared_cost_bytes += s->cost_bytes > priv ? s->cost_bytes - priv : 0;
	t->zero_pages += s->pages_zero;
	t->empty_pages += s->pages_empty;
	t->saved_bytes += s->bytes_saved;
	t->merges += s->merges;
	t->cow_breaks += s->cow_breaks;
	t->cow_per_s += cow;
}

/* The members every guest, group and total carries. */
static void put_sum(JsonBuilder *b, const struct report_sum *t, uint64_t pool_bytes)
{
	proto_add_uint(b, "mem_bytes", t->mem_bytes);
	proto_add_uint(b, "cost_bytes", t->cost_bytes);
	proto_add_uint(b, "private_pages", t->private_pages);
	proto_add_uint(b, "shared_pages", t->shared_pages);
	proto_add_uint(b, "shared_cost_bytes", t->shared_cost_bytes);
	proto_add_double(b, "pool_share",
			 pool_bytes ? (double) t->shared_cost_bytes / pool_bytes : 0);
	proto_add_uint(b, "zero_pages", t->zero_pages);
	proto_add_uint(b, "empty_pages", t->empty_pages);
	proto_add_uint(b, "saved_bytes", t->saved_bytes);
	proto_add_uint(b, "merges", t->merges);
	proto_add_uint(b, "cow_breaks", t->cow_breaks);
	proto_add_double(b, "cow_per_s", t->cow_per_s);
}

static uint64_t report_pool_bytes(const struct report *r)
{
	return r->engine.pool_pages * PAGE_SIZE;
}

/* One device: kind, state and counters (the metrics' ksmvmm_device_<counter>). */
static void put_device(JsonBuilder *b, const struct fleet_device *d)
{
	json_builder_begin_object(b);
	proto_add_string(b, "kind", d->kind);
	proto_add_string(b, "state", d->state);
	json_builder_set_member_name(b, "counters");
	json_builder_begin_object(b);
	for (unsigned k = 0; k < d->nr_counters && k < FLEET_DEV_COUNTERS; k++) {
		if (proto_counter_key_ok(d->counters[k].key))
			proto_add_uint(b, d->counters[k].key, d->counters[k].value);
	}
	json_builder_end_object(b);
	json_builder_end_object(b);
}

/* Guest @i's reported pages, balloon and devices. */
static void put_guest_devices(JsonBuilder *b, const struct report *r, size_t i)
{
	const struct fleet_device *d = &r->dev[i * FLEET_DEV_MAX];
	struct control_devices_summary sum;

	control_devices_summarise(d, (size_t) r->ndev[i], &sum);
	proto_add_uint(b, "reported_pages", r->vms[i].pages_reported);
	proto_add_uint(b, "balloon_bytes", sum.balloon_bytes);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_object(b);
	proto_add_uint(b, "count", sum.count);
	proto_add_uint(b, "broken", sum.broken);
	json_builder_set_member_name(b, "list");
	json_builder_begin_array(b);
	for (int k = 0; k < r->ndev[i]; k++)
		put_device(b, &d[k]);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void put_guests(JsonBuilder *b, const struct report *r)
{
	json_builder_set_member_name(b, "guests");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n; i++) {
		struct report_sum one = {0};

		if (!r->live[i])
			continue;
		report_sum_add(&one, &r->vms[i], r->cow_rate[i]);
		json_builder_begin_object(b);
		proto_add_string(b, "name", r->info[i].name);
		proto_add_string(b, "uuid", r->info[i].uuid_str);
		proto_add_string(b, "group", r->info[i].group);
		proto_add_string(b, "state", guest_state_name(r->info[i].state));
		put_sum(b, &one, report_pool_bytes(r));
		put_guest_devices(b, r, i);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/* Guests that ended: name, state and why; no figures. */
static void put_ended(JsonBuilder *b, const struct report *r)
{
	json_builder_set_member_name(b, "ended");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n; i++) {
		if (r->live[i] || !r->info[i].name[0])
			continue;
		json_builder_begin_object(b);
		proto_add_string(b, "name", r->info[i].name);
		proto_add_string(b, "uuid", r->info[i].uuid_str);
		proto_add_string(b, "state", guest_state_name(r->info[i].state));
		proto_add_string(b, "reason", r->info[i].reason);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/* Sum of the live guests; *held gets the cost of the ended ones (still mapped). */
static void report_totals(const struct report *r, struct report_sum *t, uint64_t *held)
{
	memset(t, 0, sizeof(*t));
	*held = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->live[i])
			report_sum_add(t, &r->vms[i], r->cow_rate[i]);
		else if (i < r->n && r->vms[i].name[0])
			*held += r->vms[i].cost_bytes;
	}
	t->cow_per_s = r->fleet_cow_rate;
}

static void put_totals(JsonBuilder *b, const struct report *r, const struct report_sum *t,
		       uint64_t held)
{
	json_builder_set_member_name(b, "totals");
	json_builder_begin_object(b);
	proto_add_uint(b, "guests", t->guests);
	put_sum(b, t, report_pool_bytes(r));
	proto_add_uint(b, "pool_pages", r->engine.pool_pages);
	proto_add_uint(b, "pool_bytes", report_pool_bytes(r));
	proto_add_uint(b, "ended_guests", r->n - t->guests);
	proto_add_uint(b, "ended_cost_bytes", held);
	json_builder_end_object(b);
}

/* ---- Groups and matrices ---- */

/* Distinct group names of the live guests, in order of first appearance. */
static GPtrArray *report_groups(const struct report *r)
{
	GPtrArray *names = g_ptr_array_new();

	for (size_t i = 0; i < r->n; i++) {
		bool seen = false;

		for (guint k = 0; r->live[i] && k < names->len && !seen; k++)
			seen = !strcmp(names->pdata[k], r->info[i].group);
		if (r->live[i] && !seen)
			g_ptr_array_add(names, r->info[i].group);
	}
	return names;
}

static void put_group(JsonBuilder *b, const struct report *r, const char *name)
{
	struct report_sum t = {0};

	json_builder_begin_object(b);
	proto_add_string(b, "name", name);
	json_builder_set_member_name(b, "members");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n; i++) {
		if (!r->live[i] || strcmp(r->info[i].group, name))
			continue;
		json_builder_add_string_value(b, r->info[i].name);
		report_sum_add(&t, &r->vms[i], r->cow_rate[i]);
	}
	json_builder_end_array(b);
	proto_add_uint(b, "guests", t.guests);
	put_sum(b, &t, report_pool_bytes(r));
	/* Pool pages belong to one group, so the group's shares add up to its pages. */
	proto_add_uint(b, "pool_pages", (t.shared_cost_bytes + PAGE_SIZE / 2) / PAGE_SIZE);
	json_builder_end_object(b);
}

static void put_groups(JsonBuilder *b, const struct report *r, GPtrArray *groups)
{
	json_builder_set_member_name(b, "groups");
	json_builder_begin_array(b);
	for (guint k = 0; k < groups->len; k++)
		put_group(b, r, groups->pdata[k]);
	json_builder_end_array(b);
}

/* "matrix": {"guests": [...], "pages": [[...], ...]} over the live guests. */
static void put_matrix(JsonBuilder *b, const struct report *r)
{
	json_builder_set_member_name(b, "matrix");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "guests");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n; i++)
		if (r->live[i])
			json_builder_add_string_value(b, r->info[i].name);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "pages");
	json_builder_begin_array(b);
	for (size_t a = 0; a < r->n; a++) {
		if (!r->live[a])
			continue;
		json_builder_begin_array(b);
		for (size_t c = 0; c < r->n; c++)
			if (r->live[c])
				json_builder_add_int_value(b, (gint64) r->matrix[a * r->n + c]);
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* Pages shared by pairs of different guests, one of group @ga and one of @gb, summed over
 * the pairs (each pair once: within one group, a < c). */
static uint64_t report_group_pair(const struct report *r, const char *ga, const char *gb)
{
	bool same = !strcmp(ga, gb);
	uint64_t sum = 0;

	for (size_t a = 0; a < r->n; a++) {
		for (size_t c = same ? a + 1 : 0; c < r->n; c++) {
			if (a == c || !r->live[a] || !r->live[c] || strcmp(r->info[a].group, ga) ||
			    strcmp(r->info[c].group, gb))
				continue;
			sum += r->matrix[a * r->n + c];
		}
	}
	return sum;
}

static void put_group_matrix(JsonBuilder *b, const struct report *r, GPtrArray *groups)
{
	json_builder_set_member_name(b, "group_matrix");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "groups");
	json_builder_begin_array(b);
	for (guint k = 0; k < groups->len; k++)
		json_builder_add_string_value(b, groups->pdata[k]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "pages");
	json_builder_begin_array(b);
	for (guint x = 0; x < groups->len; x++) {
		json_builder_begin_array(b);
		for (guint y = 0; y < groups->len; y++)
			json_builder_add_int_value(
			    b, (gint64) report_group_pair(r, groups->pdata[x], groups->pdata[y]));
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* ---- Host and engine ---- */

static void put_host(JsonBuilder *b, const struct report *r, uint64_t accounted)
{
	uint64_t ram = 0, tol;

	for (size_t i = 0; i < r->n; i++)
		ram += r->info[i].mem_bytes;
	tol = control_report_tolerance(ram);
	json_builder_set_member_name(b, "host");
	if (r->host_err) {
		json_builder_add_null_value(b);
		return;
	}
	json_builder_begin_object(b);
	proto_add_string(b, "source", "/proc/self/smaps_rollup");
	proto_add_uint(b, "rss_bytes", r->host.rss);
	proto_add_uint(b, "pss_bytes", r->host.pss);
	proto_add_uint(b, "pss_anon_bytes", r->host.pss_anon);
	proto_add_uint(b, "pss_shmem_bytes", r->host.pss_shmem);
	proto_add_uint(b, "pss_file_bytes", r->host.pss_file);
	proto_add_uint(b, "accounted_bytes", accounted);
	proto_add_int(b, "difference_bytes", (int64_t) r->host.pss - (int64_t) accounted);
	proto_add_int(b, "pool_difference_bytes",
		      (int64_t) r->host.pss_shmem - (int64_t) report_pool_bytes(r));
	proto_add_uint(b, "tolerance_bytes", tol);
	proto_add_bool(b, "agrees", control_report_agrees(r->host.pss, accounted, tol));
	json_builder_end_object(b);
}

static void put_engine(JsonBuilder *b, const struct ksm_stats *s)
{
	json_builder_set_member_name(b, "engine");
	json_builder_begin_object(b);
	control_stats_add_engine(b, s);
	proto_add_uint(b, "stall_p99_us", s->stall_p99_us);
	proto_add_uint(b, "stall_max_us", s->stall_max_us);
	json_builder_end_object(b);
}

/* ---- The reply ---- */

static char *report_build(const struct report *r)
{
	JsonBuilder *b = json_builder_new();
	GPtrArray *groups = report_groups(r);
	struct report_sum t;
	uint64_t held;

	report_totals(r, &t, &held);
	json_builder_begin_object(b);
	proto_add_bool(b, "ok", true);
	proto_add_string(b, "schema", "ksmvmm-report");
	proto_add_uint(b, "version", REPORT_VERSION);
	proto_add_double(b, "time", (double) g_get_real_time() / 1e6);
	proto_add_string(b, "merge", "vmm");
	proto_add_uint(b, "page_size", PAGE_SIZE);
	proto_add_uint(b, "cow_window_s", REPORT_COW_WINDOW_S);
	put_guests(b, r);
	put_ended(b, r);
	put_totals(b, r, &t, held);
	put_groups(b, r, groups);
	put_matrix(b, r);
	put_group_matrix(b, r, groups);
	put_host(b, r, t.cost_bytes + held);
	put_engine(b, &r->engine);
	json_builder_end_object(b);
	g_ptr_array_free(groups, TRUE);
	return proto_render(b);
}

static const char *report_mode_name(enum merge_mode m)
{
	return m == MERGE_HOST ? "host" : "off";
}

char *control_report_reply(struct fleet *f, struct history *h)
{
	struct report r = {0};
	char *line;
	int ret = report_gather(&r, f, h);

	if (ret == -ENOTSUP)
		line = proto_reply_error("no per-guest figures: merging is \"%s\" (a report needs "
					 "the VMM's engine, --merge=vmm)",
					 report_mode_name(fleet_merge_mode(f)));
	else if (ret)
		line = proto_reply_error("cannot build the report: %s", g_strerror(-ret));
	else
		line = report_build(&r);
	report_free(&r);
	return line;
}

char *control_report_history_reply(struct fleet *f, struct history *h, const char *name)
{
	int i = name[0] ? fleet_find(f, name) : -1;

	if (fleet_merge_mode(f) != MERGE_VMM || !h)
		return proto_reply_error("no history: merging is \"%s\" (history needs the VMM's "
					 "engine, --merge=vmm)",
					 report_mode_name(fleet_merge_mode(f)));
	if (name[0] && i < 0)
		return proto_reply_error("no guest named \"%s\"", name);
	return history_reply(h, i < 0 ? SIZE_MAX : (size_t) i, name);
}
