/* metrics.c - `ksmctl metrics`: the report in Prometheus text exposition format (0.0.4).
 *
 * Every family gets a HELP and a TYPE line, then its samples; label values are escaped
 * (backslash, double quote, newline). Counters end in _total. docs/reports.md lists them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "tools/ksmctl/views.h"

/* Start family @name of @type ("gauge" or "counter"). */
static void family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Print @v as a label value, escaped. */
static void label_value(const char *v)
{
	putchar('"');
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			printf("\\%c", *v);
		else if (*v == '\n')
			printf("\\n");
		else
			putchar(*v);
	}
	putchar('"');
}

static void sample(const char *name, const char *k1, const char *v1, const char *k2, const char *v2,
		   double value)
{
	printf("%s", name);
	if (k1) {
		printf("{%s=", k1);
		label_value(v1);
		if (k2) {
			printf(",%s=", k2);
			label_value(v2);
		}
		printf("}");
	}
	printf(" %.17g\n", value);
}

/* Which per-guest figure a family shows. */
struct guest_family {
	const char *name, *type, *help;
	double (*get)(const struct rd_figures *f);
};

static double g_mem(const struct rd_figures *f)
{
	return (double) f->mem_bytes;
}
static double g_cost(const struct rd_figures *f)
{
	return (double) f->cost_bytes;
}
static double g_priv(const struct rd_figures *f)
{
	return (double) f->private_pages;
}
static double g_shared(const struct rd_figures *f)
{
	return (double) f->shared_pages;
}
static double g_shcost(const struct rd_figures *f)
{
	return (double) f->shared_cost_bytes;
}
static double g_poolshare(const struct rd_figures *f)
{
	return f->pool_share;
}
static double g_zero(const struct rd_figures *f)
{
	return (double) f->zero_pages;
}
static double g_saved(const struct rd_figures *f)
{
	return (double) f->saved_bytes;
}
static double g_merges(const struct rd_figures *f)
{
	return (double) f->merges;
}
static double g_cow(const struct rd_figures *f)
{
	return (double) f->cow_breaks;
}
static double g_cowrate(const struct rd_figures *f)
{
	return f->cow_per_s;
}
static double g_reported(const struct rd_figures *f)
{
	return (double) f->reported_pages;
}
static double g_balloon(const struct rd_figures *f)
{
	return (double) f->balloon_bytes;
}
static double g_broken(const struct rd_figures *f)
{
	return (double) f->dev_broken;
}

static const struct guest_family guest_families[] = {
    {"ksmvmm_guest_memory_bytes", "gauge", "Guest RAM size.", g_mem},
    {"ksmvmm_guest_cost_bytes", "gauge",
     "What the guest really costs: private pages plus 1/k of each pool page shared by k.", g_cost},
    {"ksmvmm_guest_private_pages", "gauge", "Pages only this guest holds.", g_priv},
    {"ksmvmm_guest_shared_pages", "gauge", "Guest pages mapped onto pool pages.", g_shared},
    {"ksmvmm_guest_pool_share_bytes", "gauge", "The guest's 1/k shares of pool pages.", g_shcost},
    {"ksmvmm_guest_pool_share_ratio", "gauge", "The guest's fraction of the pool's cost.",
     g_poolshare},
    {"ksmvmm_guest_zero_pages", "gauge", "Zero pages released to the host.", g_zero},
    {"ksmvmm_guest_saved_bytes", "gauge",
     "Saved by merging: zero pages plus (k-1)/k of each page shared by k.", g_saved},
    {"ksmvmm_guest_merges_total", "counter", "Pages merged into this guest.", g_merges},
    {"ksmvmm_guest_cow_breaks_total", "counter", "Merged pages the guest wrote (copied).", g_cow},
    {"ksmvmm_guest_cow_breaks_per_second", "gauge",
     "Copy-on-write breaks per second over the report's window.", g_cowrate},
    {"ksmvmm_guest_pages_reported", "gauge",
     "Pages the guest gave back (free page reporting, balloon): no memory behind them.",
     g_reported},
    {"ksmvmm_guest_balloon_bytes", "gauge", "What the guest's balloon holds now.", g_balloon},
    {"ksmvmm_guest_devices_broken", "gauge", "The guest's devices in needs-reset or failed.",
     g_broken},
};

