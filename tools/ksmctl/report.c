/* report.c - `ksmctl report`: per-guest cost and saving, groups, sharing matrix, host check. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "lib/page.h"
#include "tools/ksmctl/views.h"
#include "vmm/control/protocol.h"

#define REPORT_TIMEOUT_MS 30000
#define MATRIX_MAX_PRINTED 16 /* wider matrices are left to --json and the picture */

static void print_row(const struct rd_figures *f, const char *name, const char *uuid,
		      const char *group, const char *state)
{
	double unmerged = (double) rd_unmerged(f);

	printf("%-10s %-36s %-8s %-8s %8.1f %8.1f %8.1f %9llu %8.1f %5.1f%% %8llu %8.1f %5.1f%% "
	       "%7.1f\n",
	       name, uuid, group, state, rd_mib(f->mem_bytes), rd_mib(f->cost_bytes),
	       rd_mib(f->private_pages * PAGE_SIZE), (unsigned long long) f->shared_pages,
	       rd_mib(f->shared_cost_bytes), 100.0 * f->pool_share,
	       (unsigned long long) f->zero_pages, rd_mib(f->saved_bytes),
	       rd_pct((double) f->saved_bytes, unmerged), f->cow_per_s);
}

void view_print_guests(const struct rd_report *r)
{
	printf("%-10s %-36s %-8s %-8s %8s %8s %8s %9s %8s %6s %8s %8s %6s %7s\n", "GUEST", "UUID",
	       "GROUP", "STATE", "RAM", "COST", "PRIVATE", "SHARED", "POOLSHR", "POOL%", "ZERO",
	       "SAVED", "SAVED%", "COW/s");
	printf("%-10s %-36s %-8s %-8s %8s %8s %8s %9s %8s %6s %8s %8s %6s %7s\n", "", "", "", "",
	       "MiB", "MiB", "MiB", "pages", "MiB", "", "pages", "MiB", "", "");
	for (size_t i = 0; i < r->nguests; i++)
		print_row(&r->guests[i], r->guests[i].name, r->guests[i].uuid, r->guests[i].group,
			  r->guests[i].state);
	if (!r->nguests)
		printf("(no running guest)\n");
	print_row(&r->totals, "TOTAL", "", "", "");
	for (size_t i = 0; i < r->nended; i++)
		printf("%-10s %-36s %-8s %-8s ended, no figures: %s\n", r->ended[i].name,
		       r->ended[i].uuid, "", r->ended[i].state,
		       r->ended[i].reason[0] ? r->ended[i].reason : "-");
}

/* The kinds of a guest's devices in table order, e.g. "uart workload rng blk blk". */
static void print_kinds(const struct rd_figures *g)
{
	for (size_t d = 0; d < g->ndevices; d++)
		printf("%s%s", d ? " " : "", g->devices[d].kind);
	printf("%s\n", g->ndevices ? "" : "-");
}

/* Per guest: its balloon, the pages it reported free, and its devices. */
static void print_guest_devices(const struct rd_report *r)
{
	printf("\ngiven back and devices:\n%-10s %10s %10s %7s %6s %s\n", "GUEST", "BALLOON",
	       "REPORTED", "DEVICES", "BROKEN", "KINDS");
	for (size_t i = 0; i < r->nguests; i++) {
		const struct rd_figures *g = &r->guests[i];

		printf("%-10s %9.1fM %10llu %7u %6u ", g->name, rd_mib(g->balloon_bytes),
		       (unsigned long long) g->reported_pages, g->dev_count, g->dev_broken);
		print_kinds(g);
	}
}

static void print_groups(const struct rd_report *r)
{
	printf("\nsharing groups:\n%-10s %6s %8s %8s %8s %8s\n", "GROUP", "GUESTS", "COST", "POOL",
	       "SAVED", "SAVED%");
	for (size_t i = 0; i < r->ngroups; i++) {
		const struct rd_figures *g = &r->groups[i];

		printf("%-10s %6llu %7.1fM %7.1fM %7.1fM %7.1f%%\n", g->name,
		       (unsigned long long) g->guests, rd_mib(g->cost_bytes),
		       rd_mib(g->pool_pages * PAGE_SIZE), rd_mib(g->saved_bytes),
		       rd_pct((double) g->saved_bytes, (double) rd_unmerged(g)));
	}
}

static void print_matrix(const struct rd_matrix *m, const char *title)
{
	printf("\n%s\n%-10s", title, "");
	for (size_t c = 0; c < m->n; c++)
		printf(" %9.9s", m->names[c]);
	printf("\n");
	for (size_t a = 0; a < m->n; a++) {
		printf("%-10.10s", m->names[a]);
		for (size_t c = 0; c < m->n; c++)
			printf(" %9llu", (unsigned long long) m->cells[a * m->n + c]);
		printf("\n");
	}
}

