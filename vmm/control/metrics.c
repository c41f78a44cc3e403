/* metrics.c - a report as Prometheus text: per-guest, device, sharing, group, fleet, host
 * and engine families (docs/reports.md lists them). */
#include "vmm/control/metrics.h"

#include <stdbool.h>
#include <string.h>

/* One label of a sample; a NULL key ends a list. */
struct metrics_label {
	const char *key, *value;
};

/* Start family @name of @type ("gauge" or "counter"). */
static void metrics_family(GString *out, const char *name, const char *type, const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_label_value(GString *out, const char *v)
{
	g_string_append_c(out, '"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			g_string_append_printf(out, "\\%c", *v);
		else if (*v == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *v);
	}
	g_string_append_c(out, '"');
}

/* One sample of @name with the labels of @l (up to a NULL key; @l may be NULL). */
static void metrics_sample(GString *out, const char *name, const struct metrics_label *l,
			   double value)
{
	g_string_append(out, name);
	for (size_t k = 0; l && l[k].key; k++) {
		g_string_append_printf(out, "%c%s=", k ? ',' : '{', l[k].key);
		metrics_label_value(out, l[k].value);
	}
	if (l && l[0].key)
		g_string_append_c(out, '}');
	g_string_append_printf(out, " %.17g\n", value);
}

/* One sample with a single label @key=@value. */
static void metrics_sample1(GString *out, const char *name, const char *key, const char *value,
			    double v)
{
	const struct metrics_label l[] = {{key, value}, {NULL, NULL}};

	metrics_sample(out, name, l, v);
}

/* One unlabelled sample with its HELP and TYPE. */
static void metrics_single(GString *out, const char *name, const char *type, const char *help,
			   double v)
{
	metrics_family(out, name, type, help);
	metrics_sample(out, name, NULL, v);
}

/* ---- Per guest ---- */

/* Which per-guest figure a family shows. */
struct metrics_guest_family {
	const char *name, *type, *help;
	double (*get)(const struct rd_figures *f);
};

static double metrics_mem(const struct rd_figures *f)
{
	return (double) f->mem_bytes;
}
static double metrics_cost(const struct rd_figures *f)
{
	return (double) f->cost_bytes;
}
static double metrics_priv(const struct rd_figures *f)
{
	return (double) f->private_pages;
}
static double metrics_shared(const struct rd_figures *f)
{
	return (double) f->shared_pages;
}
static double metrics_shcost(const struct rd_figures *f)
{
	return (double) f->shared_cost_bytes;
}
static double metrics_poolshare(const struct rd_figures *f)
{
	return f->pool_share;
}
static double metrics_zero(const struct rd_figures *f)
{
	return (double) f->zero_pages;
}
static double metrics_saved(const struct rd_figures *f)
{
	return (double) f->saved_bytes;
}
static double metrics_merges(const struct rd_figures *f)
{
	return (double) f->merges;
}
static double metrics_cow(const struct rd_figures *f)
{
	return (double) f->cow_breaks;
}
static double metrics_cowrate(const struct rd_figures *f)
{
	return f->cow_per_s;
}
static double metrics_reported(const struct rd_figures *f)
{
	return (double) f->reported_pages;
}
static double metrics_balloon(const struct rd_figures *f)
{
	return (double) f->balloon_bytes;
}
static double metrics_broken(const struct rd_figures *f)
{
	return (double) f->dev_broken;
}

static const struct metrics_guest_family metrics_guest_families[] = {
    {"ksmvmm_guest_memory_bytes", "gauge", "Guest RAM size.", metrics_mem},
    {"ksmvmm_guest_cost_bytes", "gauge",
     "What the guest really costs: private pages plus 1/k of each pool page shared by k.",
     metrics_cost},
    {"ksmvmm_guest_private_pages", "gauge", "Pages only this guest holds.", metrics_priv},
    {"ksmvmm_guest_shared_pages", "gauge", "Guest pages mapped onto pool pages.", metrics_shared},
    {"ksmvmm_guest_pool_share_bytes", "gauge", "The guest's 1/k shares of pool pages.",
     metrics_shcost},
    {"ksmvmm_guest_pool_share_ratio", "gauge", "The guest's fraction of the pool's cost.",
     metrics_poolshare},
    {"ksmvmm_guest_zero_pages", "gauge", "Zero pages released to the host.", metrics_zero},
    {"ksmvmm_guest_saved_bytes", "gauge",
     "Saved by merging: zero pages plus (k-1)/k of each page shared by k.", metrics_saved},
    {"ksmvmm_guest_merges_total", "counter", "Pages merged into this guest.", metrics_merges},
    {"ksmvmm_guest_cow_breaks_total", "counter", "Merged pages the guest wrote (copied).",
     metrics_cow},
    {"ksmvmm_guest_cow_breaks_per_second", "gauge",
     "Copy-on-write breaks per second over the report's window.", metrics_cowrate},
    {"ksmvmm_guest_pages_reported", "gauge",
     "Pages the guest gave back (free page reporting, balloon): no memory behind them.",
     metrics_reported},
    {"ksmvmm_guest_balloon_bytes", "gauge", "What the guest's balloon holds now.", metrics_balloon},
    {"ksmvmm_guest_devices_broken", "gauge", "The guest's devices in needs-reset or failed.",
     metrics_broken},
};

static void metrics_guests(GString *out, const struct rd_report *r)
{
	for (size_t k = 0; k < G_N_ELEMENTS(metrics_guest_families); k++) {
		const struct metrics_guest_family *gf = &metrics_guest_families[k];

		metrics_family(out, gf->name, gf->type, gf->help);
		for (size_t i = 0; i < r->nguests; i++) {
			const struct rd_figures *g = &r->guests[i];
			const struct metrics_label l[] = {{"domain", g->name},
							  {"uuid", g->uuid},
							  {"group", g->group},
							  {NULL, NULL}};

			metrics_sample(out, gf->name, l, gf->get(g));
		}
	}
}

/* ---- Devices ---- */

/* Every counter name some device of some guest has, once each, in order of appearance. */
static GPtrArray *metrics_counter_names(const struct rd_report *r)
{
	GPtrArray *names = g_ptr_array_new();

	for (size_t i = 0; i < r->nguests; i++) {
		for (size_t d = 0; d < r->guests[i].ndevices; d++) {
			const struct rd_device *dev = &r->guests[i].devices[d];

			for (unsigned k = 0; k < dev->ncounters; k++) {
				bool seen = false;

				for (guint n = 0; n < names->len && !seen; n++)
					seen = !strcmp(names->pdata[n], dev->counters[k].key);
				if (!seen)
					g_ptr_array_add(names, (gpointer) dev->counters[k].key);
			}
		}
	}
	return names;
}

/* Device @d of guest @g: its counter @key, if it has one. */
static void metrics_device_sample(GString *out, const char *name, const struct rd_figures *g,
				  size_t d, const char *key)
{
	const struct rd_device *dev = &g->devices[d];
	char index[24];
	const struct metrics_label l[] = {{"domain", g->name},
					  {"uuid", g->uuid},
					  {"kind", dev->kind},
					  {"index", index},
					  {NULL, NULL}};

	g_snprintf(index, sizeof(index), "%zu", d);
	for (unsigned k = 0; k < dev->ncounters; k++)
		if (!strcmp(dev->counters[k].key, key))
			metrics_sample(out, name, l, (double) dev->counters[k].value);
}

/* The samples of ksmvmm_device_<@key>: one per device that has counter @key. */
static void metrics_device_family(GString *out, const struct rd_report *r, const char *key)
{
	char *name = g_strdup_printf("ksmvmm_device_%s", key);

	metrics_family(out, name, "gauge",
		       "A device counter, as the device counts it (ksmctl devices).");
	for (size_t i = 0; i < r->nguests; i++)
		for (size_t d = 0; d < r->guests[i].ndevices; d++)
			metrics_device_sample(out, name, &r->guests[i], d, key);
	g_free(name);
}

static void metrics_devices(GString *out, const struct rd_report *r)
{
	GPtrArray *names = metrics_counter_names(r);

	for (guint n = 0; n < names->len; n++)
		metrics_device_family(out, r, names->pdata[n]);
	g_ptr_array_free(names, TRUE);
}

/* ---- Sharing, groups, fleet, host, engine ---- */

/* The UUID of the running guest called @name ("" if none is: names are unique). */
static const char *metrics_uuid_of(const struct rd_report *r, const char *name)
{
	for (size_t i = 0; i < r->nguests; i++)
		if (!strcmp(r->guests[i].name, name))
			return r->guests[i].uuid;
	return "";
}

static void metrics_matrix(GString *out, const struct rd_report *r)
{
	const struct rd_matrix *m = &r->matrix;
	const char **uuids = g_new0(const char *, m->n + 1);

	for (size_t a = 0; a < m->n; a++)
		uuids[a] = metrics_uuid_of(r, m->names[a]);
	metrics_family(out, "ksmvmm_sharing_pages", "gauge",
		       "Pool pages mapped by both guests (domain = peer_domain: pool pages the "
		       "guest maps).");
	for (size_t a = 0; a < m->n; a++) {
		for (size_t c = 0; c < m->n; c++) {
			const struct metrics_label l[] = {{"domain", m->names[a]},
							  {"uuid", uuids[a]},
							  {"peer_domain", m->names[c]},
							  {"peer_uuid", uuids[c]},
							  {NULL, NULL}};

			metrics_sample(out, "ksmvmm_sharing_pages", l,
				       (double) m->cells[a * m->n + c]);
		}
	}
	g_free(uuids);
}

static double metrics_pool(const struct rd_figures *f)
{
	return (double) f->pool_pages;
}

/* Family @name: one sample per group, its figure @get. */
static void metrics_group_family(GString *out, const struct rd_report *r, const char *name,
				 const char *help, double (*get)(const struct rd_figures *f))
{
	metrics_family(out, name, "gauge", help);
	for (size_t i = 0; i < r->ngroups; i++)
		metrics_sample1(out, name, "group", r->groups[i].name, get(&r->groups[i]));
}

static void metrics_groups(GString *out, const struct rd_report *r)
{
	metrics_group_family(out, r, "ksmvmm_group_cost_bytes",
			     "Cost of the group's running guests.", metrics_cost);
	metrics_group_family(out, r, "ksmvmm_group_saved_bytes",
			     "Saved by the group's running guests.", metrics_saved);
	metrics_group_family(out, r, "ksmvmm_group_pool_pages", "Pool pages serving the group.",
			     metrics_pool);
}

static void metrics_fleet(GString *out, const struct rd_report *r)
{
	metrics_family(out, "ksmvmm_fleet_guests", "gauge", "Guests by state: running, or ended.");
	metrics_sample1(out, "ksmvmm_fleet_guests", "state", "running", (double) r->nguests);
	metrics_sample1(out, "ksmvmm_fleet_guests", "state", "ended", (double) r->ended_guests);
	metrics_single(out, "ksmvmm_fleet_cost_bytes", "gauge", "Sum of the running guests' cost.",
		       (double) r->totals.cost_bytes);
	metrics_single(out, "ksmvmm_fleet_saved_bytes", "gauge",
		       "Sum of the running guests' saving.", (double) r->totals.saved_bytes);
	metrics_single(out, "ksmvmm_fleet_ended_cost_bytes", "gauge",
		       "Cost of ended guests whose memory is still mapped.",
		       (double) r->ended_cost_bytes);
	metrics_single(out, "ksmvmm_fleet_cow_breaks_per_second", "gauge",
		       "Copy-on-write breaks per second, whole fleet.", r->totals.cow_per_s);
}

static void metrics_host(GString *out, const struct rd_host *h)
{
	if (!h->known)
		return;
	metrics_single(out, "ksmvmm_host_rss_bytes", "gauge",
		       "Rss of the ksmvmm process (smaps_rollup).", (double) h->rss);
	metrics_single(out, "ksmvmm_host_pss_bytes", "gauge",
		       "Pss of the ksmvmm process (smaps_rollup).", (double) h->pss);
	metrics_single(out, "ksmvmm_host_pss_anon_bytes", "gauge",
		       "Pss_Anon of the ksmvmm process.", (double) h->pss_anon);
	metrics_single(out, "ksmvmm_host_pss_shmem_bytes", "gauge",
		       "Pss_Shmem of the ksmvmm process (pool).", (double) h->pss_shmem);
	metrics_single(out, "ksmvmm_host_pss_file_bytes", "gauge",
		       "Pss_File of the ksmvmm process (code).", (double) h->pss_file);
	metrics_single(out, "ksmvmm_host_agrees", "gauge",
		       "1 if Pss agrees with the fleet's accounted cost within the tolerance.",
		       h->agrees ? 1 : 0);
}

static void metrics_engine(GString *out, const struct rd_engine *e)
{
	metrics_single(out, "ksmvmm_engine_passes_total", "counter", "Scanner passes.",
		       (double) e->passes);
	metrics_single(out, "ksmvmm_engine_pages_hashed_total", "counter", "Pages hashed.",
		       (double) e->pages_hashed);
	metrics_single(out, "ksmvmm_engine_merges_total", "counter", "Pages merged.",
		       (double) e->merges);
	metrics_single(out, "ksmvmm_engine_zero_released_total", "counter", "Zero pages released.",
		       (double) e->zero_released);
	metrics_single(out, "ksmvmm_engine_cow_breaks_total", "counter",
		       "Copy-on-write breaks seen.", (double) e->cow_breaks);
	metrics_single(out, "ksmvmm_engine_cpu_seconds_total", "counter",
		       "CPU time of the engine thread.", e->cpu_seconds);
	metrics_single(out, "ksmvmm_engine_pool_pages", "gauge", "Canonical pages in the pool.",
		       (double) e->pool_pages);
	metrics_single(out, "ksmvmm_engine_mappings", "gauge", "Mappings (VMAs) of the process.",
		       (double) e->mappings_used);
	metrics_single(out, "ksmvmm_engine_mappings_limit", "gauge", "vm.max_map_count.",
		       (double) e->mappings_limit);
	metrics_single(out, "ksmvmm_engine_stall_p99_seconds", "gauge",
		       "99th percentile merge stall.", (double) e->stall_p99_us / 1e6);
}

void metrics_format(const struct rd_report *r, GString *out)
{
	metrics_single(out, "ksmvmm_up", "gauge", "1: the VMM answered.", 1);
	metrics_guests(out, r);
	metrics_devices(out, r);
	metrics_matrix(out, r);
	metrics_groups(out, r);
	metrics_fleet(out, r);
	metrics_host(out, &r->host);
	metrics_engine(out, &r->engine);
}