static void print_guest_families(const struct rd_report *r)
{
	for (size_t k = 0; k < sizeof(guest_families) / sizeof(guest_families[0]); k++) {
		const struct guest_family *gf = &guest_families[k];

		family(gf->name, gf->type, gf->help);
		for (size_t i = 0; i < r->nguests; i++)
			sample(gf->name, "guest", r->guests[i].name, "group", r->guests[i].group,
			       gf->get(&r->guests[i]));
	}
}

/* Every counter name some device of some guest has, once each, in order of appearance. */
static GPtrArray *device_counter_names(const struct rd_report *r)
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

/* The samples of ksmvmm_device_<@key>: one per device that has counter @key. */
static void print_device_family(const struct rd_report *r, const char *key)
{
	char *name = g_strdup_printf("ksmvmm_device_%s", key);

	family(name, "gauge", "A device counter, as the device counts it (ksmctl devices).");
	for (size_t i = 0; i < r->nguests; i++) {
		for (size_t d = 0; d < r->guests[i].ndevices; d++) {
			const struct rd_device *dev = &r->guests[i].devices[d];

			for (unsigned k = 0; k < dev->ncounters; k++) {
				if (strcmp(dev->counters[k].key, key))
					continue;
				printf("%s{guest=", name);
				label_value(r->guests[i].name);
				printf(",kind=");
				label_value(dev->kind);
				printf(",index=\"%zu\"} %llu\n", d,
				       (unsigned long long) dev->counters[k].value);
			}
		}
	}
	g_free(name);
}

static void print_devices(const struct rd_report *r)
{
	GPtrArray *names = device_counter_names(r);

	for (guint n = 0; n < names->len; n++)
		print_device_family(r, names->pdata[n]);
	g_ptr_array_free(names, TRUE);
}

static void print_matrix(const struct rd_report *r)
{
	const struct rd_matrix *m = &r->matrix;

	family("ksmvmm_sharing_pages", "gauge",
	       "Pool pages mapped by both guests (guest = peer: pool pages the guest maps).");
	for (size_t a = 0; a < m->n; a++)
		for (size_t c = 0; c < m->n; c++)
			sample("ksmvmm_sharing_pages", "guest", m->names[a], "peer", m->names[c],
			       (double) m->cells[a * m->n + c]);
}

static void print_groups(const struct rd_report *r)
{
	family("ksmvmm_group_cost_bytes", "gauge", "Cost of the group's running guests.");
	for (size_t i = 0; i < r->ngroups; i++)
		sample("ksmvmm_group_cost_bytes", "group", r->groups[i].name, NULL, NULL,
		       (double) r->groups[i].cost_bytes);
	family("ksmvmm_group_saved_bytes", "gauge", "Saved by the group's running guests.");
	for (size_t i = 0; i < r->ngroups; i++)
		sample("ksmvmm_group_saved_bytes", "group", r->groups[i].name, NULL, NULL,
		       (double) r->groups[i].saved_bytes);
	family("ksmvmm_group_pool_pages", "gauge", "Pool pages serving the group.");
	for (size_t i = 0; i < r->ngroups; i++)
		sample("ksmvmm_group_pool_pages", "group", r->groups[i].name, NULL, NULL,
		       (double) r->groups[i].pool_pages);
}

/* One unlabelled sample with its HELP and TYPE. */
static void single(const char *name, const char *type, const char *help, double v)
{
	family(name, type, help);
	sample(name, NULL, NULL, NULL, NULL, v);
}