static void print_host(const struct rd_report *r)
{
	const struct rd_host *h = &r->host;

	printf("\nhost accounting of the ksmvmm process (/proc/PID/smaps_rollup):\n");
	if (!h->known) {
		printf("  not available (the VMM could not read smaps_rollup)\n");
		return;
	}
	printf("  Pss %.1f MiB = anon %.1f + shmem (pool) %.1f + file (code) %.1f; Rss %.1f MiB\n",
	       rd_mib(h->pss), rd_mib(h->pss_anon), rd_mib(h->pss_shmem), rd_mib(h->pss_file),
	       rd_mib(h->rss));
	printf("  fleet cost %.1f MiB (running guests) + %.1f MiB (ended guests, still mapped)"
	       " = %.1f MiB\n",
	       rd_mib(r->totals.cost_bytes), rd_mib(r->ended_cost_bytes), rd_mib(h->accounted));
	printf("  Pss - fleet cost = %+.1f MiB (the VMM's own memory); tolerance %.1f MiB: %s\n",
	       (double) h->difference / (1 << 20), rd_mib(h->tolerance),
	       h->agrees ? "agrees" : "DOES NOT AGREE");
	printf("  Pss_Shmem - pool = %+.1f MiB\n", (double) h->pool_difference / (1 << 20));
}

static void print_engine(const struct rd_engine *e)
{
	printf("\nengine: %llu passes, %llu merges, %llu zero pages released, %llu copy-on-write"
	       " breaks, CPU %.2f s\n",
	       (unsigned long long) e->passes, (unsigned long long) e->merges,
	       (unsigned long long) e->zero_released, (unsigned long long) e->cow_breaks,
	       e->cpu_seconds);
	printf("        mappings %llu of %llu (budget %s), merge stall p99 %llu us, max %llu us\n",
	       (unsigned long long) e->mappings_used, (unsigned long long) e->mappings_limit,
	       e->budget_state, (unsigned long long) e->stall_p99_us,
	       (unsigned long long) e->stall_max_us);
}

static void print_report(const struct rd_report *r)
{
	time_t t = (time_t) r->time;
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
	printf("ksmvmm report (schema %u) at %s: %zu guests running, %llu ended; "
	       "copy-on-write rates over the last %u s\n\n",
	       r->version, when, r->nguests, (unsigned long long) r->ended_guests, r->cow_window_s);
	view_print_guests(r);
	printf("\nsaved %.1f MiB of %.1f MiB (%.1f%%); pool %.1f MiB in %llu pages\n",
	       rd_mib(r->totals.saved_bytes), rd_mib(rd_unmerged(&r->totals)),
	       rd_pct((double) r->totals.saved_bytes, (double) rd_unmerged(&r->totals)),
	       rd_mib(r->totals.pool_pages * PAGE_SIZE), (unsigned long long) r->totals.pool_pages);
	print_guest_devices(r);
	print_groups(r);
	if (r->matrix.n && r->matrix.n <= MATRIX_MAX_PRINTED)
		print_matrix(&r->matrix, "pool pages shared by each pair of guests (diagonal: "
					 "pool pages the guest maps):");
	else if (r->matrix.n)
		printf("\n(sharing matrix of %zu guests: see --json or --svg)\n", r->matrix.n);
	if (r->group_matrix.n > 1)
		print_matrix(&r->group_matrix,
			     "pages shared by pairs of guests, per pair of groups:");
	print_host(r);
	print_engine(&r->engine);
}

/* Write the picture(s) asked for. */
static int write_pictures(const struct view_args *a, const struct rd_report *r)
{
	struct rd_history h;
	char err[256];
	int ret = rd_fetch_history(a->control, "", &h);

	if (ret)
		return ret;
	if (a->svg && picture_render(r, &h, a->svg, true, err, sizeof(err))) {
		fprintf(stderr, "ksmctl: %s\n", err);
		ret = KSMCTL_FAILED;
	}
	if (!ret && a->png && picture_render(r, &h, a->png, false, err, sizeof(err))) {
		fprintf(stderr, "ksmctl: %s\n", err);
		ret = KSMCTL_FAILED;
	}
	rd_history_free(&h);
	return ret;
}

int view_report(const struct view_args *a)
{
	struct rd_report r;
	char err[PROTO_TEXT_MAX];
	int status, ret;
	char *line = rd_call(a->control, PROTO_CMD_REPORT, "", REPORT_TIMEOUT_MS, &status);

	if (!line)
		return status;
	ret = rd_report_parse(line, &r, err, sizeof(err));
	if (ret)
		return rd_parse_failed(ret, err, line);
	if (a->json)
		fputs(line, stdout);
	else if (!a->svg && !a->png)
		print_report(&r);
	g_free(line);
	status = a->svg || a->png ? write_pictures(a, &r) : KSMCTL_OK;
	rd_report_free(&r);
	return status;
}
