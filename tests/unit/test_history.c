/* test_history.c - the history ring (wrap-around, order, rates, reply) and the report's
 * host accounting and tolerance, without KVM. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ksm/ksm.h"
#include "lib/page.h"
#include "tests/unit/check.h"
#include "vmm/control/history.h"
#include "vmm/control/report.h"

/* Add sample @i: guest g saved i*(g+1) bytes and broke (g+1)*i pages, one per second. */
static void add(struct history *h, unsigned i, size_t nguests)
{
	struct ksm_stats s = {
	    .merges = 10ull * i, .cow_breaks = 3ull * i, .pool_pages = i, .cpu_seconds = 0.5 * i};
	struct ksm_vm_stats vms[4];

	memset(vms, 0, sizeof(vms));
	for (size_t g = 0; g < nguests; g++) {
		vms[g].bytes_saved = (uint64_t) i * (g + 1);
		vms[g].cow_breaks = (uint64_t) i * (g + 1);
		vms[g].cost_bytes = 100;
		vms[g].pages_zero = 1;
	}
	history_add(h, 1000.0 + i, (double) i, &s, vms, nguests);
}

static void test_ring(void)
{
	struct history *h = history_create(2, 5);
	struct history_sample smp;
	uint64_t saved[2], cow[2];

	CHECK(history_create(2, 0) == NULL);
	CHECK(history_create(2, HISTORY_CAP + 1) == NULL);
	CHECK_EQ(history_count(h), 0);
	CHECK_EQ(history_get(h, 0, &smp, NULL, NULL), -ERANGE);
	for (unsigned i = 0; i < 8; i++)
		add(h, i, 2);
	CHECK_EQ(history_count(h), 5); /* bounded: the three oldest are gone */
	CHECK_EQ(history_get(h, 0, &smp, saved, cow), 0);
	CHECK_EQ(smp.uptime, 3);
	CHECK_EQ(smp.merges, 30);
	CHECK_EQ(smp.bytes_saved, 3 + 6);
	CHECK_EQ(smp.cost_bytes, 200);
	CHECK_EQ(smp.zero_pages, 2);
	CHECK_EQ(saved[1], 6);
	CHECK_EQ(history_get(h, 4, &smp, saved, cow), 0);
	CHECK_EQ(smp.uptime, 7);
	CHECK_EQ(cow[0], 7);
	CHECK_EQ(history_get(h, 5, &smp, NULL, NULL), -ERANGE);
	history_destroy(h);
}

static void test_rates(void)
{
	struct history *h = history_create(2, 100);
	double rate = -1;

	CHECK_EQ(history_cow_rate(h, SIZE_MAX, 10, &rate), -ENODATA);
	add(h, 0, 2);
	CHECK_EQ(history_cow_rate(h, 0, 10, &rate), -ENODATA);
	for (unsigned i = 1; i < 30; i++)
		add(h, i, 2);
	CHECK_EQ(history_cow_rate(h, SIZE_MAX, 10, &rate), 0);
	CHECK(rate > 2.99 && rate < 3.01); /* 3 breaks a second */
	CHECK_EQ(history_cow_rate(h, 1, 10, &rate), 0);
	CHECK(rate > 1.99 && rate < 2.01);
	CHECK_EQ(history_cow_rate(h, 2, 10, &rate), -ERANGE);
	/* A window shorter than the sample period still uses the last two samples. */
	CHECK_EQ(history_cow_rate(h, 0, 0.1, &rate), 0);
	CHECK(rate > 0.99 && rate < 1.01);
	history_destroy(h);
}

/* The reply is valid JSON with one row per sample, in column order. */
static void test_reply(void)
{
	struct history *h = history_create(2, 10);
	JsonParser *p = json_parser_new();
	JsonObject *o;
	JsonArray *rows;
	char *line;

	for (unsigned i = 0; i < 3; i++)
		add(h, i, 2);
	line = history_reply(h, 1, "g1");
	CHECK(json_parser_load_from_data(p, line, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	CHECK(json_object_get_boolean_member(o, "ok"));
	CHECK_EQ(json_object_get_int_member(o, "version"), 1);
	CHECK_EQ(json_array_get_length(json_object_get_array_member(o, "columns")), 9);
	rows = json_object_get_array_member(o, "samples");
	CHECK_EQ(json_array_get_length(rows), 3);
	CHECK_EQ(json_array_get_int_element(json_array_get_array_element(rows, 2), 4), 20);
	CHECK(!strcmp(json_object_get_string_member(o, "guest"), "g1"));
	rows = json_object_get_array_member(o, "guest_samples");
	CHECK_EQ(json_array_get_int_element(json_array_get_array_element(rows, 2), 0), 4);
	g_free(line);
	line = history_reply(h, SIZE_MAX, "");
	CHECK(!strstr(line, "guest_samples"));
	g_free(line);
	g_object_unref(p);
	history_destroy(h);
}

static void test_host(void)
{
	struct control_report_host host;

	CHECK_EQ(control_report_read_host(&host), 0);
	CHECK(host.pss > 0 && host.rss >= host.pss / 2);
	CHECK(host.pss_anon + host.pss_file + host.pss_shmem <= host.pss + 8 * PAGE_SIZE);
	CHECK_EQ(control_report_tolerance(0), 16u << 20);
	CHECK_EQ(control_report_tolerance(1ull << 30), (16u << 20) + (32u << 20));
	CHECK(control_report_agrees(100, 90, 10));
	CHECK(control_report_agrees(90, 100, 10));
	CHECK(!control_report_agrees(111, 100, 10));
	CHECK(!control_report_agrees(89, 100, 10));
}

int main(void)
{
	test_ring();
	test_rates();
	test_reply();
	test_host();
	return check_done("test_history");
}