static void print_fleet(const struct rd_report *r)
{
	family("ksmvmm_fleet_guests", "gauge", "Guests by state: running, or ended.");
	sample("ksmvmm_fleet_guests", "state", "running", NULL, NULL, (double) r->nguests);
	sample("ksmvmm_fleet_guests", "state", "ended", NULL, NULL, (double) r->ended_guests);
	single("ksmvmm_fleet_cost_bytes", "gauge", "Sum of the running guests' cost.",
	       (double) r->totals.cost_bytes);
	single("ksmvmm_fleet_saved_bytes", "gauge", "Sum of the running guests' saving.",
	       (double) r->totals.saved_bytes);
	single("ksmvmm_fleet_ended_cost_bytes", "gauge",
	       "Cost of ended guests whose memory is still mapped.", (double) r->ended_cost_bytes);
	single("ksmvmm_fleet_cow_breaks_per_second", "gauge",
	       "Copy-on-write breaks per second, whole fleet.", r->totals.cow_per_s);
}

static void print_host(const struct rd_host *h)
{
	if (!h->known)
		return;
	single("ksmvmm_host_rss_bytes", "gauge", "Rss of the ksmvmm process (smaps_rollup).",
	       (double) h->rss);
	single("ksmvmm_host_pss_bytes", "gauge", "Pss of the ksmvmm process (smaps_rollup).",
	       (double) h->pss);
	single("ksmvmm_host_pss_anon_bytes", "gauge", "Pss_Anon of the ksmvmm process.",
	       (double) h->pss_anon);
	single("ksmvmm_host_pss_shmem_bytes", "gauge", "Pss_Shmem of the ksmvmm process (pool).",
	       (double) h->pss_shmem);
	single("ksmvmm_host_pss_file_bytes", "gauge", "Pss_File of the ksmvmm process (code).",
	       (double) h->pss_file);
	single("ksmvmm_host_agrees", "gauge",
	       "1 if Pss agrees with the fleet's accounted cost within the tolerance.",
	       h->agrees ? 1 : 0);
}

static void print_engine(const struct rd_engine *e)
{
	single("ksmvmm_engine_passes_total", "counter", "Scanner passes.", (double) e->passes);
	single("ksmvmm_engine_pages_hashed_total", "counter", "Pages hashed.",
	       (double) e->pages_hashed);
	single("ksmvmm_engine_merges_total", "counter", "Pages merged.", (double) e->merges);
	single("ksmvmm_engine_zero_released_total", "counter", "Zero pages released.",
	       (double) e->zero_released);
	single("ksmvmm_engine_cow_breaks_total", "counter", "Copy-on-write breaks seen.",
	       (double) e->cow_breaks);
	single("ksmvmm_engine_cpu_seconds_total", "counter", "CPU time of the engine thread.",
	       e->cpu_seconds);
	single("ksmvmm_engine_pool_pages", "gauge", "Canonical pages in the pool.",
	       (double) e->pool_pages);
	single("ksmvmm_engine_mappings", "gauge", "Mappings (VMAs) of the process.",
	       (double) e->mappings_used);
	single("ksmvmm_engine_mappings_limit", "gauge", "vm.max_map_count.",
	       (double) e->mappings_limit);
	single("ksmvmm_engine_stall_p99_seconds", "gauge", "99th percentile merge stall.",
	       (double) e->stall_p99_us / 1e6);
}

int view_metrics(const struct view_args *a)
{
	struct rd_report r;
	int ret = rd_fetch(a->control, &r, NULL);

	if (ret)
		return ret;
	single("ksmvmm_up", "gauge", "1: the VMM answered.", 1);
	print_guest_families(&r);
	print_devices(&r);
	print_matrix(&r);
	print_groups(&r);
	print_fleet(&r);
	print_host(&r.host);
	print_engine(&r.engine);
	rd_report_free(&r);
	return KSMCTL_OK;
}
