/* stats.c - print a "stats" reply as a per-guest table and an engine summary. */
#include "tools/ksmctl/stats.h"

#include <errno.h>
#include <stdbool.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

#include "lib/page.h"

#define MIB (1024.0 * 1024.0)

static gint64 num(JsonObject *o, const char *key)
{
	JsonNode *n = o ? json_object_get_member(o, key) : NULL;

	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : 0;
}

static const char *str(JsonObject *o, const char *key)
{
	JsonNode *n = o ? json_object_get_member(o, key) : NULL;

	return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
		   ? json_node_get_string(n)
		   : "?";
}

static double pct(gint64 part, gint64 whole)
{
	return whole ? 100.0 * (double) part / (double) whole : 0.0;
}

static void print_guest(JsonObject *g, bool engine)
{
	gint64 total = num(g, "pages_total");

	if (!engine) {
		printf("%-12s %-36s %-8s %-8s %8.1f\n", str(g, "name"), str(g, "uuid"),
		       str(g, "group"), str(g, "state"), (double) total * PAGE_SIZE / MIB);
		return;
	}
	printf("%-12s %-36s %-8s %-8s %8.1f %6.1f%% %6.1f%% %6.1f%% %6.1f%% %6.1f%% %9lld %8.1f\n",
	       str(g, "name"), str(g, "uuid"), str(g, "group"), str(g, "state"),
	       (double) total * PAGE_SIZE / MIB, pct(num(g, "pages_merged"), total),
	       pct(num(g, "pages_zero"), total), pct(num(g, "pages_reported"), total),
	       pct(num(g, "pages_unique"), total), pct(num(g, "pages_volatile"), total),
	       (long long) num(g, "cow_breaks"), (double) num(g, "bytes_saved") / MIB);
}

static void print_engine(JsonObject *e)
{
	JsonNode *sn = json_object_get_member(e, "stall_us");
	JsonObject *st = sn && JSON_NODE_HOLDS_OBJECT(sn) ? json_node_get_object(sn) : NULL;
	JsonNode *cpu = json_object_get_member(e, "cpu_seconds");

	printf("\nengine: %lld passes, %lld pages hashed, %lld merges, %lld zero pages released, "
	       "%lld copy-on-write breaks\n",
	       (long long) num(e, "passes"), (long long) num(e, "pages_hashed"),
	       (long long) num(e, "merges"), (long long) num(e, "zero_released"),
	       (long long) num(e, "cow_breaks"));
	printf("pool: %lld pages (%.1f MiB), %lld freed; saved %.1f MiB in all\n",
	       (long long) num(e, "pool_pages"), (double) num(e, "pool_pages") * PAGE_SIZE / MIB,
	       (long long) num(e, "pool_freed"), (double) num(e, "bytes_saved") / MIB);
	printf("mappings: %lld of %lld (budget %s, %lld merges held back)\n",
	       (long long) num(e, "mappings_used"), (long long) num(e, "mappings_limit"),
	       str(e, "budget_state"), (long long) num(e, "budget_skips"));
	printf("cpu: %.3f s; merge stall: p50 %lld us, p99 %lld us, max %lld us (%lld pauses)\n",
	       cpu && JSON_NODE_HOLDS_VALUE(cpu) ? json_node_get_double(cpu) : 0.0,
	       (long long) num(st, "p50"), (long long) num(st, "p99"), (long long) num(st, "max"),
	       (long long) num(st, "count"));
}

static void print_all(JsonObject *root)
{
	JsonNode *gn = json_object_get_member(root, "guests");
	JsonNode *en = json_object_get_member(root, "engine");
	JsonObject *e = en && JSON_NODE_HOLDS_OBJECT(en) ? json_node_get_object(en) : NULL;
	JsonArray *guests = gn && JSON_NODE_HOLDS_ARRAY(gn) ? json_node_get_array(gn) : NULL;

	printf("merging: %s\n", str(root, "merge"));
	if (e)
		printf("%-12s %-36s %-8s %-8s %8s %7s %7s %7s %7s %7s %9s %8s\n", "NAME", "UUID",
		       "GROUP", "STATE", "MiB", "MERGED", "ZERO", "REPORT.", "UNIQUE", "VOLAT.",
		       "COW", "SAVEDMiB");
	else
		printf("%-12s %-36s %-8s %-8s %8s\n", "NAME", "UUID", "GROUP", "STATE", "MiB");
	for (guint i = 0; guests && i < json_array_get_length(guests); i++) {
		JsonNode *g = json_array_get_element(guests, i);

		if (JSON_NODE_HOLDS_OBJECT(g))
			print_guest(json_node_get_object(g), e != NULL);
	}
	if (e)
		print_engine(e);
}

