/* test_metrics.c - the Prometheus formatter shared by ksmctl and the VMM's /metrics: every
 * family present with HELP and TYPE before its samples, label values escaped so that odd
 * domain names come back intact, domain and uuid on every per-guest series, and the
 * report parser's uuid. No KVM. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "tests/unit/check.h"
#include "vmm/control/metrics.h"
#include "vmm/control/reportdata.h"

#define NGUESTS 3

static const char *const names[NGUESTS] = {"g0", "we\"ird\\name", "two\nlines {x=\"y\"}"};
static const char *const uuids[NGUESTS] = {
    "00000000-0000-4000-8000-000000000001",
    "12345678-9abc-4def-8123-456789abcdef",
    "ffffffff-ffff-4fff-bfff-ffffffffffff",
};

/* Every family the formatter writes for a report with devices and a known host. */
static const char *const families[] = {
    "ksmvmm_up",
    "ksmvmm_guest_memory_bytes",
    "ksmvmm_guest_cost_bytes",
    "ksmvmm_guest_private_pages",
    "ksmvmm_guest_shared_pages",
    "ksmvmm_guest_pool_share_bytes",
    "ksmvmm_guest_pool_share_ratio",
    "ksmvmm_guest_zero_pages",
    "ksmvmm_guest_saved_bytes",
    "ksmvmm_guest_merges_total",
    "ksmvmm_guest_cow_breaks_total",
    "ksmvmm_guest_cow_breaks_per_second",
    "ksmvmm_guest_pages_reported",
    "ksmvmm_guest_balloon_bytes",
    "ksmvmm_guest_devices_broken",
    "ksmvmm_device_reads",
    "ksmvmm_device_bytes",
    "ksmvmm_sharing_pages",
    "ksmvmm_group_cost_bytes",
    "ksmvmm_group_saved_bytes",
    "ksmvmm_group_pool_pages",
    "ksmvmm_fleet_guests",
    "ksmvmm_fleet_cost_bytes",
    "ksmvmm_fleet_saved_bytes",
    "ksmvmm_fleet_ended_cost_bytes",
    "ksmvmm_fleet_cow_breaks_per_second",
    "ksmvmm_host_rss_bytes",
    "ksmvmm_host_pss_bytes",
    "ksmvmm_host_pss_anon_bytes",
    "ksmvmm_host_pss_shmem_bytes",
    "ksmvmm_host_pss_file_bytes",
    "ksmvmm_host_agrees",
    "ksmvmm_engine_passes_total",
    "ksmvmm_engine_pages_hashed_total",
    "ksmvmm_engine_merges_total",
    "ksmvmm_engine_zero_released_total",
    "ksmvmm_engine_cow_breaks_total",
    "ksmvmm_engine_cpu_seconds_total",
    "ksmvmm_engine_pool_pages",
    "ksmvmm_engine_mappings",
    "ksmvmm_engine_mappings_limit",
    "ksmvmm_engine_stall_p99_seconds",
};

/* A report of NGUESTS guests with odd names; guest i has i+1 devices ("blk" with
 * counters reads and bytes). */
static void build_report(struct rd_report *r)
{
	memset(r, 0, sizeof(*r));
	r->nguests = NGUESTS;
	r->guests = calloc(NGUESTS, sizeof(*r->guests));
	r->matrix.n = NGUESTS;
	r->matrix.names = calloc(NGUESTS, sizeof(*r->matrix.names));
	r->matrix.cells = calloc(NGUESTS * NGUESTS, sizeof(*r->matrix.cells));
	for (size_t i = 0; i < NGUESTS; i++) {
		struct rd_figures *g = &r->guests[i];

		g_strlcpy(g->name, names[i], sizeof(g->name));
		g_strlcpy(g->uuid, uuids[i], sizeof(g->uuid));
		g_strlcpy(g->group, "fleet", sizeof(g->group));
		g->cost_bytes = 1000 * (i + 1);
		g->mem_bytes = 1 << 26;
		g->ndevices = i + 1;
		g->devices = calloc(g->ndevices, sizeof(*g->devices));
		for (size_t d = 0; d < g->ndevices; d++) {
			g_strlcpy(g->devices[d].kind, "blk", sizeof(g->devices[d].kind));
			g->devices[d].ncounters = 2;
			g_strlcpy(g->devices[d].counters[0].key, "reads", 24);
			g->devices[d].counters[0].value = 7;
			g_strlcpy(g->devices[d].counters[1].key, "bytes", 24);
			g->devices[d].counters[1].value = 4096;
		}
		g_strlcpy(r->matrix.names[i], names[i], sizeof(r->matrix.names[i]));
		for (size_t c = 0; c < NGUESTS; c++)
			r->matrix.cells[i * NGUESTS + c] = 10 * i + c;
	}
	r->ngroups = 1;
	r->groups = calloc(1, sizeof(*r->groups));
	g_strlcpy(r->groups[0].name, "fleet", sizeof(r->groups[0].name));
	r->host.known = true;
	r->host.pss = 123456789;
	r->engine.merges = 42;
}

/* ---- A strict reader of the text ---- */

struct sample {
	char name[96];
	unsigned nlabels;
	char key[8][24];
	char value[8][128];
	double v;
};

/* Read a quoted, escaped label value at *p into @out; false on any bad syntax. */
static bool read_value(const char **p, char *out, size_t size)
{
	size_t n = 0;

	if (*(*p)++ != '"')
		return false;
	for (; **p != '"'; (*p)++) {
		char c = **p;

		if (!c || c == '\n' || n + 1 >= size)
			return false;
		if (c == '\\') {
			c = *++*p;
			if (c != '\\' && c != '"' && c != 'n')
				return false;
			c = c == 'n' ? '\n' : c;
		}
		out[n++] = c;
	}
	out[n] = '\0';
	(*p)++;
	return true;
}

/* Parse one sample line; false if it is not NAME[{k="v",...}] VALUE. */
static bool read_sample(const char *line, struct sample *s)
{
	const char *p = line;
	size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
	char *end;

	memset(s, 0, sizeof(*s));
	if (!n || n >= sizeof(s->name))
		return false;
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		do {
			p++;
			n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
			if (!n || n >= 24 || s->nlabels == 8 || p[n] != '=')
				return false;
			memcpy(s->key[s->nlabels], p, n);
			p += n + 1;
			if (!read_value(&p, s->value[s->nlabels], 128))
				return false;
			s->nlabels++;
		} while (*p == ',');
		if (*p++ != '}')
			return false;
	}
	if (*p++ != ' ')
		return false;
	s->v = strtod(p, &end);
	return end != p && *end == '\0';
}

static const char *label(const struct sample *s, const char *key)
{
	for (unsigned k = 0; k < s->nlabels; k++)
		if (!strcmp(s->key[k], key))
			return s->value[k];
	return NULL;
}

/* The guest index whose name is @domain and uuid @uuid, or -1. */
static int guest_of(const char *domain, const char *uuid)
{
	for (int i = 0; i < NGUESTS; i++)
		if (domain && uuid && !strcmp(domain, names[i]) && !strcmp(uuid, uuids[i]))
			return i;
	return -1;
}

/* Walk the text: HELP then TYPE then samples per family, each family once; count each
 * family's samples into @count (index of families[]) and check per-guest labels. */
static void check_text(const char *text, unsigned count[])
{
	char **lines = g_strsplit(text, "\n", -1);
	GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	const char *current = "";
	bool typed = false;

	CHECK(g_str_has_suffix(text, "\n"));
	for (char **l = lines; *l && **l; l++) {
		struct sample s;
		int f = -1;

		if (g_str_has_prefix(*l, "# HELP ")) {
			char *name = g_strndup(*l + 7, strcspn(*l + 7, " "));

			CHECK(!g_hash_table_contains(seen, name)); /* each family once */
			g_hash_table_add(seen, name);
			current = *l + 7;
			typed = false;
			continue;
		}
		if (g_str_has_prefix(*l, "# TYPE ")) {
			CHECK(!strncmp(*l + 7, current, strcspn(*l + 7, " ")));
			typed = true;
			continue;
		}
		CHECK(read_sample(*l, &s));
		CHECK(typed && !strncmp(current, s.name, strlen(s.name)) &&
		      current[strlen(s.name)] == ' ');
		for (size_t k = 0; k < G_N_ELEMENTS(families); k++)
			if (!strcmp(families[k], s.name))
				f = (int) k;
		CHECK(f >= 0);
		if (f < 0)
			fprintf(stderr, "unexpected family in: %s\n", *l);
		else
			count[f]++;
		if (g_str_has_prefix(s.name, "ksmvmm_guest_") ||
		    g_str_has_prefix(s.name, "ksmvmm_device_") ||
		    !strcmp(s.name, "ksmvmm_sharing_pages"))
			CHECK(guest_of(label(&s, "domain"), label(&s, "uuid")) >= 0);
		if (!strcmp(s.name, "ksmvmm_sharing_pages")) {
			int a = guest_of(label(&s, "domain"), label(&s, "uuid"));
			int c = guest_of(label(&s, "peer_domain"), label(&s, "peer_uuid"));

			CHECK(c >= 0);
			CHECK(a >= 0 && c >= 0 && s.v == 10.0 * a + c);
		}
		if (!strcmp(s.name, "ksmvmm_guest_cost_bytes")) {
			int a = guest_of(label(&s, "domain"), label(&s, "uuid"));

			CHECK(a >= 0 && s.v == 1000.0 * (a + 1));
			CHECK(label(&s, "group") && !strcmp(label(&s, "group"), "fleet"));
		}
	}
	g_hash_table_destroy(seen);
	g_strfreev(lines);
}