/* An error reply: print its message. */
static bool is_error(JsonObject *o)
{
	JsonNode *ok = json_object_get_member(o, "ok");

	if (ok && JSON_NODE_HOLDS_VALUE(ok) && json_node_get_value_type(ok) == G_TYPE_BOOLEAN &&
	    json_node_get_boolean(ok))
		return false;
	fprintf(stderr, "ksmctl: %s\n", str(o, "error"));
	return true;
}

int ksmctl_stats_answer(const char *line, bool json)
{
	JsonParser *p = json_parser_new();
	JsonNode *root = NULL;
	int ret = -EINVAL;

	if (json_parser_load_from_data(p, line, -1, NULL))
		root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		fprintf(stderr, "ksmctl: the stats reply is not readable\n");
	} else if (!is_error(json_node_get_object(root))) {
		if (json)
			fputs(line, stdout);
		else
			print_all(json_node_get_object(root));
		ret = 0;
	}
	g_object_unref(p);
	return ret;
}

static int print_probe(JsonObject *o)
{
	if (json_object_has_member(o, "error")) {
		printf("%s PROBE error: %s\n", str(o, "name"), str(o, "error"));
		return -EINVAL;
	}
	printf("%s PROBE samples=%lld p50=%.1fus p99=%.1fus max=%.1fus\n", str(o, "name"),
	       (long long) num(o, "samples"), (double) num(o, "p50_ns") / 1000,
	       (double) num(o, "p99_ns") / 1000, (double) num(o, "max_ns") / 1000);
	return 0;
}

int ksmctl_probe_answer(const char *line, bool json)
{
	JsonParser *p = json_parser_new();
	JsonNode *root = NULL, *probes;
	int ret = -EINVAL;

	if (json_parser_load_from_data(p, line, -1, NULL))
		root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		fprintf(stderr, "ksmctl: the probe reply is not readable\n");
	} else if (!is_error(json_node_get_object(root))) {
		probes = json_object_get_member(json_node_get_object(root), "probes");
		ret = 0;
		if (json)
			fputs(line, stdout);
		for (guint i = 0; !json && probes && JSON_NODE_HOLDS_ARRAY(probes) &&
				  i < json_array_get_length(json_node_get_array(probes));
		     i++) {
			JsonNode *e = json_array_get_element(json_node_get_array(probes), i);

			if (JSON_NODE_HOLDS_OBJECT(e) && print_probe(json_node_get_object(e)))
				ret = -EINVAL;
		}
	}
	g_object_unref(p);
	return ret;
}

int ksmctl_watch_answer(const char *line, bool json)
{
	JsonParser *p = json_parser_new();
	JsonNode *root = NULL;
	JsonObject *o;
	int ret = -EINVAL;

	if (json_parser_load_from_data(p, line, -1, NULL))
		root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
		fprintf(stderr, "ksmctl: the watch reply is not readable\n");
	} else if (!is_error(o = json_node_get_object(root))) {
		if (json)
			fputs(line, stdout);
		else
			printf("%s WATCH %.0fms reads=%lld stalls=%lld stalled=%.2fms p50=%.1fus "
			       "p99=%.1fus max=%.1fus\n",
			       str(o, "name"), (double) num(o, "watched_ns") / 1e6,
			       (long long) num(o, "reads"), (long long) num(o, "stalls"),
			       (double) num(o, "stalled_ns") / 1e6,
			       (double) num(o, "p50_ns") / 1000, (double) num(o, "p99_ns") / 1000,
			       (double) num(o, "max_ns") / 1000);
		ret = 0;
	}
	g_object_unref(p);
	return ret;
}