static void test_format(void)
{
	struct rd_report r;
	unsigned count[G_N_ELEMENTS(families)] = {0};
	GString *out = g_string_new(NULL);

	build_report(&r);
	metrics_format(&r, out);
	check_text(out->str, count);
	for (size_t k = 0; k < G_N_ELEMENTS(families); k++) {
		if (!count[k])
			fprintf(stderr, "no samples of %s\n", families[k]);
		CHECK(count[k] > 0);
		if (g_str_has_prefix(families[k], "ksmvmm_guest_"))
			CHECK_EQ(count[k], NGUESTS);
		if (g_str_has_prefix(families[k], "ksmvmm_device_"))
			CHECK_EQ(count[k], 1 + 2 + 3); /* every device of every guest */
	}
	for (size_t k = 0; k < G_N_ELEMENTS(families); k++)
		if (!strcmp(families[k], "ksmvmm_sharing_pages"))
			CHECK_EQ(count[k], NGUESTS * NGUESTS);
	CHECK(g_str_has_prefix(out->str, "# HELP ksmvmm_up "));
	CHECK(strstr(out->str, "\nksmvmm_up 1\n"));
	CHECK(strstr(out->str, "# TYPE ksmvmm_engine_merges_total counter\n"));
	CHECK(strstr(out->str, "\nksmvmm_engine_merges_total 42\n"));
	/* The exact escaping of the odd names. */
	CHECK(strstr(out->str, "{domain=\"we\\\"ird\\\\name\",uuid=\"12345678-"));
	CHECK(strstr(out->str, "{domain=\"two\\nlines {x=\\\"y\\\"}\",uuid=\"ffffffff-"));
	/* Without the host's figures there are no host families. */
	r.host.known = false;
	g_string_truncate(out, 0);
	metrics_format(&r, out);
	CHECK(!strstr(out->str, "ksmvmm_host_"));
	g_string_free(out, TRUE);
	rd_report_free(&r);
}

static void test_label_value(void)
{
	GString *out = g_string_new(NULL);

	metrics_label_value(out, "a\\b\"c\nd\te");
	CHECK(!strcmp(out->str, "\"a\\\\b\\\"c\\nd\te\""));
	g_string_truncate(out, 0);
	metrics_label_value(out, "");
	CHECK(!strcmp(out->str, "\"\""));
	g_string_free(out, TRUE);
}

/* The parser takes each guest's uuid from the report reply; a guest without one (an
 * older VMM) gets "". */
static void test_parse_uuid(void)
{
	static const char line[] =
	    "{\"ok\":true,\"version\":1,\"guests\":[{\"name\":\"a\",\"uuid\":"
	    "\"00000000-0000-4000-8000-00000000000a\",\"group\":\"fleet\",\"cost_bytes\":5},"
	    "{\"name\":\"b\",\"group\":\"fleet\"}],\"ended\":[{\"name\":\"c\",\"uuid\":"
	    "\"00000000-0000-4000-8000-00000000000c\",\"state\":\"dead\",\"reason\":\"x\"}],"
	    "\"totals\":{},\"groups\":[],\"matrix\":{\"guests\":[\"a\",\"b\"],\"pages\":[[1,2],"
	    "[3,4]]},\"group_matrix\":{\"groups\":[],\"pages\":[]}}";
	struct rd_report r;
	char err[128];
	GString *out = g_string_new(NULL);

	CHECK_EQ(rd_report_parse(line, &r, err, sizeof(err)), 0);
	CHECK_EQ(r.nguests, 2);
	CHECK(!strcmp(r.guests[0].uuid, "00000000-0000-4000-8000-00000000000a"));
	CHECK(!strcmp(r.guests[1].uuid, ""));
	CHECK_EQ(r.nended, 1);
	CHECK(!strcmp(r.ended[0].uuid, "00000000-0000-4000-8000-00000000000c"));
	metrics_format(&r, out);
	CHECK(strstr(out->str, "\nksmvmm_guest_cost_bytes{domain=\"a\",uuid=\"00000000-0000-4000-"
			       "8000-00000000000a\",group=\"fleet\"} 5\n"));
	CHECK(strstr(out->str, "\nksmvmm_sharing_pages{domain=\"a\",uuid=\"00000000-0000-4000-"
			       "8000-00000000000a\",peer_domain=\"b\",peer_uuid=\"\"} 2\n"));
	g_string_free(out, TRUE);
	rd_report_free(&r);
}

int main(void)
{
	test_label_value();
	test_format();
	test_parse_uuid();
	return check_done("test_metrics");
}
